package train

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 {
		kern = avx2Kernels
	}
}
