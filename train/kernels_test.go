package train

import (
	"context"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// withKernels runs f with the given kernel set installed (the zero set: the portable loops).
func withKernels(k rowKernels, f func()) {
	saved := kern
	kern = k
	defer func() { kern = saved }()
	f()
}

func sameBits(a, b []float64) bool {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// TestRowKernels checks every row kernel, at every width from 1 to 120 (all table entries, the
// splitting into several calls and the portable tails), against a plain loop written from the
// definition in kernels.go (which also fixes the order of the sums), bit for bit, with the
// every kernel set this CPU runs (kernelSets: AVX-512, AVX2, the portable loops).
func TestRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, set := range kernelSets {
		withKernels(set.k, func() {
			for trial := 0; trial < 400; trial++ {
				w := 1 + trial%120
				stride := w + rng.IntN(9)
				off := rng.IntN(stride - w + 1)
				rows := 1 + rng.IntN(30)
				m := make([]float64, rows*stride)
				for i := range m {
					m[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
				}
				n := rng.IntN(50)
				if trial%7 == 0 {
					n = 0
				}
				idx, val := make([]int, n), make([]float64, n)
				for q := range idx {
					idx[q], val[q] = rng.IntN(rows), rng.NormFloat64()
				}
				d := make([]float64, w)
				for k := range d {
					d[k] = rng.NormFloat64()
				}
				s := rng.NormFloat64()

				// dotRows and dotRowsSub
				want := make([]float64, w)
				for k := range want {
					for q, p := range idx {
						want[k] = math.FMA(val[q], m[p*stride+off+k], want[k])
					}
				}
				got := make([]float64, w)
				for k := range got {
					got[k] = math.NaN() // must be overwritten
				}
				dotRows(idx, val, m, stride, off, rows-1, got)
				if !sameBits(got, want) {
					t.Fatalf("%s: dotRows width %d, %d entries: %v, want %v", set.name, w, n, got, want)
				}
				wv := append([]float64(nil), d...)
				wantSub := make([]float64, w)
				for k := range wantSub {
					wantSub[k] = math.FMA(-s, want[k], d[k])
				}
				dotRowsSub(idx, val, m, stride, off, rows-1, wv, s)
				if !sameBits(wv, wantSub) {
					t.Fatalf("%s: dotRowsSub width %d: %v, want %v", set.name, w, wv, wantSub)
				}

				// subOuter and addOuter
				for _, sub := range []bool{true, false} {
					mm := append([]float64(nil), m...)
					ref := append([]float64(nil), m...)
					for q, p := range idx {
						for k := 0; k < w; k++ {
							if sub {
								ref[p*stride+off+k] = math.FMA(val[q], -s*d[k], ref[p*stride+off+k])
							} else {
								ref[p*stride+off+k] = math.FMA(val[q], d[k], ref[p*stride+off+k])
							}
						}
					}
					if sub {
						subOuter(idx, val, mm, stride, off, rows-1, d, s)
					} else {
						addOuter(idx, val, mm, stride, off, rows-1, d)
					}
					if !sameBits(mm, ref) {
						t.Fatalf("%s: subOuter=%v width %d, %d entries: differs from the plain loop", set.name, sub, w, n)
					}
				}

				// maskRows: rows of m stand for the pixels, a batch of bs <= 64 positions with
				// rows of w columns in dz, both with the stride `stride` (the padding columns
				// of wm must stay untouched)
				bs := 1 + rng.IntN(64)
				dz := make([]float64, bs*stride)
				for i := range dz {
					dz[i] = rng.NormFloat64()
				}
				masks, vals := make([]uint64, rows), make([]float64, rows*bs)
				for p := range masks {
					if rng.IntN(4) > 0 {
						masks[p] = rng.Uint64() & (uint64(1)<<bs - 1)
						if bs == 64 {
							masks[p] = rng.Uint64()
						}
					}
					for j := 0; j < bs; j++ { // the j-th set bit's value (the rest unread)
						vals[p*bs+j] = rng.NormFloat64()
					}
				}
				mpix := rng.Perm(rows)[:rng.IntN(rows+1)]
				wm := make([]float64, rows*stride)
				for i := range wm {
					wm[i] = rng.NormFloat64()
				}
				refm := append([]float64(nil), wm...)
				for _, p := range mpix {
					for k := 0; k < w; k++ {
						g, j := 0.0, 0
						for b := 0; b < bs; b++ {
							if masks[p]>>b&1 == 1 {
								g = math.FMA(vals[p*bs+j], dz[b*stride+k], g)
								j++
							}
						}
						refm[p*stride+k] = math.FMA(-s, g, refm[p*stride+k])
					}
				}
				maskRows(mpix, masks, vals, bs, dz, stride, w, wm, s)
				if !sameBits(wm, refm) {
					t.Fatalf("%s: maskRows width %d, batch %d, %d rows: differs from the plain loop", set.name, w, bs, len(mpix))
				}

				// applyRows on distinct rows
				pix := rng.Perm(rows)[:rng.IntN(rows+1)]
				g := make([]float64, len(m))
				for i := range g {
					g[i] = rng.NormFloat64()
				}
				mm, gg := append([]float64(nil), m...), append([]float64(nil), g...)
				ref, refg := append([]float64(nil), m...), append([]float64(nil), g...)
				for _, p := range pix {
					for k := 0; k < w; k++ {
						ref[p*stride+k] = math.FMA(-s, g[p*stride+k], ref[p*stride+k])
						refg[p*stride+k] = 0
					}
				}
				applyRows(pix, gg, mm, stride, w, s)
				if !sameBits(mm, ref) || !sameBits(gg, refg) {
					t.Fatalf("%s: applyRows width %d, %d rows: differs from the plain loop", set.name, w, len(pix))
				}
			}
		})
	}
}

// TestDotRowsMark checks the forward pass with the batch bookkeeping (dotRowsMark at every
// width, and the portable markEntries) against a plain loop: the products bit for bit as
// dotRows's definition, and the touched pixels in order of first touch, the masks of batch
// positions and the values beside them as maskUpdate defines them, over batches of up to 64
// positions (each sample's pixels distinct and increasing, as in sparseX).
func TestDotRowsMark(t *testing.T) {
	for _, set := range kernelSets {
		withKernels(set.k, func() { dotRowsMarkTrials(t, set.name) })
	}
}

func dotRowsMarkTrials(t *testing.T, set string) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		c := 1 + trial%maxKernelBlocks
		w := 4 * c
		stride := w + rng.IntN(9)
		off := rng.IntN(stride - w + 1)
		rows := 1 + rng.IntN(40)
		bs := 1 + rng.IntN(64)
		m := make([]float64, rows*stride)
		for i := range m {
			m[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
		}
		newEngine := func() *fused {
			return &fused{bpix: make([]int, rows+1), bseen: make([]uint8, rows), bmask: make([]uint64, rows),
				bvals: make([]float64, rows*bs), bstride: bs}
		}
		ek, eg := newEngine(), newEngine()
		var order []int
		masks, vals := make([]uint64, rows), make([]float64, rows*bs)
		npk, npg := 0, 0
		for b := 0; b < bs; b++ {
			idx := rng.Perm(rows)[:rng.IntN(min(rows, 25)+1)]
			slices.Sort(idx)
			n := len(idx)
			val := make([]float64, n)
			for q := range idx {
				val[q] = rng.NormFloat64()
				if masks[idx[q]] == 0 && !slices.Contains(order, idx[q]) {
					order = append(order, idx[q])
				}
				vals[idx[q]*bs+bits.OnesCount64(masks[idx[q]])] = val[q] // packed, in batch order
				masks[idx[q]] |= 1 << b
			}
			want := make([]float64, w)
			for k := range want {
				for q, p := range idx {
					want[k] = math.FMA(val[q], m[p*stride+off+k], want[k])
				}
			}
			got := make([]float64, w)
			if kern.mark[c] != nil {
				npk = kern.mark[c](idx, val, m, stride, off, &got[0], &ek.bmask[0], &ek.bvals[0], bs, 1<<b, &ek.bpix[0], npk)
				if !sameBits(got, want) {
					t.Fatalf("%s: dotRowsMark%d, %d entries: %v, want %v", set, w, n, got, want)
				}
			} else {
				npk = ek.markEntries(b, idx, val, npk)
			}
			npg = eg.markEntries(b, idx, val, npg)
		}
		for name, e := range map[string]*fused{"kernel": ek, "markEntries": eg} {
			np := map[string]int{"kernel": npk, "markEntries": npg}[name]
			if !slices.Equal(e.bpix[:np], order) || !slices.Equal(e.bmask, masks) || !sameBits(e.bvals, vals) {
				t.Fatalf("%s: %s (width %d, batch %d): pixels %v, want %v; masks or values differ", set, name, w, bs, e.bpix[:np], order)
			}
		}
	}
}

// TestHiddenDeltas4 checks fused.hiddenDeltas4 with the kernel set in use (AVX2: four hidden
// units per instruction, then the portable tail) against the portable loop, bit for bit, at
// every h from 1 to 40, with pre-activations that are positive, negative, +0, -0 and NaN and
// gradient accumulators that start from sums (never -0, as in training).
func TestHiddenDeltas4(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), -1e-300, 1e-300}
	for trial := 0; trial < 400; trial++ {
		h := 1 + trial%40
		e := &fused{h: h, k: 4, w2: make([]float64, 4*h), gw2: make([]float64, 4*h), gb1: make([]float64, h), df: make([]float64, 4)}
		u, a := make([]float64, h), make([]float64, h)
		for j := range u {
			u[j] = rng.NormFloat64()
			if rng.IntN(4) == 0 {
				u[j] = special[rng.IntN(len(special))]
			}
			a[j] = max(u[j], 0)
			if rng.IntN(2) == 0 {
				e.gb1[j] = rng.NormFloat64()
			}
		}
		for i := range e.w2 {
			e.w2[i], e.gw2[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		for o := range e.df {
			e.df[o] = rng.NormFloat64()
		}
		if trial%9 == 0 {
			e.df[rng.IntN(4)] = 0
		}
		ref := &fused{h: h, k: 4, w2: e.w2, gw2: append([]float64(nil), e.gw2...), gb1: append([]float64(nil), e.gb1...), df: e.df}
		dz, dzRef := make([]float64, h), make([]float64, h)
		for j := range dz {
			dz[j], dzRef[j] = math.NaN(), math.NaN() // must be overwritten
		}
		e.hiddenDeltas4(u, a, dz)
		withKernels(rowKernels{}, func() { ref.hiddenDeltas4(u, a, dzRef) })
		if !sameBits(dz, dzRef) || !sameBits(e.gw2, ref.gw2) || !sameBits(e.gb1, ref.gb1) {
			t.Fatalf("h = %d: dz %v, want %v (or the gradients of W2, b1 differ)", h, dz, dzRef)
		}
	}
}

// TestBiasRelu checks sampleLoss's hidden layer, u = z + b1 and a = max(u, 0), with the kernel
// set in use (four hidden units per instruction, then the portable tail) against the portable
// loop, bit for bit, at every h from 1 to 40, with sums that are positive, negative, +0, -0,
// infinite, subnormal and NaN of either sign and several payloads (Go's max clears a NaN's sign).
func TestBiasRelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 5e-324, -5e-324,
		math.NaN(), -math.NaN(), math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff4000000000abc)}
	if kern.relu4 == nil {
		t.Skip("no kernel for the hidden layer on this CPU (the portable loop only)")
	}
	for trial := 0; trial < 400; trial++ {
		h := 1 + trial%40
		z, b1 := make([]float64, h), make([]float64, h)
		for j := range z {
			z[j], b1[j] = rng.NormFloat64(), rng.NormFloat64()
			switch rng.IntN(6) {
			case 0:
				z[j] = special[rng.IntN(len(special))]
			case 1:
				z[j], b1[j] = 1.5, -1.5 // +0
			case 2:
				z[j], b1[j] = math.Copysign(0, -1), math.Copysign(0, -1) // -0
			}
		}
		e := &fused{h: h, b1: b1, u: make([]float64, h), a: make([]float64, h)}
		e.hidden(z, e.u, e.a)
		wantU, wantA := make([]float64, h), make([]float64, h)
		for j := range z {
			wantU[j] = z[j] + b1[j]
			wantA[j] = max(wantU[j], 0)
		}
		if !sameBits(e.u, wantU) || !sameBits(e.a, wantA) {
			t.Fatalf("h = %d: u %v a %v, want %v %v", h, e.u, e.a, wantU, wantA)
		}
	}
	// the portable max clears a NaN's sign, which the kernel must match
	if a := max(-math.NaN(), 0); math.Signbit(a) {
		t.Errorf("max(-NaN, 0) kept its sign: the kernel's rule needs a look")
	}
}

// TestOutputs4x4 checks the four-sample output kernel against outputs4 sample by sample, bit for
// bit, at h = 1..40 (activations with zeros of both signs, tiny and huge values, so that a
// different order or a fused multiply-add changes some bits), and batchLoss against sampleLoss
// in turn on MNIST (losses, hidden deltas and the accumulated gradients), at m = 1..9 and 64
// (groups of four and the tail), with and without the backward pass.
func TestOutputs4x4(t *testing.T) {
	if kern.out4x4 == nil {
		t.Skip("no output kernel on this CPU (the portable loop only)")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	scaled := func() float64 {
		switch rng.IntN(8) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-6))
	}
	for trial := 0; trial < 400; trial++ {
		h := 1 + trial%40
		ld := rowStride(h)
		e := &fused{h: h, k: 4, w2: make([]float64, 4*h), w2t: make([]float64, 4*h)}
		a := make([]float64, 4*ld)
		for j := 0; j < h; j++ {
			for o := 0; o < 4; o++ {
				e.w2[o*h+j] = scaled()
				e.w2t[4*j+o] = e.w2[o*h+j]
			}
			for s := 0; s < 4; s++ {
				a[s*ld+j] = scaled()
			}
		}
		got := make([]float64, 16)
		kern.out4x4(&a[0], &e.w2t[0], &got[0], ld, h)
		for s := 0; s < 4; s++ {
			want := make([]float64, 4)
			e.outputs4(a[s*ld:s*ld+h], want)
			if !sameBits(got[4*s:4*s+4], want) {
				t.Fatalf("h = %d, sample %d: %v, want %v", h, s, got[4*s:4*s+4], want)
			}
		}
	}

	ds, sp, c := loadSparseMNIST(t)
	for _, h := range []int{20, 37} {
		p := InitParams(ds.D, h, ds.K, 1, 5)
		for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 64} {
			rows := rng.Perm(ds.N)[:m]
			for _, backward := range []bool{false, true} {
				batch, single := newFused(ds, sp, p, c, m), newFused(ds, sp, p, c, m)
				batch.preactBatch(rows, batch.z)
				copy(single.z, batch.z)
				var dzB, dzS []float64
				if backward {
					dzB, dzS = batch.dz, single.dz
				}
				got := batch.batchLoss(rows, m, batch.z, dzB)
				want := 0.0
				for b, i := range rows {
					var d []float64
					if backward {
						d = dzS[b*single.stride:]
					}
					want += single.sampleLoss(i, single.z[b*single.stride:], d)
				}
				if math.Float64bits(got) != math.Float64bits(want) || !sameBits(batch.dz, single.dz) ||
					!sameBits(batch.gw2, single.gw2) || !sameBits(batch.gb1, single.gb1) || !sameBits(batch.gb2, single.gb2) {
					t.Fatalf("h = %d, m = %d, backward %v: batchLoss %v differs from sampleLoss in turn (%v) or in its gradients", h, m, backward, got, want)
				}
			}
		}
	}
}

// TestRowKernelsBounds: rows outside m are refused before any access.
func TestRowKernelsBounds(t *testing.T) {
	m := make([]float64, 30)
	for name, f := range map[string]func(){
		"dotRows":     func() { dotRows([]int{3}, []float64{1}, m, 10, 0, 3, make([]float64, 10)) },
		"dotRowsSub":  func() { dotRowsSub([]int{0}, []float64{1}, m, 10, 1, 2, make([]float64, 10), 1) },
		"subOuter":    func() { subOuter([]int{0}, []float64{}, m, 10, 0, 2, make([]float64, 4), 1) },
		"addOuter":    func() { addOuter([]int{2}, []float64{1}, m, 10, 0, 2, make([]float64, 11)) },
		"applyRows":   func() { applyRows([]int{3}, m, m, 10, 4, 1) },
		"maskRows":    func() { maskRows([]int{2}, make([]uint64, 3), make([]float64, 6), 2, m, 10, 10, m[:20], 1) },
		"maskRows h":  func() { maskRows([]int{0}, make([]uint64, 3), make([]float64, 6), 2, m, 10, 11, m, 1) },
		"segDot row":  func() { segDot([]int{2, 0, 1}, []int{0}, []float64{1}, m, 10, 10, 0, m[:20], 10, 2) },
		"segDot q":    func() { segDot([]int{0, 0, 2}, []int{0}, []float64{1}, m, 10, 10, 0, m[:20], 10, 2) },
		"segDot idx":  func() { segDot([]int{0, 0, 1}, []int{3}, []float64{1}, m, 10, 10, 3, m[:20], 10, 2) },
		"segDotSub w": func() { segDotSub([]int{0, 0, 1}, []int{0}, []float64{1}, m, 10, 10, 0, m[:20], 10, 2, m[:19], 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: out-of-range rows accepted", name)
				}
			}()
			f()
		}()
	}
}

// TestPortableTrajectory: the training trajectories with every other kernel set this CPU runs
// (the AVX2 kernels where AVX-512 is in use, the portable loops) are the recorded ones too, bit
// for bit.
func TestPortableTrajectory(t *testing.T) {
	if len(kernelSets) == 1 {
		t.Skip("the portable loops are in use already (TestTrajectoryGolden)")
	}
	for _, set := range kernelSets[1:] {
		t.Run(set.name, func(t *testing.T) { withKernels(set.k, func() { TestTrajectoryGolden(t) }) })
	}
}

// TestFullBatchLossReusesForward: with B = n the per-epoch loss and the next step share one
// forward pass (one pass over the data per epoch, not two), and the run is the same, bit for
// bit, as one that computes the loss by a separate forward pass at the end of every epoch.
func TestFullBatchLossReusesForward(t *testing.T) {
	ds := subset(loadMNIST(t), 48)
	cfg := Config{Model: Model{Hidden: 12, InitFactor: 1, InitSeed: 2}, LR: 0.1, Batch: ds.N,
		Procedure: Procedure{MaxEpochs: 3000, ConvThreshold: 2e-2, ConvEpochs: 25, WarmupSteps: 20}}
	res, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Converged {
		t.Fatalf("status %s after %d epochs: the check of the convergence epoch would be vacuous", res.Status, res.Epochs)
	}
	// The reference: the same schedule with the engine's plain operations, a fresh forward
	// pass for every loss and every step.
	c, _ := LossScale(LossSum, ds.K)
	full := cfg.WithDefaults()
	e := newFused(ds, newSparseX(ds), InitParams(ds.D, 12, ds.K, full.InitFactor, 2), c, ds.N)
	batch := make([]int, ds.N)
	for i := range batch {
		batch[i] = i
	}
	var curve []float64
	streak, steps, epochs := 0, 0, 0
	for epochs < full.MaxEpochs && streak < full.ConvEpochs {
		e.step(batch, full.StepLR(steps, ds.N))
		steps++
		e.cached = false
		l := e.fullLoss()
		e.cached = false
		curve = append(curve, l)
		epochs++
		if l < full.ConvThreshold {
			streak++
		} else {
			streak = 0
		}
	}
	if res.Epochs != epochs || res.Steps != steps || !sameBits(res.LossCurve, curve) {
		t.Fatalf("epochs %d / %d, steps %d / %d, loss curves equal %v", res.Epochs, epochs, res.Steps, steps, sameBits(res.LossCurve, curve))
	}
	if !sameBits(res.Params.Flat(), e.params().Flat()) {
		t.Fatal("final parameters differ from the reference run's")
	}
	// One forward pass per epoch: the engine counts its full-batch forward passes. The
	// reference above made two per epoch (it clears the cache); the step must not redo the
	// output layer either (it takes the loss and gradients that fullLoss left).
	eng, err := newEngine(ds, newSparseX(ds), cfg.WithDefaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := eng.(*fused)
	for ep := 0; ep < 5; ep++ {
		f.step(batch, 0.1)
		f.fullLoss()
	}
	if f.forwards != 6 {
		t.Fatalf("%d full-batch forward passes in 5 epochs, want 6 (the first step's, then one per epoch, shared by its loss and the next step)", f.forwards)
	}
}

// TestStepReusesLossForward: the step after a full-batch loss on a smaller batch (B = 8 in turn,
// 24 through maskUpdate, h = 60 blocked) takes its batch's pre-activations from the loss's forward
// pass, and the step is the same, bit for bit, as one that computes them anew. That the rows are
// taken is seen by poisoning them: a NaN row of zfull must show in the step's loss.
func TestStepReusesLossForward(t *testing.T) {
	ds, sp, c := loadSparseMNIST(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, h := range []int{12, 60} {
		for _, m := range []int{8, 24} {
			p := InitParams(ds.D, h, ds.K, 1, 3)
			batch := rng.Perm(ds.N)[:m]
			reuse, fresh := newFused(ds, sp, p, c, m), newFused(ds, sp, p, c, m)
			reuse.fullLoss()
			lr, lf := reuse.step(batch, 0.05), fresh.step(batch, 0.05)
			if math.Float64bits(lr) != math.Float64bits(lf) || !sameBits(reuse.params().Flat(), fresh.params().Flat()) {
				t.Fatalf("h = %d, B = %d: the step after the loss differs from a fresh one (loss %v, want %v)", h, m, lr, lf)
			}
			poisoned := newFused(ds, sp, p, c, m)
			poisoned.fullLoss()
			for j := 0; j < h; j++ {
				poisoned.zfull[batch[0]*poisoned.stride+j] = math.NaN()
			}
			if l := poisoned.step(batch, 0.05); !math.IsNaN(l) {
				t.Fatalf("h = %d, B = %d: the step computed its own forward pass (loss %v)", h, m, l)
			}
		}
	}
}

// TestStepAllocates: an SGD step of the fused engine allocates nothing, at every batch size
// and at h = 20 and 100 (and the full-batch loss neither).
func TestStepAllocates(t *testing.T) {
	ds := loadMNIST(t)
	sp := newSparseX(ds)
	for _, h := range []int{20, 100} {
		for _, b := range []int{1, 8, 64, ds.N} {
			cfg := Config{Model: Model{Hidden: h}, LR: 0.01, Batch: b}.WithDefaults()
			eng, err := newEngine(ds, sp, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			smp := newSampler(ds.N, cfg)
			batch := append([]int(nil), smp.Next()...)
			if n := testing.AllocsPerRun(5, func() { eng.step(batch, 0.01); eng.fullLoss() }); n != 0 {
				t.Errorf("h = %d, B = %d: %v allocations per step and loss", h, b, n)
			}
		}
	}
}
