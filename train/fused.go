package train

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/data"
)

// gemmMinBatch is the smallest batch for which the fused engine multiplies dense batches with
// blas64.Gemm instead of looping over the nonzero pixels (see BenchmarkStep*).
var gemmMinBatch = 128

// sparseX is the data set's inputs in compressed sparse rows (about 19% of MNIST pixels are
// nonzero), shared read-only by all runs on the same data.
type sparseX struct {
	ptr []int     // row i's entries are idx[ptr[i]:ptr[i+1]]
	idx []int     // pixel indices, increasing within a row
	val []float64 // pixel values
}

func newSparseX(ds *data.Dataset) *sparseX {
	s := &sparseX{ptr: make([]int, ds.N+1)}
	for i := 0; i < ds.N; i++ {
		for p, v := range ds.Row(i) {
			if v != 0 {
				s.idx = append(s.idx, p)
				s.val = append(s.val, v)
			}
		}
		s.ptr[i+1] = len(s.idx)
	}
	return s
}

// fused is the hand-written SGD kernel. It keeps W1 transposed (w1t is D x h) so that the inner
// loops over hidden units are contiguous; Params converts back to the portable layout.
//
// Per sample it computes z = W1 x + b1 (sum over nonzero pixels in increasing order, then + b1),
// a = relu(z), f = W2 a + b2, r = f - y, l = c ||r||^2, and the gradient
// df = 2c r, grad W2 = df a^T, grad b2 = df, dz = relu'(z) .* (W2^T df), grad W1 = dz x^T,
// grad b1 = dz; a step subtracts (eta/B) times the batch's summed gradient. Batches of at least
// gemmMinBatch samples compute Z = X_B W1^T and grad W1^T = X_B^T dZ with blas64.Gemm.
type fused struct {
	ds              *data.Dataset
	sp              *sparseX
	n, d, h, k      int
	c               float64
	w1t, b1, w2, b2 []float64
	// gradient accumulators
	g1t, gb1, gw2, gb2 []float64
	touched            []bool
	list               []int
	// per-batch scratch: pre-activations (B x h), output deltas, hidden deltas (B x h)
	z, dz []float64
	xb    []float64
	u, df []float64 // one sample's hidden pre-activation with bias, and output deltas
	// full-batch forward cache: zfull holds Z of all samples in natural order at the current
	// parameters when cached is true (the next full-batch step reuses it).
	zfull  []float64
	cached bool
}

func newFused(ds *data.Dataset, sp *sparseX, p Params, c float64, batch int) *fused {
	d, h, k := ds.D, p.Hidden, ds.K
	e := &fused{ds: ds, sp: sp, n: ds.N, d: d, h: h, k: k, c: c,
		w1t: make([]float64, d*h), b1: append([]float64(nil), p.B1...),
		w2: append([]float64(nil), p.W2...), b2: append([]float64(nil), p.B2...),
		g1t: make([]float64, d*h), gb1: make([]float64, h), gw2: make([]float64, k*h), gb2: make([]float64, k),
		touched: make([]bool, d), z: make([]float64, batch*h), dz: make([]float64, batch*h),
		zfull: make([]float64, ds.N*h), u: make([]float64, h), df: make([]float64, k)}
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			e.w1t[q*h+j] = p.W1[j*d+q]
		}
	}
	if batch >= gemmMinBatch && batch < ds.N {
		e.xb = make([]float64, batch*d)
	}
	if batch == ds.N {
		e.z, e.dz = e.zfull, make([]float64, batch*h)
	}
	return e
}

func (e *fused) params() Params {
	p := Params{Hidden: e.h, W1: make([]float64, e.h*e.d), B1: append([]float64(nil), e.b1...),
		W2: append([]float64(nil), e.w2...), B2: append([]float64(nil), e.b2...)}
	for j := 0; j < e.h; j++ {
		for q := 0; q < e.d; q++ {
			p.W1[j*e.d+q] = e.w1t[q*e.h+j]
		}
	}
	return p
}

// preact writes z = W1 x_i (without bias) over the nonzero pixels of sample i.
func (e *fused) preact(i int, z []float64) {
	h := e.h
	z = z[:h]
	clear(z)
	sp := e.sp
	for q := sp.ptr[i]; q < sp.ptr[i+1]; q++ {
		v, row := sp.val[q], e.w1t[sp.idx[q]*h:sp.idx[q]*h+h]
		for j := range z {
			z[j] += v * row[j]
		}
	}
}

// preactBatch writes Z = X_rows W1^T (without bias) for the given rows (nil = all samples in order).
func (e *fused) preactBatch(rows []int, z []float64) {
	m := len(rows)
	if rows == nil {
		m = e.n
	}
	if m < gemmMinBatch {
		for b := 0; b < m; b++ {
			i := b
			if rows != nil {
				i = rows[b]
			}
			e.preact(i, z[b*e.h:])
		}
		return
	}
	x := e.ds.X[:m*e.d]
	if rows != nil {
		x = e.xb[:m*e.d]
		for b, i := range rows {
			copy(x[b*e.d:(b+1)*e.d], e.ds.Row(i))
		}
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas64.General{Rows: m, Cols: e.d, Stride: e.d, Data: x},
		blas64.General{Rows: e.d, Cols: e.h, Stride: e.h, Data: e.w1t},
		0, blas64.General{Rows: m, Cols: e.h, Stride: e.h, Data: z[:m*e.h]})
}

// sampleLoss finishes the forward pass of sample i from its pre-activation without bias zpre and
// returns l = c ||r||^2; when dz is not nil it also accumulates the gradients of W2, b2 and b1 and
// writes the hidden deltas into dz.
func (e *fused) sampleLoss(i int, zpre, dz []float64) float64 {
	h, k := e.h, e.k
	u := e.u[:h]
	zpre = zpre[:h]
	for j := range u {
		u[j] = zpre[j] + e.b1[j]
	}
	y := e.ds.Y[i*k : i*k+k]
	df := e.df[:k]
	var loss float64
	for o := range df {
		w := e.w2[o*h : o*h+h]
		f := 0.0
		for j, uj := range u {
			if uj > 0 {
				f += w[j] * uj
			}
		}
		r := f + e.b2[o] - y[o]
		loss += r * r
		df[o] = 2 * e.c * r
	}
	loss *= e.c
	if dz == nil {
		return loss
	}
	dz = dz[:h]
	clear(dz)
	for o, g := range df {
		e.gb2[o] += g
		w, gw := e.w2[o*h:o*h+h], e.gw2[o*h:o*h+h]
		for j, uj := range u {
			if uj > 0 {
				gw[j] += g * uj
				dz[j] += w[j] * g
			}
		}
	}
	for j, v := range dz {
		e.gb1[j] += v
	}
	return loss
}

// fullLoss is L(w) = (1/n) sum_i l_i over all samples in order. It keeps the pre-activations for
// a following full-batch step.
func (e *fused) fullLoss() float64 {
	e.preactBatch(nil, e.zfull)
	var sum float64
	for i := 0; i < e.n; i++ {
		sum += e.sampleLoss(i, e.zfull[i*e.h:], nil)
	}
	e.cached = true
	return sum / float64(e.n)
}

// step does one SGD step with step size lr on the batch (a batch of all n samples is processed in
// natural order) and returns the batch's mean loss at the parameters before the step.
func (e *fused) step(batch []int, lr float64) float64 {
	h, d := e.h, e.d
	m := len(batch)
	rows := batch
	z := e.z
	if m == e.n {
		rows = nil
		if e.cached {
			z = e.zfull
		} else {
			e.preactBatch(nil, z)
		}
	} else {
		e.preactBatch(rows, z)
	}
	e.cached = false
	var loss float64
	for b := 0; b < m; b++ {
		i := b
		if rows != nil {
			i = rows[b]
		}
		loss += e.sampleLoss(i, z[b*h:], e.dz[b*h:])
	}
	s := lr / float64(m)
	if m >= gemmMinBatch {
		x := e.ds.X[:m*d]
		if rows != nil {
			x = e.xb[:m*d] // gathered by preactBatch
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: m, Cols: d, Stride: d, Data: x},
			blas64.General{Rows: m, Cols: h, Stride: h, Data: e.dz[:m*h]},
			0, blas64.General{Rows: d, Cols: h, Stride: h, Data: e.g1t})
		for q, g := range e.g1t {
			e.w1t[q] -= s * g
		}
	} else {
		sp := e.sp
		for b := 0; b < m; b++ {
			i := b
			if rows != nil {
				i = rows[b]
			}
			dz := e.dz[b*h : b*h+h]
			for q := sp.ptr[i]; q < sp.ptr[i+1]; q++ {
				p, v := sp.idx[q], sp.val[q]
				if !e.touched[p] {
					e.touched[p] = true
					e.list = append(e.list, p)
				}
				g := e.g1t[p*h : p*h+h]
				for j := range g {
					g[j] += v * dz[j]
				}
			}
		}
		for _, p := range e.list {
			w, g := e.w1t[p*h:p*h+h], e.g1t[p*h:p*h+h]
			for j := range w {
				w[j] -= s * g[j]
			}
			clear(g)
			e.touched[p] = false
		}
		e.list = e.list[:0]
	}
	update := func(w, g []float64) {
		for j := range w {
			w[j] -= s * g[j]
		}
		clear(g)
	}
	update(e.b1, e.gb1)
	update(e.w2, e.gw2)
	update(e.b2, e.gb2)
	return loss / float64(m)
}
