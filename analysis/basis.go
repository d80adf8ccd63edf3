package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// problem is the analysis problem written in an orthonormal eigenbasis V (d x r) of range(H):
// there H is diag(l) with l_1 >= ... >= l_r > RankTol * l_1, and the per-sample Hessians are
// Hh_i = V^T H_i V (r x r). Every quantity of THEORY.md lives on range(H), so nothing else is
// needed, except the maps between basis coordinates and parameters.
type problem struct {
	n, d, r int
	scale   float64   // every curvature below is H / scale (scale-free numerics; results are rescaled)
	l       []float64 // eigenvalues of H on range(H), descending
	nullMax float64   // largest |eigenvalue| of H declared zero (0 if none)
	curv    curvature
	space   paramSpace
}

// curvature is the family of per-sample Hessians Hh_i (r x r) in the basis. The dense and the
// factored input implement it differently; all matrices are row-major.
type curvature interface {
	// sandwich sets the upper triangle of dst to that of (1/n) sum_i Hh_i S Hh_i for a
	// symmetric r x r S given by its upper triangle (the lower triangles of s and dst are
	// neither read nor defined).
	sandwich(dst, s []float64) error
	// imageRows is the number of rows of the images of a column (factored: n k; dense: n r).
	imageRows() int
	// images sets y (imageRows x cols) to the images of the cols columns of z (r x cols), what
	// the quadratic forms of the Hh_i need of them: factored, B z_j (the k coordinates
	// G_i V z_j of every sample); dense, Hh_i z_j for every i. Images are linear in z.
	images(y, z []float64, cols int)
	// blockForms sets out[((i*m+j)*c+x)*c+y] = z_{x m + j}^T Hh_i z_{y m + j} for Z (r x c m)
	// and its images yz: the c x c matrices of every Hh_i on the subspaces spanned by the
	// column groups j (c = 1: the forms v_j^T Hh_i v_j, at out[i*m+j]).
	blockForms(out, z, yz []float64, m, c int)
	// weighted sets dst[:, j] = sum_i w[i*m+j] Hh_i v_j (dst r x m) from the images yv of the m
	// columns v_j.
	weighted(dst, yv []float64, m int, w []float64)
	// diagonals sets q[i*r+a] = Hh_i[a, a].
	diagonals(q []float64)
	// frob2 returns ||Hh_i||_F^2 = ||H_i||_F^2.
	frob2(i int) float64
	// top returns the largest eigenvalue of Hh_i and writes a unit eigenvector into v (length r).
	top(i int, v []float64) (float64, error)
	// squares sets dst = (1/n) sum_i Hh_i^2 x for a vector x of length r.
	squares(dst, x []float64)
}

// paramSpace maps between basis coordinates and parameters (length d).
type paramSpace interface {
	// toParams sets xs[j] = V ys[j] for every j (in one pass over the factors of factored input).
	toParams(xs, ys [][]float64)
	// project sets y[i*r:(i+1)*r] = V^T g_i for every g_i (len(g) vectors).
	project(y []float64, g [][]float64)
}

// --- dense input ---

type denseCurv struct {
	n, r int
	all  []float64   // n*r x r: the Hh_i stacked
	h    [][]float64 // Hh_i, r x r, views into all
	tmp  []float64
	full []float64 // r x r: S with both triangles
}

type denseSpace struct {
	d, r int
	v    []float64 // d x r
}

func (s *denseSpace) toParams(xs, ys [][]float64) {
	for j, y := range ys {
		blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: s.d, Cols: s.r, Stride: s.r, Data: s.v},
			blas64.Vector{N: s.r, Inc: 1, Data: y}, 0, blas64.Vector{N: s.d, Inc: 1, Data: xs[j]})
	}
}

func (s *denseSpace) project(y []float64, g [][]float64) {
	for i, gi := range g {
		blas64.Gemv(blas.Trans, 1, blas64.General{Rows: s.d, Cols: s.r, Stride: s.r, Data: s.v},
			blas64.Vector{N: s.d, Inc: 1, Data: gi}, 0, blas64.Vector{N: s.r, Inc: 1, Data: y[i*s.r : (i+1)*s.r]})
	}
}

// newDenseProblem eigendecomposes H = (1/n) sum_i H_i and rotates every H_i into the basis.
func newDenseProblem(in *Dense, rankTol float64) (*problem, error) {
	d, n := in.D, in.N
	scale := 0.0
	for _, h := range in.Hessians {
		for _, v := range h {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	if scale == 0 {
		return nil, fmt.Errorf("analysis: H = (1/n) sum_i H_i is zero: no curvature, every threshold is infinite")
	}
	hm := make([]float64, d*d)
	sym := make([][]float64, n)
	for i, h := range in.Hessians {
		sym[i] = make([]float64, d*d)
		symmetrizeInto(sym[i], h, d)
		for a := range sym[i] {
			sym[i][a] /= scale
		}
		for a, v := range sym[i] {
			hm[a] += v / float64(n)
		}
	}
	w := make([]float64, d)
	if err := linalg.EigSym(d, hm, w, true); err != nil {
		return nil, fmt.Errorf("analysis: eigendecomposition of H: %v", err)
	}
	lmax := w[d-1]
	if lmax <= 0 {
		return nil, fmt.Errorf("analysis: H = (1/n) sum_i H_i is zero: no curvature, every threshold is infinite")
	}
	r, null := rangeRank(w, rankTol)
	p := &problem{n: n, d: d, r: r, l: make([]float64, r), scale: scale, nullMax: null}
	v := make([]float64, d*r) // d x r, column a = eigenvector of the a-th largest eigenvalue
	for a := 0; a < r; a++ {
		p.l[a] = w[d-1-a]
		row := hm[(d-1-a)*d : (d-a)*d]
		for k := 0; k < d; k++ {
			v[k*r+a] = row[k]
		}
	}
	vg := blas64.General{Rows: d, Cols: r, Stride: r, Data: v}
	c := &denseCurv{n: n, r: r, h: make([][]float64, n), tmp: make([]float64, d*r+r*r), all: make([]float64, n*r*r)}
	tmp := make([]float64, d*r)
	for i := range sym {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, blas64.General{Rows: d, Cols: d, Stride: d, Data: sym[i]}, vg, 0,
			blas64.General{Rows: d, Cols: r, Stride: r, Data: tmp})
		hi := c.all[i*r*r : (i+1)*r*r]
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, vg, blas64.General{Rows: d, Cols: r, Stride: r, Data: tmp}, 0,
			blas64.General{Rows: r, Cols: r, Stride: r, Data: hi})
		symmetrizeInto(hi, hi, r)
		c.h[i] = hi
	}
	p.curv = c
	p.space = &denseSpace{d: d, r: r, v: v}
	return p, nil
}

func gen(rows, cols int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

func (c *denseCurv) sandwich(dst, s []float64) error {
	r := c.r
	t := c.tmp[:r*r]
	if c.full == nil {
		c.full = make([]float64, r*r)
	}
	for a := 0; a < r; a++ { // S from its upper triangle
		copy(c.full[a*r+a:(a+1)*r], s[a*r+a:(a+1)*r])
	}
	mirrorUpper(c.full, r)
	s = c.full
	for a := range dst[:r*r] {
		dst[a] = 0
	}
	for _, h := range c.h {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(r, r, h), gen(r, r, s), 0, gen(r, r, t))
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1/float64(c.n), gen(r, r, t), gen(r, r, h), 1, gen(r, r, dst))
	}
	symmetrizeInto(dst, dst, r)
	return nil
}

func (c *denseCurv) imageRows() int { return c.n * c.r }

func (c *denseCurv) images(y, z []float64, cols int) {
	r := c.r
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(c.n*r, r, c.all), gen(r, cols, z), 0, gen(c.n*r, cols, y))
}

func (c *denseCurv) weighted(dst, yv []float64, m int, w []float64) {
	r := c.r
	for a := range dst[:r*m] {
		dst[a] = 0
	}
	for i := 0; i < c.n; i++ {
		yi := yv[i*r*m : (i+1)*r*m]
		for a := 0; a < r; a++ {
			for j := 0; j < m; j++ {
				dst[a*m+j] += w[i*m+j] * yi[a*m+j]
			}
		}
	}
}

func (c *denseCurv) blockForms(out, z, yz []float64, m, nc int) {
	r, cm := c.r, nc*m
	for i := 0; i < c.n; i++ {
		yi := yz[i*r*cm : (i+1)*r*cm]
		for j := 0; j < m; j++ {
			o := out[(i*m+j)*nc*nc : (i*m+j+1)*nc*nc]
			for x := 0; x < nc; x++ {
				for w := x; w < nc; w++ {
					s := 0.0
					for a := 0; a < r; a++ {
						s += z[a*cm+x*m+j] * yi[a*cm+w*m+j]
					}
					o[x*nc+w], o[w*nc+x] = s, s
				}
			}
		}
	}
}

func (c *denseCurv) diagonals(q []float64) {
	r := c.r
	for i, h := range c.h {
		for a := 0; a < r; a++ {
			q[i*r+a] = h[a*r+a]
		}
	}
}

func (c *denseCurv) frob2(i int) float64 {
	s := 0.0
	for _, v := range c.h[i] {
		s += v * v
	}
	return s
}

func (c *denseCurv) top(i int, v []float64) (float64, error) {
	r := c.r
	a := append([]float64(nil), c.h[i]...)
	w := make([]float64, r)
	if err := linalg.EigSym(r, a, w, true); err != nil {
		return 0, fmt.Errorf("analysis: eigendecomposition of H_%d in the basis: %w", i, err)
	}
	copy(v, a[(r-1)*r:r*r])
	return w[r-1], nil
}

func (c *denseCurv) squares(dst, x []float64) {
	r := c.r
	t := make([]float64, r)
	for a := range dst[:r] {
		dst[a] = 0
	}
	for _, h := range c.h {
		blas64.Gemv(blas.NoTrans, 1, gen(r, r, h), blas64.Vector{N: r, Inc: 1, Data: x}, 0, blas64.Vector{N: r, Inc: 1, Data: t})
		blas64.Gemv(blas.NoTrans, 1/float64(c.n), gen(r, r, h), blas64.Vector{N: r, Inc: 1, Data: t}, 1, blas64.Vector{N: r, Inc: 1, Data: dst})
	}
}

// --- factored input ---

// factCurv represents Hh_i = B_i^T B_i with B (nk x r) the stacked factors in the basis:
// B_i = G_i V with G_i = M^{1/2} J_i and V (d x r) an orthonormal eigenbasis of range(H) in which
// B^T B = G^T G restricted to range(H) = n diag(l). The basis comes from the nk x nk Gram matrix
// (gramBasis) or from H itself (hessianBasis); everything here is the same for both.
type factCurv struct {
	n, k, r int
	b       []float64 // nk x r
	gram    [][]float64
	w       []float64 // nk x r work space
	u       []float64 // r x r: the upper triangle of S with half its diagonal
	f       []float64 // nk x r, signed square-root factors
	// single-precision copies and work space of sandwich32 (allocated on first use)
	b32, w32, f32, s32 []float32
	// outCoef is nil, or e (n x k) with g_i = G_i^T e_i for the gradients (outputCoefficients)
	outCoef []float64
}

// factSpace holds the stacked factors G = [root J_1; ...; root J_n] without copying them, and,
// after gramBasis, the maps between the Gram basis and parameter space.
type factSpace struct {
	n, k, d, r int
	roots      [][]float64 // k x k each: (M_i / sm)^{1/2} / sj, so that G_i = root_i J_i (scaled); one entry when M is shared
	j          [][]float64 // the J_i, k x d each (the caller's factors; never copied whole)
	cols       []int       // parameter index of each column of G that is not identically zero
	u          []float64   // nk x r: U_r
	s          []float64   // singular values s_a
}

// basisPath selects how newFactoredProblem finds the eigenbasis of range(H).
type basisPath int

const (
	pathAuto    basisPath = iota // pathHessian when d < nk (see hessianPath), else pathGram
	pathGram                     // eigendecomposition of the nk x nk Gram matrix G G^T
	pathHessian                  // eigendecomposition of the d x d matrix n H = G^T G
)

// hessianPath reports whether the factored analysis of n samples with k outputs in dimension d
// takes its basis from H itself (d x d) rather than from the nk x nk Gram matrix: when d < nk.
// Both have the same nonzero eigenvalues n l_a; the smaller matrix is decomposed.
func hessianPath(n, k, d int) bool { return float64(d) < float64(n)*float64(k) }

// newFactoredProblem finds an orthonormal eigenbasis of range(H), H = (1/n) sum_i G_i^T G_i with
// G_i = M^{1/2} J_i (over the parameters whose column is not zero for every sample: the others
// lie in null(H)), by the path chosen (pathAuto: [hessianPath]), and the factors B = G V in it.
// opt (resolved) gives RankTol, and SymTol and Seed for the check of a given Gram matrix.
func newFactoredProblem(in *Factored, opt Options, path basisPath) (*problem, error) {
	rankTol := opt.RankTol
	n, k, d := in.N, in.K, in.D
	// M_i^{1/2}: work with J / sj and M_i / sm, i.e. H / (sj^2 sm)
	sm, sj := 0.0, 0.0
	nm := 1
	if in.OutputHessians != nil {
		nm = n
	}
	for i := 0; i < nm; i++ {
		for _, v := range in.outputHessian(i) {
			sm = math.Max(sm, math.Abs(v))
		}
	}
	if path == pathAuto {
		path = pathGram
		if hessianPath(n, k, d) {
			path = pathHessian
		}
	}
	// A given Gram matrix is checked on a random probe u (givenGram), and G^T u is summed in the
	// pass below: with the roots of M_i / sm, so that G^T u is that sum over sj. (With sm = 0 there
	// is no curvature, reported below.)
	var probe, probeW, probeX []float64
	if path == pathGram && in.Gram != nil && sm > 0 {
		probe = gramProbe(n*k, opt.Seed)
		probeW = make([]float64, n*k)
		probeX = make([]float64, d)
		var r1 []float64
		for i := 0; i < n; i++ {
			if i < nm {
				var err error
				if r1, err = psdRoot(in.outputHessian(i), k, sm, 1); err != nil {
					return nil, outputHessianError(i, nm, err)
				}
			}
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					probeW[i*k+a] += r1[a*k+b] * probe[i*k+b] // (M_i / sm)^{1/2} u_i: the root is symmetric
				}
			}
		}
	}
	// one pass over the factors (n k d entries, 1.3 GB at the paper's h = 100): the largest
	// |entry|, the columns that are not identically zero (the factors are finite: Validate), and
	// the probe's sum_i J_i^T (M_i / sm)^{1/2} u_i (each row while it is in the cache)
	used := make([]bool, d)
	var mu sync.Mutex
	workers := factorWorkers(n, k, d)
	linalg.Parallel(workers, func(w int) int { return w * d / workers }, func(c0, c1 int) {
		m := 0.0
		for i, j := range in.Factors {
			for a := 0; a < k; a++ {
				row := j[a*d+c0 : a*d+c1]
				for c, v := range row {
					if v != 0 {
						used[c0+c] = true
						m = math.Max(m, math.Abs(v))
					}
				}
				if probeX == nil || probeW[i*k+a] == 0 {
					continue
				}
				px, wa := probeX[c0:c1], probeW[i*k+a]
				for c, v := range row {
					px[c] += wa * v
				}
			}
		}
		mu.Lock()
		sj = math.Max(sj, m)
		mu.Unlock()
	})
	if sm == 0 || sj == 0 {
		return nil, fmt.Errorf("analysis: H = (1/n) sum_i J_i^T M_i J_i is zero: no curvature, every threshold is infinite")
	}
	roots := make([][]float64, nm)
	for i := range roots {
		var err error
		if roots[i], err = psdRoot(in.outputHessian(i), k, sm, sj); err != nil {
			return nil, outputHessianError(i, nm, err)
		}
	}
	var cols []int
	for c, u := range used {
		if u {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("analysis: every factor J_i is zero: H = 0, no curvature, every threshold is infinite")
	}
	space := &factSpace{n: n, k: k, d: d, roots: roots, j: in.Factors, cols: cols}
	var p *problem
	var b []float64
	var err error
	if path == pathHessian {
		p, b, err = space.hessianBasis(rankTol)
	} else {
		var gram []float64
		if in.Gram != nil {
			for c := range probeX {
				probeX[c] /= sj
			}
			if gram, err = space.givenGram(in.Gram, sj*sj*sm, opt.SymTol, probe, probeX); err != nil {
				return nil, err
			}
		}
		p, b, err = space.gramBasis(gram, rankTol)
	}
	if err != nil {
		return nil, err
	}
	p.scale = sj * sj * sm
	r := p.r
	c := &factCurv{n: n, k: k, r: r, b: b, gram: make([][]float64, n)}
	for i := 0; i < n; i++ {
		bi := gen(k, r, b[i*k*r:(i+1)*k*r])
		gi := make([]float64, k*k)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, bi, bi, 0, gen(k, k, gi))
		c.gram[i] = gi
	}
	if in.OutputGradients != nil {
		c.outCoef = outputCoefficients(space, in.OutputGradients)
	}
	p.curv = c
	return p, nil
}

// outputHessianError is the error of the square root of output Hessian i (of nm given).
func outputHessianError(i, nm int, err error) error {
	if nm > 1 {
		return fmt.Errorf("analysis: output Hessian %d: %v", i, err)
	}
	return fmt.Errorf("analysis: output Hessian: %v", err)
}

// psdRoot returns (m / sm)^{1/2} / sj for a symmetric PSD k x k m (row-major): the symmetric
// square root from the eigendecomposition, eigenvalues below zero (rounding of an exactly PSD,
// possibly rank-deficient m such as cross-entropy's diag(s) - s s^T; the input was checked PSD
// with relative slack) taken as zero, so the root has the rank of m.
func psdRoot(m []float64, k int, sm, sj float64) ([]float64, error) {
	msym := make([]float64, k*k)
	symmetrizeInto(msym, m, k)
	for a := range msym {
		msym[a] /= sm
	}
	mw := make([]float64, k)
	if err := linalg.EigSym(k, msym, mw, true); err != nil {
		return nil, err
	}
	root := make([]float64, k*k)
	for j := 0; j < k; j++ {
		s := math.Sqrt(math.Max(mw[j], 0)) / sj
		e := msym[j*k : (j+1)*k]
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				root[a*k+b] += s * e[a] * e[b]
			}
		}
	}
	return root, nil
}

// root returns the scaled M_i^{1/2} of sample i.
func (s *factSpace) root(i int) []float64 {
	if len(s.roots) == 1 {
		return s.roots[0]
	}
	return s.roots[i]
}

// rangeRank returns the number r of eigenvalues (w ascending, w[len-1] > 0) above
// rankTol * max(w), and the largest |eigenvalue| declared zero (0 if none).
func rangeRank(w []float64, rankTol float64) (int, float64) {
	m := len(w)
	r := 0
	for r < m && w[m-1-r] > rankTol*w[m-1] {
		r++
	}
	if r == m {
		return r, 0
	}
	return r, math.Max(math.Abs(w[m-1-r]), math.Abs(w[0]))
}

// gramBasis eigendecomposes the Gram matrix K = G G^T = U diag(s^2) U^T (nk x nk), the scaled
// gram if it is not nil (it is overwritten), else multiplied out of the factors. Then
// V = G^T U_r diag(1/s) and B = G V = U_r diag(s): H is diag(s^2 / n) in this basis, and B comes
// straight out of the Gram eigendecomposition. The parameter maps are s's (toParams, project).
func (s *factSpace) gramBasis(gram []float64, rankTol float64) (*problem, []float64, error) {
	n := s.n
	nk := n * s.k
	if gram == nil {
		gram = gramMatrix(nk, len(s.cols), gramChunk, s.gather)
	}
	w := make([]float64, nk)
	if err := linalg.EigSym(nk, gram, w, true); err != nil {
		return nil, nil, fmt.Errorf("analysis: eigendecomposition of the Gram matrix: %v", err)
	}
	if w[nk-1] <= 0 {
		return nil, nil, fmt.Errorf("analysis: H = (1/n) sum_i J_i^T M J_i is zero: no curvature, every threshold is infinite")
	}
	r, null := rangeRank(w, rankTol)
	p := &problem{n: n, d: s.d, r: r, l: make([]float64, r), nullMax: null / float64(n)}
	u := make([]float64, nk*r)
	b := make([]float64, nk*r)
	sv := make([]float64, r)
	for a := 0; a < r; a++ {
		sq := w[nk-1-a]
		p.l[a] = sq / float64(n)
		sv[a] = math.Sqrt(sq)
	}
	// u[x, a] = eigenvector a (row nk-1-a of gram) at x, b = u diag(s): a transpose, in tiles
	// of 32 x 32 (a column-by-column one writes a new cache line at every entry), the tile rows
	// split between the cores
	const tile = 32
	tiles := (r + tile - 1) / tile
	workers := min(runtime.GOMAXPROCS(0), tiles)
	linalg.Parallel(workers, func(w int) int { return min(r, w*tiles/workers*tile) }, func(a0, a1 int) {
		for ta := a0; ta < a1; ta += tile {
			for x0 := 0; x0 < nk; x0 += tile {
				for a := ta; a < min(ta+tile, a1); a++ {
					vec := gram[(nk-1-a)*nk : (nk-a)*nk]
					for x := x0; x < min(x0+tile, nk); x++ {
						u[x*r+a] = vec[x]
						b[x*r+a] = vec[x] * sv[a]
					}
				}
			}
		}
	})
	s.r, s.u, s.s = r, u, sv
	p.space = s
	return p, b, nil
}

// hessianBasis eigendecomposes n H = G^T G = sum_i G_i^T G_i (d_c x d_c over the d_c columns of
// G that are not zero), accumulated over blocks of samples by symmetric rank-k updates:
// G^T G = V diag(s^2) V^T, H = V diag(s^2 / n) V^T, and B = G V_r (a second pass over the
// blocks). V_r, with zero rows at the columns left out, is an orthonormal basis of range(H) in
// parameter space, so the parameter maps are those of the dense input (x = V y, y = V^T g).
func (s *factSpace) hessianBasis(rankTol float64) (*problem, []float64, error) {
	n, k, d, dc := s.n, s.k, s.d, len(s.cols)
	per := max(1, gramChunk/k) // samples per block
	buf := make([]float64, min(per, n)*k*dc)
	hm := make([]float64, dc*dc)
	out := blas64.Symmetric{Uplo: blas.Upper, N: dc, Stride: dc, Data: hm}
	for i0 := 0; i0 < n; i0 += per {
		i1 := min(n, i0+per)
		blk := buf[:(i1-i0)*k*dc]
		s.gatherRows(blk, i0, i1, 0, dc)
		blas64.Syrk(blas.Trans, 1, gen((i1-i0)*k, dc, blk), 1, out)
	}
	mirrorUpper(hm, dc)
	w := make([]float64, dc)
	if err := linalg.EigSym(dc, hm, w, true); err != nil {
		return nil, nil, fmt.Errorf("analysis: eigendecomposition of the %d x %d matrix n H = sum_i J_i^T M J_i: %v", dc, dc, err)
	}
	if w[dc-1] <= 0 {
		return nil, nil, fmt.Errorf("analysis: H = (1/n) sum_i J_i^T M J_i is zero: no curvature, every threshold is infinite")
	}
	r, null := rangeRank(w, rankTol)
	p := &problem{n: n, d: d, r: r, l: make([]float64, r), nullMax: null / float64(n)}
	v := make([]float64, dc*r) // column a = eigenvector of the a-th largest eigenvalue
	for a := 0; a < r; a++ {
		p.l[a] = w[dc-1-a] / float64(n)
		row := hm[(dc-1-a)*dc : (dc-a)*dc]
		for x := 0; x < dc; x++ {
			v[x*r+a] = row[x]
		}
	}
	b := make([]float64, n*k*r)
	for i0 := 0; i0 < n; i0 += per {
		i1 := min(n, i0+per)
		blk := buf[:(i1-i0)*k*dc]
		s.gatherRows(blk, i0, i1, 0, dc)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen((i1-i0)*k, dc, blk), gen(dc, r, v), 0, gen((i1-i0)*k, r, b[i0*k*r:i1*k*r]))
	}
	full := make([]float64, d*r)
	for t, c := range s.cols {
		copy(full[c*r:(c+1)*r], v[t*r:(t+1)*r])
	}
	p.space = &denseSpace{d: d, r: r, v: full}
	return p, b, nil
}

// gather sets dst (nk x w, row-major) to the columns cols[c0:c0+w] of G = [root_1 J_1; ...; root_n J_n].
func (s *factSpace) gather(dst []float64, c0, w int) { s.gatherRows(dst, 0, s.n, c0, w) }

// gatherRows sets dst ((i1-i0) k x w, row-major) to the columns cols[c0:c0+w] of the rows
// root J_i of G for the samples i0 <= i < i1.
func (s *factSpace) gatherRows(dst []float64, i0, i1, c0, w int) {
	k, d := s.k, s.d
	cs := s.cols[c0 : c0+w]
	for i, ji := range s.j[i0:i1] {
		root := s.root(i0 + i)
		for a := 0; a < k; a++ {
			row := dst[(i*k+a)*w : (i*k+a+1)*w]
			clear(row)
			for b := 0; b < k; b++ {
				rab := root[a*k+b]
				if rab == 0 {
					continue
				}
				src := ji[b*d : (b+1)*d]
				for t, c := range cs {
					row[t] += rab * src[c]
				}
			}
		}
	}
}

// gramProbe is the random probe u (length nk, seeded) on which givenGram checks a given Gram
// matrix.
func gramProbe(nk int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6772616d))
	u := make([]float64, nk)
	for a := range u {
		u[a] = rng.NormFloat64()
	}
	return u
}

// givenGram returns a caller's Gram matrix K = G G^T (unscaled G) divided by scale (the scaling
// of the factors, sj^2 sm), after checking that it is symmetric and agrees with the factors on
// the probe u (gramProbe) with gtu = G^T u: ||K u - G (G^T u)|| <= tol ||K||_F ||u||, both to
// tol relative.
func (s *factSpace) givenGram(k []float64, scale, tol float64, u, gtu []float64) ([]float64, error) {
	nk := s.n * s.k
	frob := 0.0
	for a := 0; a < nk; a++ {
		for b := a; b < nk; b++ {
			v := k[a*nk+b]
			frob += v * v
			if a != b {
				frob += v * v
			}
		}
	}
	frob = math.Sqrt(frob)
	for a := 0; a < nk; a++ {
		for b := a + 1; b < nk; b++ {
			if math.Abs(k[a*nk+b]-k[b*nk+a]) > tol*frob {
				return nil, fmt.Errorf("analysis: the Gram matrix is not symmetric: entry (%d,%d) = %g but (%d,%d) = %g", a, b, k[a*nk+b], b, a, k[b*nk+a])
			}
		}
	}
	gram := make([]float64, nk*nk)
	for a, v := range k[:nk*nk] {
		gram[a] = v / scale
	}
	gu := make([]float64, nk)
	s.mulG(gu, gtu)
	blas64.Gemv(blas.NoTrans, 1, gen(nk, nk, gram), vec(u), -1, vec(gu))
	if e, lim := blas64.Nrm2(vec(gu)), tol*frob/scale*blas64.Nrm2(vec(u)); !(e <= lim) {
		return nil, fmt.Errorf("analysis: the Gram matrix does not match the factors: ||K u - G G^T u|| / (||K||_F ||u||) = %.3g for a random u (tolerance %g); it must be G G^T for G_i = M_i^{1/2} J_i",
			e/(frob/scale*blas64.Nrm2(vec(u))), tol)
	}
	return gram, nil
}

// rootRangeTol: an eigenvalue of a scaled root M_i^{1/2} at or below rootRangeTol times its
// largest is taken as zero by outputCoefficients (a root of an exactly singular M_i, such as
// cross-entropy's, has eigenvalues of order sqrt(eps) there), and an output gradient is in
// range(M_i) if its component outside is at most rootRangeTol of its norm.
const rootRangeTol = 1e-6

// outputCoefficients returns e (n x k) with root_i e_i = q_i for the output gradients q (n x k),
// e_i = root_i^+ q_i, so that the gradients g_i = J_i^T q_i are G_i^T e_i (root_i symmetric);
// nil if some q_i is not in range(root_i) = range(M_i).
func outputCoefficients(sp *factSpace, q []float64) []float64 {
	n, k := sp.n, sp.k
	pinvs := make([][]float64, len(sp.roots)) // root^+ (k x k), one per distinct root
	for i, root := range sp.roots {
		z := append([]float64(nil), root...)
		w := make([]float64, k)
		if err := linalg.EigSym(k, z, w, true); err != nil {
			return nil
		}
		p := make([]float64, k*k)
		for j, lj := range w {
			if !(lj > rootRangeTol*w[k-1]) {
				continue
			}
			v := z[j*k : (j+1)*k]
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					p[a*k+b] += v[a] * v[b] / lj
				}
			}
		}
		pinvs[i] = p
	}
	e := make([]float64, n*k)
	for i := 0; i < n; i++ {
		root, p := sp.root(i), pinvs[0]
		if len(pinvs) > 1 {
			p = pinvs[i]
		}
		qi, ei := q[i*k:(i+1)*k], e[i*k:(i+1)*k]
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				ei[a] += p[a*k+b] * qi[b]
			}
		}
		res, nq := 0.0, 0.0 // ||root_i e_i - q_i||^2 and ||q_i||^2
		for a := 0; a < k; a++ {
			v := 0.0
			for b := 0; b < k; b++ {
				v += root[a*k+b] * ei[b]
			}
			res += (v - qi[a]) * (v - qi[a])
			nq += qi[a] * qi[a]
		}
		if !(res <= rootRangeTol*rootRangeTol*nq) {
			return nil
		}
	}
	return e
}

// outputProjection sets y (n x r) to the basis coordinates V^T g_i of the gradients
// g_i = J_i^T q_i from their output gradients (Factored.OutputGradients): with
// g_i = G_i^T e_i (outputCoefficients), V^T g_i = (G_i V)^T e_i = B_i^T e_i, n k r flops
// instead of the n k d n of paramSpace.project (the same on both basis paths, where B = G V).
// It returns false, leaving y alone, when there are no such coefficients.
func outputProjection(pr *problem, y []float64) bool {
	c, ok := pr.curv.(*factCurv)
	if !ok || c.outCoef == nil {
		return false
	}
	k, r := c.k, c.r
	for i := 0; i < c.n; i++ {
		blas64.Gemv(blas.Trans, 1, gen(k, r, c.b[i*k*r:(i+1)*k*r]), vec(c.outCoef[i*k:(i+1)*k]), 0, vec(y[i*r:(i+1)*r]))
	}
	return true
}

// factorsMinParallel is the number of factor entries n k d from which the passes over the
// factors (memory-bound at the paper's h = 100: 1.3 GB) split their work between the cores.
const factorsMinParallel = 1 << 20

// factorWorkers is the number of goroutines of a pass over n k d factor entries.
func factorWorkers(n, k, d int) int {
	if float64(n)*float64(k)*float64(d) < factorsMinParallel {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), d))
}

// mulG sets z = G x (length nk) for x of length d: z_i = root_i (J_i x), the samples split
// between the cores.
func (s *factSpace) mulG(z, x []float64) {
	k, d := s.k, s.d
	workers := factorWorkers(s.n, k, d)
	linalg.Parallel(workers, func(w int) int { return w * s.n / workers }, func(i0, i1 int) {
		jx := make([]float64, k)
		for i := i0; i < i1; i++ {
			ji := s.j[i]
			for b := 0; b < k; b++ {
				jx[b] = linalg.Dot(ji[b*d:(b+1)*d], x[:d])
			}
			root := s.root(i)
			for a := 0; a < k; a++ {
				v := 0.0
				for b := 0; b < k; b++ {
					v += root[a*k+b] * jx[b]
				}
				z[i*k+a] = v
			}
		}
	})
}

// mulGT sets xs[j] = G^T zs[j] = sum_i J_i^T root_i^T z_{j,i} (length d) for every zs[j] of
// length nk, in one pass over the factors (each row of J_i used for all the zs while it is in
// the cache), the entries of the xs split between the cores (each summed over i in order, as on
// one core).
func (s *factSpace) mulGT(xs, zs [][]float64) {
	k, d := s.k, s.d
	cs := make([][]float64, len(zs)) // cs[j][i k + b] = (root_i^T z_{j,i})_b
	for j, z := range zs {
		cs[j] = make([]float64, s.n*k)
		for i := range s.j {
			root := s.root(i)
			for b := 0; b < k; b++ {
				cb := 0.0
				for a := 0; a < k; a++ {
					cb += root[a*k+b] * z[i*k+a]
				}
				cs[j][i*k+b] = cb
			}
		}
	}
	workers := factorWorkers(s.n, k, d)
	linalg.Parallel(workers, func(w int) int { return w * d / workers }, func(q0, q1 int) {
		for _, x := range xs {
			clear(x[q0:q1])
		}
		for i, ji := range s.j {
			for b := 0; b < k; b++ {
				src := ji[b*d+q0 : b*d+q1]
				for j, x := range xs {
					cb := cs[j][i*k+b]
					if cb == 0 {
						continue
					}
					xq := x[q0:q1]
					for q, v := range src {
						xq[q] += cb * v
					}
				}
			}
		}
	})
}

// toParams computes x = V y = G^T U_r diag(1/s) y = sum_i J_i^T root^T z_i with z = U_r diag(1/s) y
// for every pair (xs[j], ys[j]), in one pass over the factors (mulGT).
func (s *factSpace) toParams(xs, ys [][]float64) {
	n, k := s.n, s.k
	zs := make([][]float64, len(ys))
	for j, y := range ys {
		zs[j] = make([]float64, n*k)
		ysc := make([]float64, s.r)
		for a := range ysc {
			ysc[a] = y[a] / s.s[a]
		}
		blas64.Gemv(blas.NoTrans, 1, gen(n*k, s.r, s.u), blas64.Vector{N: s.r, Inc: 1, Data: ysc}, 0, blas64.Vector{N: n * k, Inc: 1, Data: zs[j]})
	}
	s.mulGT(xs, zs)
}

// project computes V^T g_i = diag(1/s) U_r^T G g_i for all i: G g_i is accumulated over column
// chunks of G (one matrix product each), then one product with U_r.
func (s *factSpace) project(y []float64, g [][]float64) {
	nk, dc, m := s.n*s.k, len(s.cols), len(g)
	w := min(gramChunk, dc)
	buf := make([]float64, nk*w)
	gc := make([]float64, m*w)
	pg := make([]float64, nk*m)
	for c0 := 0; c0 < dc; c0 += w {
		wc := min(w, dc-c0)
		s.gather(buf[:nk*wc], c0, wc)
		for i, gi := range g {
			for t, c := range s.cols[c0 : c0+wc] {
				gc[i*wc+t] = gi[c]
			}
		}
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(nk, wc, buf[:nk*wc]), gen(m, wc, gc[:m*wc]), 1, gen(nk, m, pg))
	}
	// y (m x r) = pg^T U_r diag(1/s)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(nk, m, pg), gen(nk, s.r, s.u), 0, gen(m, s.r, y))
	for i := 0; i < m; i++ {
		for a := 0; a < s.r; a++ {
			y[i*s.r+a] /= s.s[a]
		}
	}
}

// sandwich computes (1/n) sum_i B_i^T (B_i S B_i^T) B_i. With S = U + U^T (U the upper triangle
// of S with half its diagonal), B_i S B_i^T = X_i + X_i^T for X_i = (B U)_i B_i^T, so that the
// large product is the triangular W = B U (n k r^2 flops, half of W = B S). Then
// Z_i = B_i S B_i^T = E_i diag(z) E_i^T (k x k), F_i = diag(sqrt|z|) E_i^T B_i, and the result is
// F+^T F+ - F-^T F- (two symmetric rank-k updates, n k r^2 flops): about 2 n k r^2 flops in all
// (linalg.TrmmRightUpper and linalg.SyrkTrans, as fast per flop as a general product in both
// backends).
func (c *factCurv) sandwich(dst, s []float64) error {
	n, k, r := c.n, c.k, c.r
	nk := n * k
	if c.w == nil {
		c.w = make([]float64, nk*r)
		c.f = make([]float64, nk*r)
		c.u = make([]float64, r*r)
	}
	halfDiagonal(c.u, s, r)
	parallelCopy(c.w, c.b[:nk*r])
	linalg.TrmmRightUpper(blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: r, Stride: r, Data: c.u}, gen(nk, r, c.w))
	const alpha = 2 // Z_i = alpha W_i B_i^T, symmetrized
	pos, neg, err := signedFactors(n, k, func(i int, z []float64) {
		// 2 X_i, which signedFactors symmetrizes into X_i + X_i^T = B_i S B_i^T
		blas64.Gemm(blas.NoTrans, blas.Trans, alpha, gen(k, r, c.w[i*k*r:(i+1)*k*r]), gen(k, r, c.b[i*k*r:(i+1)*k*r]), 0, gen(k, k, z))
	}, func(i, t int, e []float64, sq float64) {
		blas64.Gemv(blas.Trans, sq, gen(k, r, c.b[i*k*r:(i+1)*k*r]), blas64.Vector{N: k, Inc: 1, Data: e}, 0, blas64.Vector{N: r, Inc: 1, Data: c.f[t*r : (t+1)*r]})
	})
	if err != nil {
		return err
	}
	out := blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: dst}
	linalg.SyrkTrans(1/float64(n), gen(pos, r, c.f[:pos*r]), 0, out)
	if neg < nk {
		linalg.SyrkTrans(-1/float64(n), gen(nk-neg, r, c.f[neg*r:]), 1, out)
	}
	return nil
}

// halfDiagonal sets the upper triangle of u to that of the r x r s (rounded to T), with half its
// diagonal (u's lower triangle is left alone): S = U + U^T for a symmetric S.
func halfDiagonal[T float32 | float64](u []T, s []float64, r int) {
	upperRows(r, func(a0, a1 int) {
		for a := a0; a < a1; a++ {
			row := u[a*r : (a+1)*r]
			for b := a; b < r; b++ {
				row[b] = T(s[a*r+b])
			}
			row[a] *= 0.5
		}
	})
}

// parallelCopy is copy(dst, src) split between the cores for long slices.
func parallelCopy[T float32 | float64](dst, src []T) {
	workers := 1
	if len(src) >= factorsMinParallel {
		workers = runtime.GOMAXPROCS(0)
	}
	linalg.Parallel(workers, func(w int) int { return w * len(src) / workers }, func(i0, i1 int) { copy(dst[i0:i1], src[i0:i1]) })
}

// signedFactors computes the rows of the signed square-root factors F+ and F- of sandwich, in
// three passes: z(i, z_i) sets the k x k z_i = 2 X_i of every sample (its symmetric part is
// G_i S G_i^T), which is eigendecomposed; then every nonzero eigenvalue z_j with eigenvector e
// gets its row t of F, positive ones filling F+ from the top (0, 1, ...) and negative ones F-
// from the bottom (nk-1, nk-2, ...), in the order of the samples and eigenvalues; and row(i, t,
// e, sqrt|z_j|) fills it. The first and the last pass split the samples between the cores (the
// rows, and so the sums of the products over them, are those of one pass in order). It returns
// pos, the number of rows of F+, and neg, the first row of F-.
func signedFactors(n, k int, z func(i int, z []float64), row func(i, t int, e []float64, sq float64)) (pos, neg int, err error) {
	zs := make([]float64, n*k*k) // eigenvectors of sample i as the rows of zs[i*k*k:]
	ws := make([]float64, n*k)
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	split := func(w int) int { return w * n / workers }
	linalg.Parallel(workers, split, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			zi := zs[i*k*k : (i+1)*k*k]
			z(i, zi)
			symmetrizeInto(zi, zi, k)
			if err := linalg.EigSym(k, zi, ws[i*k:(i+1)*k], true); err != nil {
				errs[i] = fmt.Errorf("analysis: eigendecomposition of the %d x %d matrix G_%d S G_%d^T: %w", k, k, i, i, err)
				return
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return 0, 0, err
		}
	}
	rows := make([]int, n*k) // the row of F of eigenvalue j of sample i, -1 for a zero eigenvalue
	neg = n * k
	for x, v := range ws {
		switch {
		case v > 0:
			rows[x] = pos
			pos++
		case v < 0:
			neg--
			rows[x] = neg
		default:
			rows[x] = -1
		}
	}
	linalg.Parallel(workers, split, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			for j := 0; j < k; j++ {
				if t := rows[i*k+j]; t >= 0 {
					row(i, t, zs[(i*k+j)*k:(i*k+j+1)*k], math.Sqrt(math.Abs(ws[i*k+j])))
				}
			}
		}
	})
	return pos, neg, nil
}

// sandwich32 is sandwich in single precision (inputs rounded to float32; only the k x k
// eigenproblems in float64): about twice as fast, with a relative error of order 1e-6, its
// result's upper triangle left in c.s32, which it returns. Only for the uncertified
// single-precision phases (the first Lanczos phase of the generalized sharpness, the steps of
// the covariance solve).
func (c *factCurv) sandwich32(s []float64) ([]float32, error) {
	n, k, r := c.n, c.k, c.r
	nk := n * k
	if c.b32 == nil {
		c.b32, c.w32, c.f32 = make([]float32, nk*r), make([]float32, nk*r), make([]float32, nk*r)
		c.s32 = make([]float32, r*r)
		for i, v := range c.b {
			c.b32[i] = float32(v)
		}
	}
	// W as in sandwich: B U (U the upper triangle of S with half its diagonal)
	halfDiagonal(c.s32, s, r)
	parallelCopy(c.w32, c.b32)
	linalg.TrmmRightUpper32(blas32.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: r, Stride: r, Data: c.s32},
		blas32.General{Rows: nk, Cols: r, Stride: r, Data: c.w32})
	const alpha = 2
	g32 := func(data []float32) blas32.General { return blas32.General{Rows: k, Cols: r, Stride: r, Data: data} }
	pos, neg, err := signedFactors(n, k, func(i int, z []float64) {
		z32 := make([]float32, k*k)
		blas32.Gemm(blas.NoTrans, blas.Trans, alpha, g32(c.w32[i*k*r:(i+1)*k*r]), g32(c.b32[i*k*r:(i+1)*k*r]), 0,
			blas32.General{Rows: k, Cols: k, Stride: k, Data: z32})
		for a, v := range z32 {
			z[a] = float64(v)
		}
	}, func(i, t int, e []float64, sq float64) {
		e32 := make([]float32, k)
		for a, v := range e {
			e32[a] = float32(v)
		}
		blas32.Gemv(blas.Trans, float32(sq), g32(c.b32[i*k*r:(i+1)*k*r]), blas32.Vector{N: k, Inc: 1, Data: e32}, 0, blas32.Vector{N: r, Inc: 1, Data: c.f32[t*r : (t+1)*r]})
	})
	if err != nil {
		return nil, err
	}
	out := blas32.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: c.s32}
	linalg.SyrkTrans32(1/float32(n), blas32.General{Rows: pos, Cols: r, Stride: r, Data: c.f32[:pos*r]}, 0, out)
	if neg < nk {
		linalg.SyrkTrans32(-1/float32(n), blas32.General{Rows: nk - neg, Cols: r, Stride: r, Data: c.f32[neg*r:]}, 1, out)
	}
	return c.s32, nil
}

func (c *factCurv) imageRows() int { return c.n * c.k }

func (c *factCurv) images(y, z []float64, cols int) {
	nk := c.n * c.k
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(nk, c.r, c.b), gen(c.r, cols, z), 0, gen(nk, cols, y))
}

func (c *factCurv) weighted(dst, yv []float64, m int, wt []float64) {
	nk := c.n * c.k
	w := make([]float64, nk*m)
	for i := 0; i < c.n; i++ {
		for a := 0; a < c.k; a++ {
			row := (i*c.k + a) * m
			for j := 0; j < m; j++ {
				w[row+j] = yv[row+j] * wt[i*m+j]
			}
		}
	}
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(nk, c.r, c.b), gen(nk, m, w), 0, gen(c.r, m, dst))
}

func (c *factCurv) blockForms(out, _, y []float64, m, nc int) {
	cm := nc * m
	workers := min(runtime.GOMAXPROCS(0), c.n)
	linalg.Parallel(workers, func(w int) int { return w * c.n / workers }, func(i0, i1 int) { c.blockFormsOf(out, y, m, nc, cm, i0, i1) })
}

// blockFormsOf is blockForms for the samples i0 <= i < i1.
func (c *factCurv) blockFormsOf(out, y []float64, m, nc, cm, i0, i1 int) {
	for i := i0; i < i1; i++ {
		for j := 0; j < m; j++ {
			o := out[(i*m+j)*nc*nc : (i*m+j+1)*nc*nc]
			for x := 0; x < nc; x++ {
				for w := x; w < nc; w++ {
					s := 0.0
					for a := 0; a < c.k; a++ {
						row := y[(i*c.k+a)*cm:]
						s += row[x*m+j] * row[w*m+j]
					}
					o[x*nc+w], o[w*nc+x] = s, s
				}
			}
		}
	}
}

func (c *factCurv) diagonals(q []float64) {
	r := c.r
	for i := range q[:c.n*r] {
		q[i] = 0
	}
	for i := 0; i < c.n; i++ {
		for a := 0; a < c.k; a++ {
			row := c.b[(i*c.k+a)*r : (i*c.k+a+1)*r]
			for x, v := range row {
				q[i*r+x] += v * v
			}
		}
	}
}

func (c *factCurv) frob2(i int) float64 {
	s := 0.0
	for _, v := range c.gram[i] {
		s += v * v
	}
	return s
}

func (c *factCurv) top(i int, v []float64) (float64, error) {
	k, r := c.k, c.r
	z := append([]float64(nil), c.gram[i]...)
	w := make([]float64, k)
	if err := linalg.EigSym(k, z, w, true); err != nil {
		return 0, fmt.Errorf("analysis: eigendecomposition of G_%d G_%d^T: %w", i, i, err)
	}
	lam := w[k-1]
	if lam <= 0 {
		for a := range v[:r] {
			v[a] = 0
		}
		v[0] = 1
		return 0, nil
	}
	blas64.Gemv(blas.Trans, 1/math.Sqrt(lam), gen(k, r, c.b[i*k*r:(i+1)*k*r]), blas64.Vector{N: k, Inc: 1, Data: z[(k-1)*k : k*k]}, 0, blas64.Vector{N: r, Inc: 1, Data: v})
	return lam, nil
}

func (c *factCurv) squares(dst, x []float64) {
	nk := c.n * c.k
	y := make([]float64, nk)
	z := make([]float64, nk)
	blas64.Gemv(blas.NoTrans, 1, gen(nk, c.r, c.b), blas64.Vector{N: c.r, Inc: 1, Data: x}, 0, blas64.Vector{N: nk, Inc: 1, Data: y})
	k := c.k
	for i := 0; i < c.n; i++ {
		gi := c.gram[i]
		for a := 0; a < k; a++ {
			s := 0.0
			for b := 0; b < k; b++ {
				s += gi[a*k+b] * y[i*k+b]
			}
			z[i*k+a] = s
		}
	}
	blas64.Gemv(blas.Trans, 1/float64(c.n), gen(nk, c.r, c.b), blas64.Vector{N: nk, Inc: 1, Data: z}, 0, blas64.Vector{N: c.r, Inc: 1, Data: dst})
}

// order returns the indices of xs sorted by decreasing value.
func order(xs []float64) []int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] > xs[idx[b]] })
	return idx
}

// gramChunk is the column-chunk width of gramMatrix.
const gramChunk = 512

// gramMatrix returns G G^T (rows x rows, both triangles) for a rows x cols matrix G delivered in
// column chunks by fill(dst, c0, w), which sets dst (rows x w, row-major) to the columns
// c0..c0+w-1, by symmetric rank-k updates over chunks of chunk columns. A chunk in which only
// some rows are nonzero (network Jacobians: inactive ReLU units, zero pixels) is compacted to
// those rows first, so its cost falls with the square of the active fraction.
func gramMatrix(rows, cols, chunk int, fill func(dst []float64, c0, w int)) []float64 {
	gram := make([]float64, rows*rows)
	out := blas64.Symmetric{Uplo: blas.Upper, N: rows, Stride: rows, Data: gram}
	buf := make([]float64, rows*min(chunk, cols))
	var small []float64
	idx := make([]int, 0, rows)
	for c0 := 0; c0 < cols; c0 += chunk {
		w := min(chunk, cols-c0)
		b := buf[:rows*w]
		fill(b, c0, w)
		idx = idx[:0]
		for x := 0; x < rows; x++ {
			for _, v := range b[x*w : (x+1)*w] {
				if v != 0 {
					idx = append(idx, x)
					break
				}
			}
		}
		m := len(idx)
		if m == 0 {
			continue
		}
		if 4*m >= 3*rows { // dense enough: update in place
			blas64.Syrk(blas.NoTrans, 1, gen(rows, w, b), 1, out)
			continue
		}
		for k, x := range idx { // compact the nonzero rows to the top (k <= x)
			copy(b[k*w:(k+1)*w], b[x*w:(x+1)*w])
		}
		if cap(small) < m*m {
			small = make([]float64, m*m)
		}
		sm := small[:m*m]
		blas64.Syrk(blas.NoTrans, 1, gen(m, w, b[:m*w]), 0, blas64.Symmetric{Uplo: blas.Upper, N: m, Stride: m, Data: sm})
		for k, x := range idx {
			row := gram[x*rows:]
			for l := k; l < m; l++ {
				y := idx[l] // y >= x: upper triangle
				row[y] += sm[k*m+l]
			}
		}
	}
	mirrorUpper(gram, rows)
	return gram
}
