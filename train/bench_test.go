package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/data"
)

// BenchmarkTrain measures training throughput on the 512-image MNIST subset at h = 20 and h = 100
// (the gorgonia engine at h = 20 only). Each iteration trains `workers` identical runs in
// parallel through TrainMany for a fixed number of epochs (no convergence stop), including the
// full-batch loss after every epoch. Metrics: run-steps/s and samples/s summed over the runs.
// scripts/bench-compare.sh puts the fused engine's numbers beside PyTorch's.
//
//	go test -tags openblas -run '^$' -bench Train ./train/
func BenchmarkTrain(b *testing.B) {
	ds := loadMNIST(b)
	for _, eng := range []string{EngineFused, EngineGorgonia} {
		for _, hidden := range []int{20, 100} {
			if eng == EngineGorgonia && hidden != 20 {
				continue
			}
			for _, batch := range []int{1, 8, 64, 512} {
				for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
					name := fmt.Sprintf("engine=%s/h=%d/B=%d/workers=%d", eng, hidden, batch, workers)
					b.Run(name, func(b *testing.B) {
						benchTrain(b, ds, eng, hidden, batch, workers)
					})
				}
			}
		}
	}
}

// BenchmarkKernelSets is BenchmarkTrain's fused engine (1 worker) with each kernel set this CPU
// runs (kernelSets: AVX-512, AVX2, the portable loops), side by side in one run, so that the sets
// compare on the same machine at the same load. All sets give the same bits (TestRowKernels).
//
//	go test -run '^$' -bench KernelSets ./train/
func BenchmarkKernelSets(b *testing.B) {
	ds := loadMNIST(b)
	for _, hidden := range []int{20, 100} {
		for _, batch := range []int{1, 8, 64, 512} {
			for _, set := range kernelSets {
				b.Run(fmt.Sprintf("h=%d/B=%d/kernels=%s", hidden, batch, set.name), func(b *testing.B) {
					withKernels(set.k, func() { benchTrain(b, ds, EngineFused, hidden, batch, 1) })
				})
			}
		}
	}
}

func benchTrain(b *testing.B, ds *data.Dataset, eng string, hidden, batch, workers int) {
	// about 0.2-0.5 s of work per run for the fused engine at every h and batch size
	epochs := map[int]int{1: 100, 8: 200, 64: 300, 512: 300}[batch] * 20 / hidden
	if eng == EngineGorgonia {
		epochs = map[int]int{1: 4, 8: 20, 64: 30, 512: 30}[batch]
	}
	cfg := Config{Model: Model{Hidden: hidden}, LR: 0.01, Batch: batch, Procedure: Procedure{MaxEpochs: epochs, ConvEpochs: 1 << 30, Engine: eng}}
	cfgs := make([]Config, workers)
	for i := range cfgs {
		cfgs[i] = cfg
		cfgs[i].Seed = uint64(i)
	}
	var steps, samples float64
	var elapsed time.Duration
	var cpu float64
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		start, cpu0 := time.Now(), cpuSeconds()
		res, err := TrainMany(context.Background(), ds, cfgs, workers, nil)
		elapsed += time.Since(start)
		cpu += cpuSeconds() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			steps += float64(r.Steps)
			samples += float64(r.Steps * batch)
		}
	}
	b.ReportMetric(steps/elapsed.Seconds(), "run-steps/s")
	b.ReportMetric(samples/elapsed.Seconds(), "samples/s")
	// Per CPU-second: what one core gives when it is not shared (the machine is shared by other
	// processes, so the wall-clock numbers depend on the load; see uptime).
	b.ReportMetric(steps/cpu, "run-steps/cpu-s")
	b.ReportMetric(samples/cpu, "samples/cpu-s")
}

// BenchmarkFullBatchStep times one full-batch SGD step (B = n = 512, h = 20) of the fused engine
// with the sparse loops and with blas64.Gemm (OpenBLAS under the tag `openblas`).
func BenchmarkFullBatchStep(b *testing.B) {
	ds := loadMNIST(b)
	for _, kernel := range []string{"sparse", "gemm"} {
		b.Run(kernel, func(b *testing.B) {
			if kernel == "gemm" {
				gemmMinOverride = 1
				defer func() { gemmMinOverride = 0 }()
			}
			c, _ := LossScale(LossSum, ds.K)
			e := newFused(ds, newSparseX(ds), InitParams(ds.D, 20, ds.K, 1, 0), c, ds.N)
			batch := make([]int, ds.N)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			cpu0 := threadCPUSeconds()
			for it := 0; it < b.N; it++ {
				e.step(batch, 1e-3)
			}
			b.ReportMetric(float64(b.N*ds.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(b.N*ds.N)/(threadCPUSeconds()-cpu0), "samples/cpu-s")
		})
	}
}

// BenchmarkForwardFootprint times the forward product Z = X W1^T over all 512 samples at h = 100
// (dotRows, sample by sample) with the pixel indices folded into the first `rows` rows of W1^T
// (p mod rows; rows = 784 is the real product): the same arithmetic on working sets from the L1
// cache (32 kB) through the L2 cache (512 kB) to all of W1^T (627 kB). On this project's Zen 3
// machine (load 1.7) 25 kB ran 2.0x faster than the full matrix, 128 kB 1.23x, 384 kB (about a
// slice of 52 hidden units) 1.06x: the loop is bound by moving the rows from the L2 cache into
// L1 (about 32 bytes a cycle), not by misses of L2, so tiling the hidden units to keep a slice of
// W1^T in L2 gains little, and less than the narrower kernels cost (sparseForward). Blocks of
// pixels whose rows all samples of a batch use from L1 do gain (blockForward,
// BenchmarkBlockForward).
func BenchmarkForwardFootprint(b *testing.B) {
	ds := loadMNIST(b)
	sp := newSparseX(ds)
	const h = 100
	c, _ := LossScale(LossSum, ds.K)
	e := newFused(ds, sp, InitParams(ds.D, h, ds.K, 1, 0), c, ds.N)
	for _, rows := range []int{32, 64, 160, 320, 480, ds.D} {
		idx := make([]int, len(sp.idx))
		for q, p := range sp.idx {
			idx[q] = p % rows
		}
		b.Run(fmt.Sprintf("rows=%d/kB=%d", rows, rows*h*8/1000), func(b *testing.B) {
			for it := 0; it < b.N; it++ {
				for i := 0; i < e.n; i++ {
					lo, hi := sp.ptr[i], sp.ptr[i+1]
					dotRows(idx[lo:hi], sp.val[lo:hi], e.w1t, e.stride, 0, e.d-1, e.zfull[i*e.stride:i*e.stride+h])
				}
			}
			b.ReportMetric(float64(b.N*ds.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkBlockForward times the forward product Z = X_B W1^T of a batch of B random samples
// sample by sample (dotRows, the rows of W1^T from the L2 cache for every sample) against
// blockForward (pixel blocks of P pixels, each block's rows of W1^T reused from L1 by all samples
// of the batch; P = 0: the block size in use, blockPixels). Both give the same bits (checked).
func BenchmarkBlockForward(b *testing.B) {
	ds, sp, c := loadSparseMNIST(b)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, h := range []int{20, 100} {
		e := newFused(ds, sp, InitParams(ds.D, h, ds.K, 1, 0), c, ds.N)
		for _, m := range []int{8, 64, 512} {
			rows := rng.Perm(ds.N)[:m]
			want := make([]float64, m*e.stride)
			for bi, i := range rows {
				e.preact(i, want[bi*e.stride:])
			}
			for _, size := range []int{-1, 0, 64, 128, 256, 392} {
				name := fmt.Sprintf("h=%d/B=%d/samples", h, m)
				if size >= 0 {
					name = fmt.Sprintf("h=%d/B=%d/blocks/P=%d", h, m, size)
				}
				b.Run(name, func(b *testing.B) {
					if size >= 0 {
						saved := e.blocks
						e.blocks = newPixelBlocks(sp, sizeOr(size, blockPixels(h)))
						defer func() { e.blocks = saved }()
					}
					z := make([]float64, m*e.stride)
					b.ResetTimer()
					for it := 0; it < b.N; it++ {
						if size < 0 {
							for bi, i := range rows {
								e.preact(i, z[bi*e.stride:])
							}
						} else {
							e.blockForward(rows, m, z, false)
						}
					}
					b.ReportMetric(float64(b.N*m)/b.Elapsed().Seconds(), "samples/s")
					if !sameBits(z, want) {
						b.Fatal("blockForward differs from dotRows")
					}
				})
			}
		}
	}
}

// BenchmarkGroupUpdate times the full-batch weight update W1 -= s X^T dZ (B = n = 512) pixel by
// pixel over all samples (columnUpdate, the rows of dZ from the L2 cache for every pixel) against
// groupUpdate (groups of G samples whose rows of dZ stay in L1; G = 0: the size in use,
// blockPixels). The step size is 0, so that the weights stay the same from one iteration to the
// next.
func BenchmarkGroupUpdate(b *testing.B) {
	ds, sp, c := loadSparseMNIST(b)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, h := range []int{20, 100} {
		e := newFused(ds, sp, InitParams(ds.D, h, ds.K, 1, 0), c, ds.N)
		for i := range e.dz {
			e.dz[i] = rng.NormFloat64()
		}
		for _, size := range []int{-1, 0, 32, 64, 128, 256} {
			name := fmt.Sprintf("h=%d/columns", h)
			if size >= 0 {
				name = fmt.Sprintf("h=%d/groups/G=%d", h, size)
			}
			b.Run(name, func(b *testing.B) {
				if size >= 0 {
					saved := e.groups
					e.groups = newSampleGroups(sp, sizeOr(size, blockPixels(h)))
					defer func() { e.groups = saved }()
				}
				b.ResetTimer()
				for it := 0; it < b.N; it++ {
					if size < 0 {
						e.columnUpdate(sp.active, sp.cptr, sp.rows, sp.cval, ds.N, 0)
					} else {
						e.groupUpdate(0)
					}
				}
				b.ReportMetric(float64(b.N*ds.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}

// sizeOr is size, or def when size is 0.
func sizeOr(size, def int) int {
	if size == 0 {
		return def
	}
	return size
}
