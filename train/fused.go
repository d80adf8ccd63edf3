package train

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/data"
)

// Dense products: on inputs with more than gemmMaxSparsity nonzeros, batches of at least
// gemmMinBatch samples are multiplied with blas64.Gemm (OpenBLAS with the tag `openblas`) instead
// of looping over the nonzero entries. On MNIST (20% nonzero pixels) the sparse loops win at every
// batch size, also against OpenBLAS: BenchmarkFullBatchStep (B = n = 512, h = 20) measured
// 0.63-0.71 million samples per CPU-second for the sparse loops against 0.18 million for OpenBLAS
// dgemm (one thread) and less for gonum's.
const (
	gemmMinBatch    = 128
	gemmMaxSparsity = 0.5
)

// gemmMinOverride, when positive, replaces the choice above (tests of the dense path).
var gemmMinOverride = 0

// sparseX is the data set's inputs in compressed sparse rows (about 19% of MNIST pixels are
// nonzero), shared read-only by all runs on the same data.
type sparseX struct {
	ptr []int     // row i's entries are idx[ptr[i]:ptr[i+1]]
	idx []int     // pixel indices, increasing within a row
	val []float64 // pixel values
	// the same entries by columns: pixel p's are rows[cptr[p]:cptr[p+1]], samples increasing
	cptr []int
	rows []int
	cval []float64
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
	s.cptr = make([]int, ds.D+1)
	for _, p := range s.idx {
		s.cptr[p+1]++
	}
	for p := 0; p < ds.D; p++ {
		s.cptr[p+1] += s.cptr[p]
	}
	s.rows, s.cval = make([]int, len(s.idx)), make([]float64, len(s.idx))
	next := append([]int(nil), s.cptr[:ds.D]...)
	for i := 0; i < ds.N; i++ {
		for q := s.ptr[i]; q < s.ptr[i+1]; q++ {
			p := s.idx[q]
			s.rows[next[p]], s.cval[next[p]] = i, s.val[q]
			next[p]++
		}
	}
	return s
}

// fused is the hand-written SGD kernel. It keeps W1 transposed (w1t is D x h) so that the inner
// loops over hidden units are contiguous; Params converts back to the portable layout.
//
// Per sample it computes z = W1 x + b1 (sum over nonzero pixels in increasing order, then + b1),
// a = relu(z), f = W2 a + b2, r = f - y, l = c ||r||^2, and the gradient
// df = 2c r, grad W2 = df a^T, grad b2 = df, dz = relu'(z) .* (W2^T df), grad W1 = dz x^T,
// grad b1 = dz; a step subtracts (eta/B) times the batch's summed gradient. Dense inputs and
// large batches compute Z = X_B W1^T and grad W1^T = X_B^T dZ with blas64.Gemm instead.
type fused struct {
	ds              *data.Dataset
	sp              *sparseX
	n, d, h, k      int
	c               float64
	w1t, b1, w2, b2 []float64
	// gradient accumulators (g1t: dense path only)
	g1t, gb1, gw2, gb2 []float64
	// the batch's inputs by columns (see batchColumns)
	bptr, bnext []int
	brow        []int
	bval        []float64
	// per-batch scratch: pre-activations (B x h), output deltas, hidden deltas (B x h)
	z, dz    []float64
	xb       []float64
	u, a, df []float64 // one sample's hidden pre-activation with bias, and output deltas
	// full-batch forward cache: zfull holds Z of all samples in natural order at the current
	// parameters when cached is true (the next full-batch step reuses it).
	zfull  []float64
	cached bool
	// gemmMin is the smallest batch multiplied densely (math.MaxInt: never)
	gemmMin int
}

func newFused(ds *data.Dataset, sp *sparseX, p Params, c float64, batch int) *fused {
	d, h, k := ds.D, p.Hidden, ds.K
	e := &fused{ds: ds, sp: sp, n: ds.N, d: d, h: h, k: k, c: c,
		w1t: make([]float64, d*h), b1: append([]float64(nil), p.B1...),
		w2: append([]float64(nil), p.W2...), b2: append([]float64(nil), p.B2...),
		g1t: make([]float64, d*h), gb1: make([]float64, h), gw2: make([]float64, k*h), gb2: make([]float64, k),
		bptr: make([]int, d+1), bnext: make([]int, d), z: make([]float64, batch*h), dz: make([]float64, batch*h),
		zfull: make([]float64, ds.N*h), u: make([]float64, h), a: make([]float64, h), df: make([]float64, k)}
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			e.w1t[q*h+j] = p.W1[j*d+q]
		}
	}
	e.gemmMin = math.MaxInt
	if float64(len(sp.idx)) > gemmMaxSparsity*float64(len(ds.X)) {
		e.gemmMin = gemmMinBatch
	}
	if gemmMinOverride > 0 {
		e.gemmMin = gemmMinOverride
	}
	if batch >= e.gemmMin && batch < ds.N {
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

// preact writes z = W1 x_i (without bias), summing over the nonzero pixels of sample i in
// increasing order. Ten hidden units are accumulated at a time (gatherDot10), then four, then one.
func (e *fused) preact(i int, z []float64) {
	h := e.h
	z = z[:h]
	sp := e.sp
	idx := sp.idx[sp.ptr[i]:sp.ptr[i+1]]
	val := sp.val[sp.ptr[i]:sp.ptr[i+1]]
	val = val[:len(idx)]
	w := e.w1t
	j := 0
	var acc [10]float64
	for ; j+10 <= h; j += 10 {
		gatherDot10(idx, val, w, h, j, e.d-1, &acc)
		copy(z[j:j+10], acc[:])
	}
	for ; j+4 <= h; j += 4 {
		var s0, s1, s2, s3 float64
		for q, p := range idx {
			v := val[q]
			r := w[p*h+j : p*h+j+4 : p*h+j+4]
			s0 += v * r[0]
			s1 += v * r[1]
			s2 += v * r[2]
			s3 += v * r[3]
		}
		z[j], z[j+1], z[j+2], z[j+3] = s0, s1, s2, s3
	}
	for ; j < h; j++ {
		var s float64
		for q, p := range idx {
			s += val[q] * w[p*h+j]
		}
		z[j] = s
	}
}

// preactBatch writes Z = X_rows W1^T (without bias) for the given rows (nil = all samples in order).
func (e *fused) preactBatch(rows []int, z []float64) {
	m := len(rows)
	if rows == nil {
		m = e.n
	}
	if m < e.gemmMin {
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
	u, a := e.u[:h], e.a[:h]
	zpre = zpre[:h]
	for j := range u {
		u[j] = zpre[j] + e.b1[j]
		a[j] = max(u[j], 0)
	}
	y := e.ds.Y[i*k : i*k+k]
	df := e.df[:k]
	var loss float64
	for o := range df {
		w := e.w2[o*h : o*h+h]
		w = w[:len(a)]
		f := 0.0
		for j, aj := range a {
			f += w[j] * aj
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
		w, gw = w[:len(a)], gw[:len(a)]
		for j, aj := range a {
			gw[j] += g * aj
			dz[j] += w[j] * g
		}
	}
	for j, v := range dz {
		if !(u[j] > 0) {
			dz[j] = 0
			continue
		}
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
	if m >= e.gemmMin {
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
	} else if rows == nil {
		e.columnUpdate(e.sp.cptr, e.sp.rows, e.sp.cval, m, s)
	} else if m == 1 {
		// w -= s (v dz): the same rounding as accumulating g = 0 + v dz and subtracting s g.
		e.sparseUpdate(batch[0], e.dz[:h], s)
	} else {
		e.batchColumns(rows)
		e.columnUpdate(e.bptr, e.brow, e.bval, m, s)
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

// sparseUpdate applies W1 -= s dz x_i^T for one sample, entry by entry as s * (x_ip dz_j).
func (e *fused) sparseUpdate(i int, dz []float64, s float64) {
	h := e.h
	sp := e.sp
	for q := sp.ptr[i]; q < sp.ptr[i+1]; q++ {
		p, v := sp.idx[q], sp.val[q]
		w := e.w1t[p*h : p*h+h]
		w = w[:len(dz)]
		for j, dj := range dz {
			w[j] -= s * (v * dj)
		}
	}
}

// columnUpdate applies W1 -= s sum_b dz_b x_b^T from the batch's inputs in compressed sparse
// columns: pixel p's entries are rows[cptr[p]:cptr[p+1]] (positions b in the batch, increasing)
// with values vals. Each gradient entry is summed over b in increasing order from 0, exactly as
// accumulating the samples one by one would, but in registers (gatherDot10).
func (e *fused) columnUpdate(cptr, rows []int, vals []float64, m int, s float64) {
	h := e.h
	dz := e.dz[:m*h]
	var acc [10]float64
	for p := 0; p+1 < len(cptr); p++ {
		rows, vals := rows[cptr[p]:cptr[p+1]], vals[cptr[p]:cptr[p+1]]
		if len(rows) == 0 {
			continue
		}
		vals = vals[:len(rows)]
		w := e.w1t[p*h : p*h+h]
		j := 0
		for ; j+10 <= h; j += 10 {
			gatherDot10(rows, vals, dz, h, j, m-1, &acc)
			w10 := w[j : j+10 : j+10]
			for k, g := range acc {
				w10[k] -= s * g
			}
		}
		for ; j+4 <= h; j += 4 {
			var g0, g1, g2, g3 float64
			for q, i := range rows {
				v, d := vals[q], dz[i*h+j:i*h+j+4:i*h+j+4]
				g0 += v * d[0]
				g1 += v * d[1]
				g2 += v * d[2]
				g3 += v * d[3]
			}
			w4 := w[j : j+4 : j+4]
			w4[0] -= s * g0
			w4[1] -= s * g1
			w4[2] -= s * g2
			w4[3] -= s * g3
		}
		for ; j < h; j++ {
			var g float64
			for q, i := range rows {
				g += vals[q] * dz[i*h+j]
			}
			w[j] -= s * g
		}
	}
}

// batchColumns builds the compressed sparse columns of the batch's inputs (counting sort of its
// entries by pixel) into e.bptr, e.brow, e.bval.
func (e *fused) batchColumns(rows []int) {
	sp := e.sp
	ptr := e.bptr
	clear(ptr)
	total := 0
	for _, i := range rows {
		for _, p := range sp.idx[sp.ptr[i]:sp.ptr[i+1]] {
			ptr[p+1]++
		}
		total += sp.ptr[i+1] - sp.ptr[i]
	}
	for p := 0; p < e.d; p++ {
		ptr[p+1] += ptr[p]
	}
	if cap(e.brow) < total {
		e.brow, e.bval = make([]int, total), make([]float64, total)
	}
	e.brow, e.bval = e.brow[:total], e.bval[:total]
	next := e.bnext
	copy(next, ptr[:e.d])
	for b, i := range rows {
		for q := sp.ptr[i]; q < sp.ptr[i+1]; q++ {
			p := sp.idx[q]
			e.brow[next[p]], e.bval[next[p]] = b, sp.val[q]
			next[p]++
		}
	}
}
