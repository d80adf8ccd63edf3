package train

import (
	"math"
	"math/bits"
	"unsafe"

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
	// active lists the pixels with at least one nonzero entry, increasing
	active []int
}

func newSparseX(ds *data.Dataset) *sparseX {
	s := &sparseX{ptr: make([]int, ds.N+1)}
	nnz := 0
	for _, v := range ds.X[:ds.N*ds.D] {
		if v != 0 {
			nnz++
		}
	}
	s.idx, s.val = make([]int, 0, nnz), make([]float64, 0, nnz) // sized first: every TrainMany call builds one
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
	for p := 0; p < ds.D; p++ {
		if s.cptr[p+1] > s.cptr[p] {
			s.active = append(s.active, p)
		}
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
// grad b1 = dz; a step subtracts (eta/B) times the batch's summed gradient (every gradient entry
// summed over the batch in increasing position from 0), except that batches of at most
// seqMax samples (seqMaxFor) subtract each sample's W1 gradient in turn. Dense inputs and large batches
// compute Z = X_B W1^T and grad W1^T = X_B^T dZ with blas64.Gemm instead.
type fused struct {
	ds         *data.Dataset
	sp         *sparseX
	n, d, h, k int
	c          float64
	// stride is the row stride of the engine's matrices of h columns (W1^T, g1t, gacc, z, dz,
	// zfull): rowStride(h), the rows in storage from alignedFloats
	stride          int
	w1t, b1, w2, b2 []float64
	// gradient accumulators (g1t: dense path only; gacc: batches of 2 to n samples, zero
	// between steps)
	g1t, gb1, gw2, gb2 []float64
	gacc               []float64
	// the batch's touched pixels, in order of first touch (bseen marks them with 1); for
	// batches of at most maskMaxBatch samples, bmask[p] has bit b set when position b of the
	// batch has pixel p, whose value is bvals[p*bstride+j] for the j-th set bit (j from 0): each
	// pixel's values in batch order, packed
	bpix    []int
	bseen   []uint8
	bmask   []uint64
	bvals   []float64
	bstride int
	// marked: the batch's forward pass has marked its npix pixels (bpix, bmask, bvals)
	marked bool
	npix   int
	// per-batch scratch: pre-activations (B x h), hidden deltas (B x h)
	z, dz       []float64
	xb          []float64
	u, a, f, df []float64 // one sample's hidden pre-activation with bias, activation, outputs and output deltas
	// batchLoss's four samples at a time: u and a in rows of stride, outputs, W2 transposed (h x 4)
	u4, a4, f4, w2t []float64
	// full-batch forward cache: zfull holds Z of all samples in natural order at the current
	// parameters when cached is true (the next step reuses it: all of it on the full batch, its
	// batch's rows on a smaller one).
	zfull  []float64
	cached bool
	// fullSteps: every step of the run is on all n samples in order. fullLoss then also finishes
	// the backward pass of the next step (dz and the accumulators of b1, W2, b2, with the loss
	// sum in gradLoss) and sets gradReady; the step only applies it.
	fullSteps bool
	gradReady bool
	gradLoss  float64
	forwards  int // full-batch forward passes so far (tests)
	// gemmMin is the smallest batch multiplied densely (math.MaxInt: never)
	gemmMin int
	// seqMax is the largest batch whose W1 gradients are applied sample by sample (seqMaxFor)
	seqMax int
	// blocked: batches of at least blockMinBatch samples use blockForward, with the pixel blocks
	// in blocks and its segment scratch in seg (3 per batch position)
	blocked bool
	blocks  *pixelBlocks
	seg     []int
	// groups: for full-batch steps (blocked engines), groupUpdate's segments
	groups *sampleGroups
}

func newFused(ds *data.Dataset, sp *sparseX, p Params, c float64, batch int) *fused {
	d, h, k := ds.D, p.Hidden, ds.K
	ld := rowStride(h)
	e := &fused{ds: ds, sp: sp, n: ds.N, d: d, h: h, k: k, c: c, stride: ld, seqMax: seqMaxFor(h),
		w1t: alignedFloats(d * ld), b1: append([]float64(nil), p.B1...),
		w2: append([]float64(nil), p.W2...), b2: append([]float64(nil), p.B2...),
		g1t: alignedFloats(d * ld), gacc: alignedFloats(d * ld), gb1: make([]float64, h), gw2: make([]float64, k*h), gb2: make([]float64, k),
		bseen: make([]uint8, d), bpix: make([]int, d+1),
		z: alignedFloats(batch * ld), dz: alignedFloats(batch * ld),
		zfull: alignedFloats(ds.N * ld), u: alignedFloats(h), a: alignedFloats(h), f: make([]float64, k), df: make([]float64, k),
		u4: alignedFloats(4 * ld), a4: alignedFloats(4 * ld), f4: make([]float64, 16), w2t: alignedFloats(4 * h)}
	e.setW1(p.W1)
	e.gemmMin = math.MaxInt
	if float64(len(sp.idx)) > gemmMaxSparsity*float64(len(ds.X)) {
		e.gemmMin = gemmMinBatch
	}
	if gemmMinOverride > 0 {
		e.gemmMin = gemmMinOverride
	}
	if e.bstride = min(batch, maskMaxBatch); batch > e.seqMax {
		e.bmask, e.bvals = make([]uint64, d), make([]float64, d*e.bstride)
	}
	if batch >= e.gemmMin && batch < ds.N {
		e.xb = make([]float64, batch*d)
	}
	if batch == ds.N {
		e.z, e.dz = e.zfull, alignedFloats(batch*ld)
	}
	if e.blocked = !blockedOff; e.blocked {
		e.blocks = newPixelBlocks(sp, blockPixels(h))
		e.seg = make([]int, 3*ds.N)
		if batch == ds.N {
			e.groups = newSampleGroups(sp, blockPixels(h))
		}
	}
	return e
}

// rowStride is the row stride of the engine's matrices of h columns: h rounded up to a multiple
// of 8, so that in storage from alignedFloats every row starts on a 64-byte cache line. The
// kernels' vector loads of a row (eight float64 in an AVX-512 register) then never straddle two
// lines, which costs a load two: at h = 100 (rows of 800 bytes, every other one starting mid-line)
// the forward product ran 1.33x as fast from the L1 cache and 1.24x as fast from L2 with rows
// padded to 104 (a scratch benchmark of dotRows with the fused kernels, Intel Xeon, AVX-512).
// The padding columns are zero and never read.
func rowStride(h int) int { return (h + 7) &^ 7 }

// alignedFloats returns n zeros whose first element is 64-byte aligned.
func alignedFloats(n int) []float64 {
	buf := make([]float64, n+7)
	off := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%64) % 64 / 8)
	return buf[off : off+n : off+n]
}

// setW1 sets W1^T from W1 in the portable layout (h x D, row-major).
func (e *fused) setW1(w1 []float64) {
	h, d, ld := e.h, e.d, e.stride
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			e.w1t[q*ld+j] = w1[j*d+q]
		}
	}
}

func (e *fused) params() Params {
	p := Params{Hidden: e.h, W1: make([]float64, e.h*e.d), B1: append([]float64(nil), e.b1...),
		W2: append([]float64(nil), e.w2...), B2: append([]float64(nil), e.b2...)}
	for j := 0; j < e.h; j++ {
		for q := 0; q < e.d; q++ {
			p.W1[j*e.d+q] = e.w1t[q*e.stride+j]
		}
	}
	return p
}

// preact writes z = W1 x_i (without bias), summing over the nonzero pixels of sample i in
// increasing order (dotRows).
func (e *fused) preact(i int, z []float64) {
	sp := e.sp
	dotRows(sp.idx[sp.ptr[i]:sp.ptr[i+1]], sp.val[sp.ptr[i]:sp.ptr[i+1]], e.w1t, e.stride, 0, e.d-1, z[:e.h])
}

// preactBatch writes Z = X_rows W1^T (without bias) for the given rows (nil = all samples in order),
// row b at z[b*stride:].
// For a batch that maskUpdate will apply (seqMax+1 to bstride samples, sparse path) it also
// marks the batch's pixels (markEntries) on the way.
func (e *fused) preactBatch(rows []int, z []float64) {
	m := len(rows)
	if rows == nil {
		m = e.n
		e.forwards++
	}
	if m < e.gemmMin {
		mark := rows != nil && m > e.seqMax && m <= e.bstride
		np := e.sparseForward(rows, m, z, mark)
		if mark {
			e.npix, e.marked = np, true
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
		blas64.General{Rows: e.d, Cols: e.h, Stride: e.stride, Data: e.w1t},
		0, blas64.General{Rows: m, Cols: e.h, Stride: e.stride, Data: z[:m*e.stride]})
}

// sparseForward writes z[b, :] = W1 x_i (without bias; row b at z[b*stride:]), i = rows[b]
// (rows nil: i = b), for b < m, each entry summed over the nonzero pixels of x_i in increasing
// order (dotRows, sample by sample; blockForward, which gives the same bits, when the engine is
// blocked and m >= blockMinBatch). With mark set (m <= bstride) it also does markEntries for
// every sample, in the same pass over its entries (dotRowsMark or segDotMark: the bookkeeping
// runs beside the load-bound products almost for free), and returns the number of pixels marked.
// (Taking the hidden units in windows of 52 over all samples, so that a window of W1^T, 326 kB,
// stays in the 512 kB L2 cache, measured 0.8-0.97x the speed of whole rows at h = 100, B = 8 to
// 512: the loop is bound by moving rows from L2 into L1, see BenchmarkForwardFootprint;
// blockForward cuts the pixels instead.)
func (e *fused) sparseForward(rows []int, m int, z []float64, mark bool) int {
	h, ld, sp := e.h, e.stride, e.sp
	if len(z) < m*ld || (mark && m > e.bstride) {
		panic("train: sparseForward out of range")
	}
	if mark && e.marked {
		panic("train: the previous batch's pixel marks were not consumed by maskUpdate")
	}
	np := 0
	if e.blocked && m >= blockMinBatch {
		return e.blockForward(rows, m, z, mark)
	}
	for b := 0; b < m; b++ {
		i := b
		if rows != nil {
			i = rows[b]
		}
		idx, val := sp.idx[sp.ptr[i]:sp.ptr[i+1]], sp.val[sp.ptr[i]:sp.ptr[i+1]]
		if !mark {
			dotRows(idx, val, e.w1t, ld, 0, e.d-1, z[b*ld:b*ld+h])
			continue
		}
		zb := z[b*ld : b*ld+h]
		checkRows(idx, val, e.w1t, ld, 0, h, e.d-1)
		j := windows(h, func(j, c int) {
			if j == 0 {
				np = kern.mark[c](idx, val, e.w1t, ld, 0, &zb[0], &e.bmask[0], &e.bvals[0], e.bstride, 1<<b, &e.bpix[0], np)
				return
			}
			kern.dot[c](idx, val, e.w1t, ld, j, &zb[j])
		})
		if j < h {
			dotRowsGo(idx, val[:len(idx)], e.w1t, ld, j, zb[j:])
		}
		if j == 0 {
			np = e.markEntries(b, idx, val, np)
		}
	}
	return np
}

// Blocked products. Batches of at least blockMinBatch samples compute Z = X_B W1^T by blocks of
// consecutive pixels (blockForward), each block's rows of W1^T (in windows of up to
// kernelWidth() columns) about blockBytes, so that they stay in the L1 cache (32 kB here) while
// every sample of the batch adds its terms from them; sample by sample, the rows come from L2
// for every sample again (BenchmarkForwardFootprint). The full batch's weight gradient is summed
// by groups of blockPixels(h) samples, whose rows of dZ stay in L1 (groupUpdate). Measured on
// this project's 2-core Zen 3 machine (BenchmarkBlockForward, BenchmarkGroupUpdate: medians of 5
// rounds in each of two sessions, load 2.5-4.3): at h = 100 the forward product ran 1.2-1.3x
// (B = 8), 1.3-1.4x (B = 64) and 1.25-1.35x (B = 512) as fast as sample by sample, and the
// full-batch gradient 1.35-1.55x; at h = 20 (W1^T 125 kB, its busy rows mostly in L1 already)
// blocking measured 0.94-0.97x in training (BenchmarkTrain), and was off below h = 52. On the
// Intel Xeon host (48 kB L1; fused multiply-adds, aligned rows) it gains at h = 20 too:
// BenchmarkTrain, two rounds, load 0.8-0.9, B = 64 972-1,001k samples/s against 842-853k, B = 8
// and 512 unchanged within the noise, and B = 8, 64 and 512 at h = 100 within 7 % of before
// (the code before was blocked there too); so every h is blocked. Blocks of 64 to 128 pixels
// measured alike at h = 100 (and blocks of 24, 56 or 80 kB instead of 40 at 0.84-1.05x on the
// Intel host, with fused kernels before the rows were aligned). (Two other exact forms of the
// forward pass measured no faster and are not built: pixel by pixel over the union of a group of
// 4-64 samples, each row loaded once for the group and the samples' sums kept in memory, one
// store per 4 products: 0.4-1.0x at h = 20 and 100; and 2-4 samples' sums in registers over the
// union of their pixels with zero terms, which wastes a third to half of the products on MNIST
// and needs a finite-weight check: 0.5-0.85x even with the unions built in advance.)
const (
	blockMinBatch = 8
	blockBytes    = 40 << 10
)

// blockedOff, when set, turns blockForward and groupUpdate off (tests compare both ways).
var blockedOff = false

// blockPixels is the number of pixels per block of blockForward at h hidden units: a block's
// rows of W1^T in one window of columns (min(h, kernelWidth()), or h for the portable loops, which
// take all columns at once) are about blockBytes.
func blockPixels(h int) int {
	w := h
	if kern.blocks > 0 {
		w = min(h, kernelWidth())
	}
	return max(1, blockBytes/(8*max(1, w)))
}

// pixelBlocks cuts every sample's entries at the pixel blocks [k size, (k+1) size): sample i's
// entries in block k are sp.idx[ptr[i*(nb+1)+k] : ptr[i*(nb+1)+k+1]] (positions in sp.idx), for
// k < nb.
type pixelBlocks struct {
	size, nb int
	ptr      []int
	all      [][]int // allSegments
}

func newPixelBlocks(sp *sparseX, size int) *pixelBlocks {
	n, d := len(sp.ptr)-1, len(sp.cptr)-1
	nb := (d + size - 1) / size
	pb := &pixelBlocks{size: size, nb: nb, ptr: make([]int, n*(nb+1))}
	for i := 0; i < n; i++ {
		q := sp.ptr[i]
		for k := 0; k <= nb; k++ {
			for q < sp.ptr[i+1] && sp.idx[q] < k*size {
				q++
			}
			pb.ptr[i*(nb+1)+k] = q
		}
	}
	pb.all = pb.allSegments()
	return pb
}

// blockForward writes z[b, :] = W1 x_i (without bias), i = rows[b] (rows nil: i = b), for b < m:
// for each pixel block in increasing order, every sample's entries in the block are added to its
// running sums in z (segDot). Each sample's terms are thus added in increasing pixel order from
// +0, the sum passing through z between blocks, which is dotRows' sum bit for bit. With mark set
// (m <= bstride) it also does markEntries for every sample (segDotMark) and returns the number of
// pixels marked.
func (e *fused) blockForward(rows []int, m int, z []float64, mark bool) int {
	h, ld, pb := e.h, e.stride, e.blocks
	if len(z) < m*ld || len(e.seg) < 3*m || (mark && m > e.bstride) {
		panic("train: blockForward out of range")
	}
	np := 0
	clear(z[:m*ld])
	nb := pb.nb
	for k := 0; k < nb; k++ {
		var seg []int
		if rows == nil && m == len(pb.ptr)/(nb+1) {
			seg = pb.all[k]
		} else {
			seg = e.seg[:pb.segments(e.seg, rows, m, k)]
		}
		if mark {
			np = e.segDotMark(seg, z, m, np)
			continue
		}
		segDot(seg, e.sp.idx, e.sp.val, e.w1t, ld, h, e.d-1, z, ld, m)
	}
	return np
}

// segments writes block k's segments (b, lo, hi) of the batch positions b < m (sample rows[b];
// rows nil: b) with entries in the block into seg (length at least 3m), in increasing b, and
// returns their length (3 per segment). Every position's triple is written and the count moves on
// only past a non-empty one, without a branch (whether a sample has entries in a block is not
// predictable).
func (pb *pixelBlocks) segments(seg, rows []int, m, k int) int {
	nb, ns := pb.nb, 0
	seg = seg[:3*m]
	for b := 0; b < m; b++ {
		i := b
		if rows != nil {
			i = rows[b]
		}
		lo, hi := pb.ptr[i*(nb+1)+k], pb.ptr[i*(nb+1)+k+1]
		s := seg[ns : ns+3]
		s[0], s[1], s[2] = b, lo, hi
		ns += 3 * int(uint(lo-hi)>>(bits.UintSize-1)) // 3 if lo < hi
	}
	return ns
}

// allSegments is every block's segments over all samples in order (the full batch's forward
// pass, once per epoch, takes them from here).
func (pb *pixelBlocks) allSegments() [][]int {
	n := len(pb.ptr) / (pb.nb + 1)
	scratch := make([]int, 3*n)
	all := make([][]int, pb.nb)
	for k := range all {
		all[k] = append([]int(nil), scratch[:pb.segments(scratch, nil, n, k)]...)
	}
	return all
}

// segDotMark is segDot(seg, sp.idx, sp.val, W1^T, ...) into z (m rows of stride) and markEntries for
// the entries of every segment (r, lo, hi) as batch position r, in one pass over the entries where
// the kernels are in use (segDotMark, in the first window of columns). It returns the new count of
// touched pixels.
func (e *fused) segDotMark(seg []int, z []float64, m, np int) int {
	h, ld, sp := e.h, e.stride, e.sp
	if kern.segMark[1] == nil || h < 4 {
		for t := 0; t < len(seg); t += 3 {
			lo, hi := seg[t+1], seg[t+2]
			np = e.markEntries(seg[t], sp.idx[lo:hi], sp.val[lo:hi], np)
		}
		segDot(seg, sp.idx, sp.val, e.w1t, ld, h, e.d-1, z, ld, m)
		return np
	}
	checkSegs(seg, sp.idx, sp.val, e.w1t, ld, h, e.d-1, z, ld, m)
	if m > e.bstride || len(e.bmask) < e.d || len(e.bvals) < e.d*e.bstride || len(e.bpix) < e.d+1 {
		panic("train: segDotMark out of range")
	}
	if len(seg) == 0 {
		return np
	}
	j := windows(h, func(j, c int) {
		if j == 0 {
			np = kern.segMark[c](seg, sp.idx, sp.val, e.w1t, ld, 0, &z[0], ld, &e.bmask[0], &e.bvals[0], e.bstride, &e.bpix[0], np)
			return
		}
		kern.seg[c](seg, sp.idx, sp.val, e.w1t, ld, j, &z[0], ld)
	})
	if j < h {
		segDotGo(seg, sp.idx, sp.val, e.w1t, ld, j, h, z, ld)
	}
	return np
}

// markEntries records the entries (idx, val) of batch position b for maskUpdate: every pixel p
// of idx not yet touched by the batch is appended to bpix (at position np and on),
// bvals[p*bstride+j] = val for the count j of bits already set in bmask[p], and bit b of bmask[p]
// is set. Positions must be marked in increasing order (every caller goes through the batch in
// order), so that pixel p's j-th value is that of its j-th set bit. It returns the new count of
// touched pixels. (Packing the values, instead of bvals[p*bstride+b], keeps the ones a block of
// pixels writes in few cache lines: in CPU profiles of training at h = 100, B = 64 the marked
// forward product took 1.36x the plain one's time per sample before, 0.8-1.1x after.)
func (e *fused) markEntries(b int, idx []int, val []float64, np int) int {
	pix := e.bpix[:len(e.bseen)+1] // one spare slot for the last write of a full list
	bit, bs := uint64(1)<<b, e.bstride
	val = val[:len(idx)]
	for q, p := range idx {
		// first touch: bmask[p] == 0, so (bmask[p] - 1) >> 63 == 1; otherwise bmask[p]
		// has bits below b < 64 only and the shift gives 0. No branch.
		pix[np] = p
		np += int((e.bmask[p] - 1) >> 63)
		e.bvals[p*bs+bits.OnesCount64(e.bmask[p])] = val[q]
		e.bmask[p] |= bit
	}
	return np
}

// batchLoss is the sum of sampleLoss over the batch positions b < m in order: sample i = rows[b]
// (rows nil: i = b), its pre-activation z[b*stride:], its hidden deltas into dz[b*stride:] (dz
// nil: the loss only). With k = 4 outputs and the kernels in use, the hidden layers of four
// samples at a time go into u4 and a4 and their outputs are computed together (kern.out4x4, from
// W2 transposed into w2t here): the same sums as outputs4's, bit for bit, whose chains of
// additions bound outputs4 by their latency (6 % of training's time at h = 100, B = 64).
func (e *fused) batchLoss(rows []int, m int, z, dz []float64) float64 {
	h, k, ld := e.h, e.k, e.stride
	at := func(b int) (int, []float64) {
		i := b
		if rows != nil {
			i = rows[b]
		}
		if dz == nil {
			return i, nil
		}
		return i, dz[b*ld:]
	}
	var sum float64
	b := 0
	if k == 4 && kern.out4x4 != nil && m >= 4 {
		for o := 0; o < k; o++ {
			for j := 0; j < h; j++ {
				e.w2t[4*j+o] = e.w2[o*h+j]
			}
		}
		for ; b+4 <= m; b += 4 {
			for t := 0; t < 4; t++ {
				e.hidden(z[(b+t)*ld:], e.u4[t*ld:t*ld+h], e.a4[t*ld:t*ld+h])
			}
			kern.out4x4(&e.a4[0], &e.w2t[0], &e.f4[0], ld, h)
			for t := 0; t < 4; t++ {
				i, dzb := at(b + t)
				sum += e.sampleFinish(i, e.u4[t*ld:t*ld+h], e.a4[t*ld:t*ld+h], e.f4[4*t:4*t+4], dzb)
			}
		}
	}
	for ; b < m; b++ {
		i, dzb := at(b)
		sum += e.sampleLoss(i, z[b*ld:], dzb)
	}
	return sum
}

// sampleLoss finishes the forward pass of sample i from its pre-activation without bias zpre and
// returns l = c ||r||^2; when dz is not nil it also accumulates the gradients of W2, b2 and b1 and
// writes the hidden deltas into dz.
func (e *fused) sampleLoss(i int, zpre, dz []float64) float64 {
	h, k := e.h, e.k
	u, a, f := e.u[:h], e.a[:h], e.f[:k]
	e.hidden(zpre, u, a)
	if k == 4 {
		e.outputs4(a, f)
	} else {
		for o := range f {
			w := e.w2[o*h : o*h+h]
			w = w[:len(a)]
			s := 0.0
			for j, aj := range a {
				s += w[j] * aj
			}
			f[o] = s
		}
	}
	return e.sampleFinish(i, u, a, f, dz)
}

// sampleFinish is sampleLoss from the outputs f = W2 a (without b2) of sample i with hidden layer
// u, a on.
func (e *fused) sampleFinish(i int, u, a, f, dz []float64) float64 {
	h, k := e.h, e.k
	y := e.ds.Y[i*k : i*k+k]
	df := e.df[:k]
	f = f[:k]
	var loss float64
	for o := range df {
		r := f[o] + e.b2[o] - y[o]
		loss += r * r
		df[o] = 2 * e.c * r
	}
	loss *= e.c
	if dz == nil {
		return loss
	}
	for o, g := range df {
		e.gb2[o] += g
	}
	dz = dz[:h]
	if k == 4 {
		e.hiddenDeltas4(u, a, dz)
		return loss
	}
	clear(dz)
	for o, g := range df {
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

// hidden sets u = zpre + b1 and a = max(u, 0), the hidden layer of sampleLoss (u and a of length
// h).
func (e *fused) hidden(zpre, u, a []float64) {
	h := e.h
	u, a, zpre, b1 := u[:h], a[:h], zpre[:h], e.b1[:h]
	j0 := 0
	if kern.relu4 != nil && h >= 4 {
		// the same operations on four hidden units per instruction (bounds: the slices above);
		// the loop below took 40 % of sampleLoss's time at h = 100 (its max does not vectorize)
		j0 = h / 4 * 4
		kern.relu4(&zpre[0], &b1[0], &u[0], &a[0], h/4)
	}
	for j := j0; j < h; j++ {
		u[j] = zpre[j] + b1[j]
		a[j] = max(u[j], 0)
	}
}

// outputs4 and hiddenDeltas4 are sampleLoss's loops for k = 4 outputs, with the loop over the
// outputs unrolled inside the loop over hidden units: every sum has the same terms in the same
// order as in the general loops (f_o over j from 0, dz_j over o from 0), so the bits are the
// same. outputs4 writes f_o = sum_j W2[o, j] a_j.
func (e *fused) outputs4(a, f []float64) {
	h := len(a)
	w0, w1, w2, w3 := e.w2[:h], e.w2[h:2*h], e.w2[2*h:3*h], e.w2[3*h:4*h]
	var f0, f1, f2, f3 float64
	for j, aj := range a {
		f0 += w0[j] * aj
		f1 += w1[j] * aj
		f2 += w2[j] * aj
		f3 += w3[j] * aj
	}
	f[0], f[1], f[2], f[3] = f0, f1, f2, f3
}

// hiddenDeltas4 accumulates grad W2 += df a^T and grad b1 += dz and writes
// dz = relu'(u) .* (W2^T df) for k = 4 (df in e.df). The AVX2 kernel (kern.deltas4) does the
// same operations on four hidden units at a time; where u_j is not positive it adds +0 to
// grad b1 instead of skipping, which leaves it unchanged bit for bit (a sum from +0 is never -0).
func (e *fused) hiddenDeltas4(u, a, dz []float64) {
	h := len(a)
	g0, g1, g2, g3 := e.df[0], e.df[1], e.df[2], e.df[3]
	w0, w1, w2, w3 := e.w2[:h], e.w2[h:2*h], e.w2[2*h:3*h], e.w2[3*h:4*h]
	v0, v1, v2, v3 := e.gw2[:h], e.gw2[h:2*h], e.gw2[2*h:3*h], e.gw2[3*h:4*h]
	dz, u, gb1 := dz[:h], u[:h], e.gb1[:h]
	j0 := 0
	if kern.deltas4 != nil && h >= 4 {
		// the same arithmetic on four hidden units per instruction (bounds: the slices above)
		j0 = h / 4 * 4
		kern.deltas4(&a[0], &u[0], &e.w2[0], &e.gw2[0], &e.df[0], &dz[0], &gb1[0], h, h/4)
	}
	for j := j0; j < h; j++ {
		aj := a[j]
		v0[j] += g0 * aj
		v1[j] += g1 * aj
		v2[j] += g2 * aj
		v3[j] += g3 * aj
		d := 0.0
		d += w0[j] * g0
		d += w1[j] * g1
		d += w2[j] * g2
		d += w3[j] * g3
		if !(u[j] > 0) {
			dz[j] = 0
			continue
		}
		dz[j] = d
		gb1[j] += d
	}
}

// fullLoss is L(w) = (1/n) sum_i l_i over all samples in order. It keeps the pre-activations for
// a following full-batch step; when every step is a full-batch one (fullSteps) it also does that
// step's backward pass, which needs the same forward pass: the sum of l_i is the same sum in the
// same order either way, so the loss, and with it the convergence rule, is unchanged bit for bit.
func (e *fused) fullLoss() float64 {
	if e.gradReady {
		return e.gradLoss / float64(e.n)
	}
	if !e.cached {
		e.preactBatch(nil, e.zfull)
	}
	var sum float64
	if e.fullSteps {
		sum = e.batchLoss(nil, e.n, e.zfull, e.dz)
		e.gradReady, e.gradLoss = true, sum
	} else {
		sum = e.batchLoss(nil, e.n, e.zfull, nil)
	}
	e.cached = true
	return sum / float64(e.n)
}

// step does one SGD step with step size lr on the batch (a batch of all n samples is processed in
// natural order) and returns the batch's mean loss at the parameters before the step.
func (e *fused) step(batch []int, lr float64) float64 {
	h, ld, d := e.h, e.stride, e.d
	m := len(batch)
	rows := batch
	var loss float64
	if m == e.n && e.gradReady {
		rows, loss = nil, e.gradLoss
	} else {
		if e.gradReady {
			panic("train: a full-batch gradient is pending, but the step is on a smaller batch")
		}
		z := e.z
		if m == e.n {
			rows = nil
			if e.cached {
				z = e.zfull
			} else {
				e.preactBatch(nil, z)
			}
		} else if e.cached && m < e.gemmMin {
			// the first step after a full-batch loss (fullLoss) at the same parameters: the
			// batch's pre-activations are rows of zfull, the same bits as a new forward pass
			// (every forward path sums each sample's terms alike); maskUpdate then marks the
			// batch's pixels itself
			for b, i := range rows {
				copy(z[b*ld:b*ld+h], e.zfull[i*ld:i*ld+h])
			}
		} else {
			e.preactBatch(rows, z)
		}
		loss = e.batchLoss(rows, m, z, e.dz)
	}
	e.cached, e.gradReady = false, false
	s := lr / float64(m)
	switch {
	case m >= e.gemmMin:
		x := e.ds.X[:m*d]
		if rows != nil {
			x = e.xb[:m*d] // gathered by preactBatch
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: m, Cols: d, Stride: d, Data: x},
			blas64.General{Rows: m, Cols: h, Stride: ld, Data: e.dz[:m*ld]},
			0, blas64.General{Rows: d, Cols: h, Stride: ld, Data: e.g1t})
		for q := 0; q < d; q++ {
			w, g := e.w1t[q*ld:q*ld+h], e.g1t[q*ld:q*ld+h]
			for j := range w {
				w[j] = math.FMA(-s, g[j], w[j]) // the row kernels' step (kernels.go)
			}
		}
	case rows == nil:
		if e.groups != nil {
			e.groupUpdate(s)
		} else {
			e.columnUpdate(e.sp.active, e.sp.cptr, e.sp.rows, e.sp.cval, m, s)
		}
	case m <= e.seqMax:
		// w += v (-s dz_b) for each sample b of the batch in turn (subOuter)
		sp := e.sp
		for b, i := range batch {
			subOuter(sp.idx[sp.ptr[i]:sp.ptr[i+1]], sp.val[sp.ptr[i]:sp.ptr[i+1]], e.w1t, ld, 0, d-1, e.dz[b*ld:b*ld+h], s)
		}
	case m <= e.bstride:
		e.maskUpdate(rows, s)
	default:
		e.outerUpdate(rows, s)
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

// seqMaxBatch is the largest batch whose step subtracts each sample's weight gradient s dz_b x_b^T
// from W1 in turn, in batch order, instead of summing the batch's gradient first: the weights
// become (((w - s g_1) - s g_2) ...) - s g_B rather than w - s (g_1 + ... + g_B), equal in exact
// arithmetic and apart by a few roundings of w per step (the gorgonia engine, which sums first, agrees to 1e-12 after 10,000
// steps at B = 8: TestFusedMatchesGorgonia). Summing first costs small batches a marking of the
// batch's pixels in the forward pass and a gather over them (maskUpdate); in turn, each sample's
// entries update W1's rows directly, as for B = 1 (subOuter), and the batch's per-sample rate
// rises above B = 1's. BenchmarkTrain at h = 20, load 0.7-1.2, summing first against in turn
// (samples/s): B = 8 361-396k against 455-501k (B = 1: 368-377k), B = 16 424-534k against
// 493-572k, B = 32 430-474k against 507-562k; at h = 100 B = 8 84-88k against 89-93k, B = 16
// 106-111k against 108-109k, B = 32 116-123k against 103-116k, B = 64 84-113k against 89-99k.
// Batches above 8 keep summing first, which changes no trajectory of the larger batches.
// At h >= sumFirstMinHidden the rows are long and the in-turn update's stores (a row of W1^T read
// and written for every entry of every sample, from the L2 cache) cost more than the marking:
// there every batch of 2 or more sums first (seqMaxFor). BenchmarkTrain and a scratch benchmark
// of B = 2, 4 on the Intel Xeon host (AVX-512, fused multiply-adds, two rounds, load 1.0-1.4),
// in turn against summing first: h = 52 B = 2 377-383k against 378-395k, B = 4 384-387k
// against 423-439k, B = 8 384-408k against 493-515k; h = 100 B = 2 207-210k against 212-214k,
// B = 4 214-224k against 242-263k, B = 8 203-225k against 249-288k; at h = 20, B = 8,
// 1,044-1,176k against 636-737k.
const seqMaxBatch = 8

// sumFirstMinHidden is the smallest h at which batches of 2 to seqMaxBatch samples sum their W1
// gradient first (seqMaxFor).
const sumFirstMinHidden = 52

// seqMaxFor is the largest batch whose step applies its samples' W1 gradients in turn at h
// hidden units: seqMaxBatch below sumFirstMinHidden, 1 from there on.
func seqMaxFor(h int) int {
	if h >= sumFirstMinHidden {
		return 1
	}
	return seqMaxBatch
}

// maskMaxBatch is the largest batch whose weight gradient maskUpdate computes (one bit per
// position in a uint64).
const maskMaxBatch = 64

// maskUpdate applies W1 -= s sum_b dz_b x_b^T for a batch of seqMax+1 to maskMaxBatch
// samples: it marks, for every touched pixel, the positions of the batch that have it (a bit mask, and the values
// beside it: markEntries, done by the batch's forward pass, preactBatch, or here), then sums each
// gradient row over those positions in increasing order from 0 in registers and updates the row
// once (maskRows): the same sums as outerUpdate's, with one store per row instead of one per
// entry, and no sort.
func (e *fused) maskUpdate(rows []int, s float64) {
	if !e.marked {
		sp, np := e.sp, 0
		for b, i := range rows {
			np = e.markEntries(b, sp.idx[sp.ptr[i]:sp.ptr[i+1]], sp.val[sp.ptr[i]:sp.ptr[i+1]], np)
		}
		e.npix = np
	}
	pix := e.bpix[:e.npix]
	maskRows(pix, e.bmask, e.bvals, e.bstride, e.dz, e.stride, e.h, e.w1t, s)
	for _, p := range pix {
		e.bmask[p] = 0
	}
	e.marked, e.npix = false, 0
}

// outerUpdate applies W1 -= s sum_b dz_b x_b^T for a batch of more than maskMaxBatch samples
// (and fewer than n): each sample's
// outer product is added into gacc (addOuter, samples in batch order, so every entry is summed
// over the batch in increasing position from 0), then the touched rows of W1^T are updated and
// their accumulators cleared (applyRows). Sorting the batch's entries by pixel and summing in
// registers (columnUpdate) measured slower at B = 8 and 64, because of the sort; the full batch,
// whose columns are sorted once (sparseX), uses columnUpdate.
func (e *fused) outerUpdate(rows []int, s float64) {
	h, ld, sp := e.h, e.stride, e.sp
	pix := e.bpix[:len(e.bseen)+1] // one spare slot for the last write of a full list
	np := 0
	for b, i := range rows {
		idx := sp.idx[sp.ptr[i]:sp.ptr[i+1]]
		for _, p := range idx {
			// append p to pix on its first touch, without a branch
			pix[np] = p
			np += int(1 - e.bseen[p])
			e.bseen[p] = 1
		}
		addOuter(idx, sp.val[sp.ptr[i]:sp.ptr[i+1]], e.gacc, ld, 0, e.d-1, e.dz[b*ld:b*ld+h])
	}
	pix = pix[:np]
	applyRows(pix, e.gacc, e.w1t, ld, h, s)
	for _, p := range pix {
		e.bseen[p] = 0
	}
}

// columnUpdate applies W1 -= s sum_b dz_b x_b^T from the inputs in compressed sparse columns:
// pixel p's entries are rows[ptr[p]:ptr[p+1]] (positions b among the m samples, increasing) with
// values vals, for the pixels p in pix (the others have none). Each gradient entry is summed over
// b in increasing order from 0, exactly as accumulating the samples one by one would, but in
// registers (dotRowsSub). (Blocks of 16 to 52 hidden units over all pixels, to keep a slice of
// W1^T in the L2 cache, measured slower at h = 100 than whole rows.)
func (e *fused) columnUpdate(pix, ptr, rows []int, vals []float64, m int, s float64) {
	h, ld := e.h, e.stride
	dz := e.dz[:m*ld]
	for _, p := range pix {
		lo, hi := ptr[p], ptr[p+1]
		dotRowsSub(rows[lo:hi], vals[lo:hi], dz, ld, 0, m-1, e.w1t[p*ld:p*ld+h], s)
	}
}

// sampleGroups cuts every pixel's column of entries (sparseX.rows, cval) at the groups of size
// consecutive samples: group g's segments are seg[sptr[g]:sptr[g+1]], triples (p, lo, hi) for
// the pixels p with entries in the group, which are rows[lo:hi] (positions in sparseX.rows); from
// seg[last[g]] on, those of the pixels whose last entries they are.
type sampleGroups struct {
	sptr, last []int
	seg        []int
}

func newSampleGroups(sp *sparseX, size int) *sampleGroups {
	n, d := len(sp.ptr)-1, len(sp.cptr)-1
	g := &sampleGroups{sptr: []int{0}}
	next := append([]int(nil), sp.cptr[:d]...) // column p's first entry not yet in a group
	var final []int
	for g0 := 0; g0 < n; g0 += size {
		final = final[:0]
		for _, p := range sp.active {
			lo := next[p]
			hi := lo
			for hi < sp.cptr[p+1] && sp.rows[hi] < g0+size {
				hi++
			}
			switch {
			case hi == lo:
			case hi == sp.cptr[p+1]:
				final = append(final, p, lo, hi)
			default:
				g.seg = append(g.seg, p, lo, hi)
			}
			next[p] = hi
		}
		g.last = append(g.last, len(g.seg))
		g.seg = append(g.seg, final...)
		g.sptr = append(g.sptr, len(g.seg))
	}
	return g
}

// groupUpdate applies W1 -= s sum_b dz_b x_b^T for the full batch (columnUpdate's update, bit
// for bit): group by group of samples, whose rows of dZ stay in the L1 cache while every pixel
// with entries in the group adds them to its running gradient sum in gacc (segDot: each sum over
// the samples in increasing order from +0, as columnUpdate's, the sum passing through gacc
// between groups); in the group that holds a pixel's last entries, its row of W1^T takes the step
// w -= s g as columnUpdate computes it, and its row of gacc is cleared (segDotSub).
func (e *fused) groupUpdate(s float64) {
	h, ld, sp, g := e.h, e.stride, e.sp, e.groups
	for k := 0; k+1 < len(g.sptr); k++ {
		segDot(g.seg[g.sptr[k]:g.last[k]], sp.rows, sp.cval, e.dz, ld, h, e.n-1, e.gacc, ld, e.d)
		segDotSub(g.seg[g.last[k]:g.sptr[k+1]], sp.rows, sp.cval, e.dz, ld, h, e.n-1, e.gacc, ld, e.d, e.w1t, s)
	}
}
