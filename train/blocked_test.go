package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sgdstability/sgdstab/data"
)

// TestSegDot checks segDot and segDotSub, with every kernel set this CPU runs (kernelSets:
// AVX-512, AVX2, the portable loops), at every width from 1 to 120, against a plain loop written
// from its definition, bit for bit; and that a sum cut into segments that continue each other,
// from out = +0, is dotRows' whole sum bit for bit (what blockForward and groupUpdate rely on),
// also with infinite and NaN entries of m.
func TestSegDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, set := range kernelSets {
		withKernels(set.k, func() {
			for trial := 0; trial < 300; trial++ {
				w := 1 + trial%120
				stride := w + rng.IntN(5)
				rows := 1 + rng.IntN(30)
				m := make([]float64, rows*stride)
				for i := range m {
					m[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
				}
				if trial%5 == 0 {
					for range 3 {
						m[rng.IntN(len(m))] = []float64{math.Inf(1), math.Inf(-1), math.NaN()}[rng.IntN(3)]
					}
				}
				n := rng.IntN(60)
				idx, val := make([]int, n), make([]float64, n)
				for q := range idx {
					idx[q], val[q] = rng.IntN(rows), rng.NormFloat64()
				}
				// outputs: nout rows of ostride, random starting values
				nout, ostride := 1+rng.IntN(6), w+rng.IntN(4)
				out0 := make([]float64, nout*ostride)
				for i := range out0 {
					out0[i] = rng.NormFloat64()
				}
				var seg []int
				for range rng.IntN(8) {
					lo := rng.IntN(n + 1)
					seg = append(seg, rng.IntN(nout), lo, lo+rng.IntN(n-lo+1))
				}
				want := append([]float64(nil), out0...)
				for s := 0; s < len(seg); s += 3 {
					for q := seg[s+1]; q < seg[s+2]; q++ {
						for k := 0; k < w; k++ {
							want[seg[s]*ostride+k] = math.FMA(val[q], m[idx[q]*stride+k], want[seg[s]*ostride+k])
						}
					}
				}
				got := append([]float64(nil), out0...)
				segDot(seg, idx, val, m, stride, w, rows-1, got, ostride, nout)
				if !sameBits(got, want) {
					t.Fatalf("%s: segDot width %d, segments %v: %v, want %v", set.name, w, seg, got, want)
				}

				// segDotSub: each segment's sums, then w -= s out and out = 0, row by row
				s := rng.NormFloat64()
				w0 := make([]float64, len(out0))
				for i := range w0 {
					w0[i] = rng.NormFloat64()
				}
				wantOut, wantW := append([]float64(nil), out0...), append([]float64(nil), w0...)
				for t := 0; t < len(seg); t += 3 {
					for k := 0; k < w; k++ {
						o := wantOut[seg[t]*ostride+k]
						for q := seg[t+1]; q < seg[t+2]; q++ {
							o = math.FMA(val[q], m[idx[q]*stride+k], o)
						}
						wantW[seg[t]*ostride+k] = math.FMA(-s, o, wantW[seg[t]*ostride+k])
						wantOut[seg[t]*ostride+k] = 0
					}
				}
				gotOut, gotW := append([]float64(nil), out0...), append([]float64(nil), w0...)
				segDotSub(seg, idx, val, m, stride, w, rows-1, gotOut, ostride, nout, gotW, s)
				if !sameBits(gotOut, wantOut) || !sameBits(gotW, wantW) {
					t.Fatalf("%s: segDotSub width %d, segments %v: w %v, want %v", set.name, w, seg, gotW, wantW)
				}

				// the whole sum, cut at random points into segments of one output row
				var cuts []int
				for lo := 0; lo < n; {
					hi := lo + 1 + rng.IntN(n-lo)
					cuts = append(cuts, 0, lo, hi)
					lo = hi
				}
				whole := make([]float64, w)
				dotRows(idx, val, m, stride, 0, rows-1, whole)
				pieces := make([]float64, w)
				segDot(cuts, idx, val, m, stride, w, rows-1, pieces, w, 1)
				if !sameBits(pieces, whole) {
					t.Fatalf("%s: segments %v of %d entries: %v, dotRows %v", set.name, cuts, n, pieces, whole)
				}
			}
		})
	}
}

// TestBlockedSteps runs the fused engine with blockForward and groupUpdate (default block sizes
// and small odd ones, so that many blocks and groups meet) beside one with the per-sample kernels
// (blockedOff), step by step on the same batches (8 and 24 random samples, and all n; h = 20
// and 60),
// with every kernel set this CPU runs (kernelSets), and requires the same losses and
// parameters, bit for bit, after every step. The step sizes are
// chosen so that runs also diverge: weights become infinite and then NaN, where the bits of NaN
// (sign and payload) must agree as well.
func TestBlockedSteps(t *testing.T) {
	ds, sp, c := loadSparseMNIST(t)
	for _, set := range kernelSets {
		withKernels(set.k, func() { blockedSteps(t, set.name, ds, sp, c) })
	}
}

func blockedSteps(t *testing.T, kernels string, ds *data.Dataset, sp *sparseX, c float64) {
	for _, h := range []int{20, 60} {
		blockedStepsAt(t, kernels, ds, sp, c, h)
	}
}

func blockedStepsAt(t *testing.T, kernels string, ds *data.Dataset, sp *sparseX, c float64, h int) {
	for _, sizes := range [][2]int{{0, 0}, {37, 11}} {
		for _, batch := range []int{8, 24, ds.N} {
			for _, lr := range []float64{0.01, 40} {
				name := fmt.Sprintf("%s/h=%d/blocks=%v/B=%d/lr=%g", kernels, h, sizes, batch, lr)
				p := InitParams(ds.D, h, ds.K, 1, 5)
				if lr > 1 {
					// start far out, so that the weights overflow within the steps below
					for i := range p.W1 {
						p.W1[i] *= 1e60
					}
					for i := range p.W2 {
						p.W2[i] *= 1e60
					}
				}
				blockedOff = true
				ref := newFused(ds, sp, p, c, batch)
				blockedOff = false
				e := newFused(ds, sp, p, c, batch)
				if !e.blocked || (batch == ds.N) != (e.groups != nil) {
					t.Fatalf("%s: the blocked paths are not in use", name)
				}
				if sizes[0] > 0 {
					e.blocks = newPixelBlocks(sp, sizes[0])
					if e.groups != nil {
						e.groups = newSampleGroups(sp, sizes[1])
					}
				}
				rng := rand.New(rand.NewPCG(uint64(batch), 1))
				nonFinite, nan := false, false
				for step := 0; step < 20; step++ {
					rows := rng.Perm(ds.N)[:batch]
					if batch == ds.N {
						for i := range rows {
							rows[i] = i
						}
					}
					lw, lg := ref.step(rows, lr), e.step(rows, lr)
					fw, fg := ref.fullLoss(), e.fullLoss()
					if math.Float64bits(lw) != math.Float64bits(lg) || math.Float64bits(fw) != math.Float64bits(fg) {
						t.Fatalf("%s, step %d: losses %v, %v; per-sample kernels %v, %v", name, step, lg, fg, lw, fw)
					}
					pw, pg := ref.params().Flat(), e.params().Flat()
					if !sameBits(pg, pw) {
						t.Fatalf("%s, step %d: parameters differ", name, step)
					}
					for _, v := range pg {
						nonFinite = nonFinite || math.IsInf(v, 0)
						nan = nan || math.IsNaN(v)
					}
				}
				if lr > 1 && !(nonFinite && nan) {
					t.Errorf("%s: the run has no infinite and NaN weights (%v, %v), so the non-finite case is not tested", name, nonFinite, nan)
				}
			}
		}
	}
}
