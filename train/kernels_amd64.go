package train

import "golang.org/x/sys/cpu"

// init installs the widest kernel set the CPU runs. Every set gives the same bits (kernels.go),
// so the choice changes the speed only. The AVX-512 set needs AVX-512F (and the OS's support of
// its registers, which cpu checks) besides the AVX2 set's AVX2, FMA (every multiply-add),
// BMI1 (maskRows' TZCNT, BLSR) and POPCNT (the packed values of the batch bookkeeping). On the
// project's Zen 4 machine it trained 1.02-1.26x as fast as the AVX2 set at h = 100 and
// 0.92-1.17x at h = 20 (BenchmarkKernelSets, per-round ratios over three rounds, medians of one
// earlier run at h = 20; README, "Speed"; measured before the kernels fused their multiply-adds).
func init() {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasBMI1 || !cpu.X86.HasPOPCNT {
		return
	}
	kern = avx2Kernels
	kernelSets = append([]namedKernels{{"avx2", avx2Kernels}}, kernelSets...)
	if cpu.X86.HasAVX512F {
		kern = avx512Kernels
		kernelSets = append([]namedKernels{{"avx512", avx512Kernels}}, kernelSets...)
	}
}
