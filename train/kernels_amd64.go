package train

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasBMI1 {
		kern = avx2Kernels
	}
}
