package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// bound15 returns (15): l_max + p (1/n) sum_i (v_max^T H_i v_max - l_max)^2 / l_max, with the
// population variance (divide by n). In the basis v_max = e_1.
func bound15(pr *problem, p float64) float64 {
	q := make([]float64, pr.n*pr.r)
	pr.curv.diagonals(q)
	l1 := pr.l[0]
	s := 0.0
	for i := 0; i < pr.n; i++ {
		d := q[i*pr.r] - l1
		s += d * d
	}
	return l1 + p*s/float64(pr.n)/l1
}

// bound16 returns (16): [(1-p) ||H||_F^2 + p (1/n) sum_i ||H_i||_F^2] / trace(H), which is the
// generalized Rayleigh quotient <I, D(I)> / <I, C(I)>.
func bound16(pr *problem, p float64) float64 {
	h2, tr := 0.0, 0.0
	for _, l := range pr.l {
		h2 += l * l
		tr += l
	}
	s := 0.0
	for i := 0; i < pr.n; i++ {
		s += pr.curv.frob2(i)
	}
	return ((1-p)*h2 + p*s/float64(pr.n)) / tr
}

// b25 is the objective of (25) on the unit sphere:
//
//	f(v) = a + p (1/n) sum_i (q_i - a)^2 / a = (1-p) a + p (1/n) sum_i q_i^2 / a,
//
// a = v^T H v, q_i = v^T H_i v. It is <vv^T, D(vv^T)> / <vv^T, C(vv^T)>, a generalized
// Rayleigh quotient of (D, C), hence f(v) <= lambda_gen for every v.
type b25 struct {
	pr *problem
	p  float64
}

// values sets f[j] for the m unit columns of v (r x m); q is n*m work space.
func (b b25) values(f, v []float64, m int, q []float64) {
	r, n := b.pr.r, b.pr.n
	yv := make([]float64, b.pr.curv.imageRows()*m)
	b.pr.curv.images(yv, v, m)
	b.pr.curv.blockForms(q, v, yv, m, 1)
	for j := 0; j < m; j++ {
		a := 0.0
		for x := 0; x < r; x++ {
			a += b.pr.l[x] * v[x*m+j] * v[x*m+j]
		}
		s := 0.0
		for i := 0; i < n; i++ {
			s += q[i*m+j] * q[i*m+j]
		}
		f[j] = (1-b.p)*a + b.p*s/float64(n)/a
	}
}

// grads sets g[:, j] = Riemannian gradient of f at the unit column v_j (and f[j]), from v and
// its images yv (curvature.images):
// grad f = 2(1-p) H v + p [ (4/n) sum_i q_i H_i v / a - 2 ((1/n) sum_i q_i^2) H v / a^2 ],
// projected onto the tangent space (minus 2 f v, by Euler's identity for the degree-2 f).
func (b b25) grads(g, v, yv []float64, m int, q, f []float64) {
	r, n := b.pr.r, b.pr.n
	b.pr.curv.blockForms(q, v, yv, m, 1)
	a := make([]float64, m)
	s2 := make([]float64, m)
	for j := 0; j < m; j++ {
		for x := 0; x < r; x++ {
			a[j] += b.pr.l[x] * v[x*m+j] * v[x*m+j]
		}
		for i := 0; i < n; i++ {
			s2[j] += q[i*m+j] * q[i*m+j]
		}
		s2[j] /= float64(n)
		f[j] = (1-b.p)*a[j] + b.p*s2[j]/a[j]
	}
	w := make([]float64, n*m)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			w[i*m+j] = 4 * b.p * q[i*m+j] / (float64(n) * a[j])
		}
	}
	b.pr.curv.weighted(g, yv, m, w)
	for x := 0; x < r; x++ {
		for j := 0; j < m; j++ {
			hv := b.pr.l[x] * v[x*m+j]
			g[x*m+j] += 2*(1-b.p)*hv - 2*b.p*s2[j]*hv/(a[j]*a[j]) - 2*f[j]*v[x*m+j]
		}
	}
}

type bound25Result struct {
	value      float64
	vector     []float64 // maximizer in the basis
	starts     int       // ascents run
	screened   int       // candidate starting points evaluated
	iterations int       // ascent iterations (all starts together)
	converged  int       // ascents that met the stopping rule
	pruned     int       // ascents stopped for trailing the best by more than 2%

	// The extra start of bound25 (the top eigenvector of S*): the value its ascent reached,
	// its iterations, and whether it beat every other start (value and vector are then its).
	extraValue      float64
	extraIterations int
	fromExtra       bool
}

// bound25 maximizes (25) over the unit sphere of range(H) by Riemannian gradient ascent with an
// adaptive step (backtracking on failure, growth on success), run in parallel from the
// opt.Bound25Starts best of these candidates: every eigenvector of H (v_max always kept), every
// H_i's top eigenvector (at most bound25TopCandidates, see bound25Candidates) and
// opt.Bound25Random random unit vectors (seeded). With r = 1 it is f(e_1), no search. Maxima restricted to
// range(H) are the global ones: a null-space component only scales f down.
//
// If extra is not nil (a unit vector of range(H) in the eigenbasis of H, such as the top
// eigenvector of the top eigenmatrix S*, THEORY.md effective rank), one more ascent is run from
// it on its own, after the others, so that their values are those without it; the result is the
// better of the two (the extra start's only if better by more than rounding, bound25ExtraGain),
// and fromExtra and extraValue say which and what the extra start reached. At
// p = 0 (f(v) = v^T H v, maximum l_1 in closed form) the extra start is only evaluated.
func bound25(pr *problem, p float64, opt Options, extra []float64) (bound25Result, error) {
	res, err := bound25Candidates(pr, p, opt)
	if err != nil || extra == nil {
		return res, err
	}
	obj := b25{pr: pr, p: p}
	u := append([]float64(nil), extra...)
	nrm := blas64.Nrm2(vec(u))
	if !(nrm > 0) || math.IsInf(nrm, 0) {
		return bound25Result{}, fmt.Errorf("analysis: bound (25): extra start of norm %v", nrm)
	}
	blas64.Scal(1/nrm, vec(u))
	var ex bound25Result
	if p == 0 {
		f := make([]float64, 1)
		obj.values(f, u, 1, make([]float64, pr.n))
		ex.value, ex.vector = f[0], u
	} else if ex, err = ascend(obj, u, 1, opt); err != nil {
		return bound25Result{}, fmt.Errorf("analysis: bound (25), start at the top eigenvector of the top eigenmatrix, %w", err)
	}
	res.extraValue, res.extraIterations = ex.value, ex.iterations
	if ex.value > res.value*(1+bound25ExtraGain) {
		res.value, res.vector, res.fromExtra = ex.value, ex.vector, true
	}
	return res, nil
}

// bound25ExtraGain is the relative gain by which the extra start of bound25 must beat the other
// starts to replace their value: smaller differences are rounding (ascents that reach the same
// maximum agree to about 1e-15), and the value stays that of the other starts.
const bound25ExtraGain = 1e-12

// bound25TopCandidates is the most tops of H_i that bound25Candidates screens: with more samples,
// those with the largest lower bound of f are kept. Screening m candidates costs about n k r m
// flops, n^2 k r for all n tops, which dominated the analysis for n in the tens of thousands.
const bound25TopCandidates = 1024

// bound25ScreenWork / n is the most candidates of bound (25) evaluated at once: they are
// screened in blocks of m columns, with work space n m floats for the values plus that of the
// curvature's forms (n k m factored), instead of n (n + Bound25Random) for all at once.
const bound25ScreenWork = 1 << 21

// bound25Candidates runs the ascents of bound25 from its screened candidates: every eigenvector
// of H, the unit top eigenvector v_i of every H_i (if n > bound25TopCandidates, only the
// bound25TopCandidates ones with the largest lower bound (1-p) a_i + p lambda_i^2 / (n a_i) of
// f(v_i), one term of its sum, a_i = v_i^T H v_i, lambda_i = lambda_max(H_i)) and
// opt.Bound25Random random unit vectors.
func bound25Candidates(pr *problem, p float64, opt Options) (bound25Result, error) {
	r, n := pr.r, pr.n
	obj := b25{pr: pr, p: p}
	if r == 1 { // the unit sphere of range(H) is {e_1, -e_1}, f(-v) = f(v): (25) is f(e_1) = (15)
		f := make([]float64, 1)
		obj.values(f, []float64{1}, 1, make([]float64, n))
		return bound25Result{value: f[0], vector: []float64{1}, screened: 1}, nil
	}
	// candidates: eigenvectors of H (values from the diagonals), tops of H_i, random
	nt := min(n, bound25TopCandidates)
	nc := r + nt + opt.Bound25Random
	fc := make([]float64, nc)
	diag := make([]float64, n*r)
	pr.curv.diagonals(diag)
	for x := 0; x < r; x++ {
		s := 0.0
		for i := 0; i < n; i++ {
			s += diag[i*r+x] * diag[i*r+x]
		}
		fc[x] = (1-p)*pr.l[x] + p*s/float64(n)/pr.l[x]
	}
	extra := nt + opt.Bound25Random
	cand := make([]float64, r*extra) // r x extra, columns
	col := make([]float64, r)
	tops := func(i int) (float64, error) { // col = unit top eigenvector of H_i
		lam, err := pr.curv.top(i, col)
		if err != nil {
			return 0, fmt.Errorf("analysis: bound (25) starting points: %w", err)
		}
		return lam, nil
	}
	samples := make([]int, n) // the samples whose tops are screened: samples[:nt], ascending
	for i := range samples {
		samples[i] = i
	}
	if nt < n {
		lb := make([]float64, n)
		for i := 0; i < n; i++ {
			lam, err := tops(i)
			if err != nil {
				return bound25Result{}, err
			}
			a := 0.0
			for x, v := range col {
				a += pr.l[x] * v * v
			}
			lb[i] = (1-p)*a + p*lam*lam/(float64(n)*a)
		}
		samples = order(lb)[:nt]
		sort.Ints(samples)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x25))
	for j := 0; j < extra; j++ {
		if j < nt {
			if _, err := tops(samples[j]); err != nil {
				return bound25Result{}, err
			}
		} else {
			for x := range col {
				col[x] = rng.NormFloat64()
			}
		}
		nrm := blas64.Nrm2(vec(col))
		if nrm == 0 {
			col[0], nrm = 1, 1
		}
		for x := 0; x < r; x++ {
			cand[x*extra+j] = col[x] / nrm
		}
	}
	// screen in blocks of w columns (one block unless n > bound25ScreenWork / extra)
	w := max(1, min(extra, bound25ScreenWork/n))
	q := make([]float64, n*w)
	blk := cand
	if w < extra {
		blk = make([]float64, r*w)
	}
	for j0 := 0; j0 < extra; j0 += w {
		wc := min(w, extra-j0)
		if w < extra {
			for x := 0; x < r; x++ {
				copy(blk[x*wc:(x+1)*wc], cand[x*extra+j0:x*extra+j0+wc])
			}
		}
		obj.values(fc[r+j0:r+j0+wc], blk[:r*wc], wc, q[:n*wc])
	}
	// pick the starts
	idx := order(fc)
	m := min(opt.Bound25Starts, nc)
	chosen := []int{0}
	for _, c := range idx {
		if len(chosen) == m {
			break
		}
		if c != 0 {
			chosen = append(chosen, c)
		}
	}
	m = len(chosen)
	v := make([]float64, r*m)
	for j, c := range chosen {
		if c < r {
			v[c*m+j] = 1
		} else {
			for x := 0; x < r; x++ {
				v[x*m+j] = cand[x*extra+(c-r)]
			}
		}
	}
	if p == 0 { // f(v) = v^T H v: the maximum is lambda_max(H) at v_max
		res := bound25Result{value: pr.l[0], vector: make([]float64, r), screened: nc}
		res.vector[0] = 1
		return res, nil
	}
	res, err := ascend(obj, v, m, opt)
	if err != nil {
		return bound25Result{}, fmt.Errorf("analysis: bound (25), %w", err)
	}
	res.screened = nc
	return res, nil
}

// ascend maximizes f from the m unit columns of v (r x m, overwritten) and returns the best
// value and its vector, with the counts of bound25Result (screened excepted).
func ascend(obj b25, v []float64, m int, opt Options) (bound25Result, error) {
	pr, p := obj.pr, obj.p
	r, n := pr.r, pr.n
	res := bound25Result{starts: m}
	// Each iteration maximizes f over span{v, grad f(v), previous step} (a 3-dimensional
	// subproblem, as in LOBPCG for Rayleigh quotients), which converges much faster than plain
	// gradient ascent; the value never decreases.
	f := make([]float64, m)
	g := make([]float64, r*m)
	pd := make([]float64, r*m)  // the previous step P
	z := make([]float64, r*3*m) // columns [V | G | P]
	// The images (curvature.images) of V, G and P: those of V and P are carried along by the
	// same linear combinations as V and P (recomputed every imageRefresh iterations, so that
	// rounding cannot drift), so that an iteration multiplies out only the images of G.
	rows := pr.curv.imageRows()
	yv, yg, yp := make([]float64, rows*m), make([]float64, rows*m), make([]float64, rows*m)
	yz := make([]float64, rows*3*m)
	const imageRefresh = 25
	qm := make([]float64, n*m)
	wf := make([]float64, n*m*9)
	active := make([]bool, m)
	stall := make([]int, m)
	errs := make([]error, m)   // of the ascents in an iteration
	stopped := make([]bool, m) // the ascents that converged in an iteration
	for j := range active {
		active[j] = true
	}
	for it := 0; it < opt.Bound25MaxIter; it++ {
		any := false
		for _, a := range active {
			any = any || a
		}
		if !any {
			break
		}
		if it%imageRefresh == 0 {
			pr.curv.images(yv, v, m)
			pr.curv.images(yp, pd, m)
		}
		res.iterations++
		obj.grads(g, v, yv, m, qm, f)
		pr.curv.images(yg, g, m)
		for x := 0; x < r; x++ {
			for j := 0; j < m; j++ {
				z[x*3*m+j] = v[x*m+j]
				z[x*3*m+m+j] = g[x*m+j]
				z[x*3*m+2*m+j] = pd[x*m+j]
			}
		}
		for x := 0; x < rows; x++ {
			copy(yz[x*3*m:x*3*m+m], yv[x*m:(x+1)*m])
			copy(yz[x*3*m+m:x*3*m+2*m], yg[x*m:(x+1)*m])
			copy(yz[x*3*m+2*m:(x+1)*3*m], yp[x*m:(x+1)*m])
		}
		pr.curv.blockForms(wf, z, yz, m, 3)
		// The ascents are independent: they are split between the cores by blocks of eight
		// (so that no two goroutines write into one cache line of v, pd, yv or yp).
		blocks := (m + 7) / 8
		workers := min(runtime.GOMAXPROCS(0), blocks)
		linalg.Parallel(workers, func(w int) int { return min(m, w*blocks/workers*8) }, func(j0, j1 int) {
			for j := j0; j < j1; j++ {
				if !active[j] {
					continue
				}
				var a3, g3 [9]float64 // Z_j^T H Z_j and Z_j^T Z_j
				for x := 0; x < 3; x++ {
					for y := 0; y < 3; y++ {
						for t := 0; t < r; t++ {
							zx, zy := z[t*3*m+x*m+j], z[t*3*m+y*m+j]
							a3[x*3+y] += pr.l[t] * zx * zy
							g3[x*3+y] += zx * zy
						}
					}
				}
				c, fnew, err := subspaceMax(a3, g3, wf, j, m, n, p, f[j])
				if err != nil {
					errs[j] = fmt.Errorf("ascent %d, iteration %d: %w", j, it, err)
					continue
				}
				gain := (fnew - f[j]) / f[j]
				if gain > 0 {
					// V <- c0 V + c1 G + c2 P, P <- c1 G + c2 P (the new search direction), both
					// over ||V||, and their images alike
					nrm := 0.0
					for t := 0; t < r; t++ {
						row := z[t*3*m:]
						nv := c[0]*row[j] + c[1]*row[m+j] + c[2]*row[2*m+j]
						v[t*m+j] = nv
						pd[t*m+j] = c[1]*row[m+j] + c[2]*row[2*m+j]
						nrm += nv * nv
					}
					nrm = math.Sqrt(nrm)
					for t := 0; t < r; t++ {
						v[t*m+j] /= nrm
						pd[t*m+j] /= nrm
					}
					for x := 0; x < rows; x++ {
						row := yz[x*3*m:]
						yv[x*m+j] = (c[0]*row[j] + c[1]*row[m+j] + c[2]*row[2*m+j]) / nrm
						yp[x*m+j] = (c[1]*row[m+j] + c[2]*row[2*m+j]) / nrm
					}
					f[j] = fnew
				}
				if gain < 1e-13 {
					stall[j]++
				} else {
					stall[j] = 0
				}
				if stall[j] >= 2 {
					active[j], stopped[j] = false, true
				}
			}
		})
		for j, err := range errs {
			if err != nil {
				return bound25Result{}, err
			}
			if stopped[j] {
				res.converged++
				stopped[j] = false
			}
		}
		// After 30 iterations, stop ascents that trail the best by more than 2%: they gain
		// little that late, and each costs as much as the others.
		if it >= 30 && it%5 == 0 {
			fb := 0.0
			for _, x := range f {
				fb = math.Max(fb, x)
			}
			for j := range f {
				if active[j] && f[j] < 0.98*fb {
					active[j] = false
					res.pruned++
				}
			}
		}
	}
	obj.values(f, v, m, qm)
	best := 0
	for j := range f {
		if f[j] > f[best] {
			best = j
		}
	}
	res.value = f[best]
	res.vector = make([]float64, r)
	for x := 0; x < r; x++ {
		res.vector[x] = v[x*m+best]
	}
	return res, nil
}

// nonuniformity returns sqrt(lambda_max((1/n) sum_i H_i^2 - H^2)) (Wu, Ma and E 2018), by
// Lanczos on vectors of length r (relative residual 1e-12, a basis of at most 300 vectors, at
// most 20 bases), with the number of operator applications and whether it converged; the matrix
// is (1/n) sum_i (H_i - H)^2, PSD.
func nonuniformity(pr *problem, seed uint64) (value float64, iters int, status linalg.Status, err error) {
	r := pr.r
	apply := func(dst, x []float64) error {
		pr.curv.squares(dst, x)
		for a := 0; a < r; a++ {
			dst[a] -= pr.l[a] * pr.l[a] * x[a]
		}
		return nil
	}
	x0 := make([]float64, r)
	rng := rand.New(rand.NewPCG(seed, 0x77))
	for a := range x0 {
		x0[a] = 1 + 0.1*rng.NormFloat64()
	}
	basis := min(r, 300)
	count := 0
	counted := func(dst, x []float64) error { count++; return apply(dst, x) }
	rz, status, err := linalg.LanczosTop(r, counted, x0, linalg.LanczosOptions{Tol: 1e-12, MaxBasis: basis, MaxApplications: 20 * basis})
	if err != nil {
		return 0, count, status, fmt.Errorf("analysis: nonuniformity: %w", err)
	}
	return math.Sqrt(math.Max(rz.Value, 0)), count, status, nil
}

// subspaceMax maximizes f over span(Z_j) for start j, given the 3 x 3 matrices a3 = Z_j^T H Z_j,
// g3 = Z_j^T Z_j and W_i = Z_j^T H_i Z_j (in wf), starting from c = e_1 (the current v, value f0).
// It returns the coefficients c (with ||Z_j c|| not normalized) and the value reached (never
// below f0; c = e_1 if no improvement).
func subspaceMax(a3, g3 [9]float64, wf []float64, j, m, n int, p, f0 float64) ([3]float64, float64, error) {
	// orthonormal coordinates: g3 = Q diag(w) Q^T, keep directions with w > 1e-12 w_max
	gq := g3
	w := make([]float64, 3)
	if err := linalg.EigSym(3, gq[:], w, true); err != nil {
		return [3]float64{1, 0, 0}, f0, fmt.Errorf("eigendecomposition of the 3 x 3 Gram matrix of the search space: %w", err)
	}
	var tmat [][3]float64 // columns of T: Q_k / sqrt(w_k)
	for k := 2; k >= 0; k-- {
		if w[k] > 1e-12*w[2] {
			var col [3]float64
			for x := 0; x < 3; x++ {
				col[x] = gq[k*3+x] / math.Sqrt(w[k])
			}
			tmat = append(tmat, col)
		}
	}
	kd := len(tmat)
	proj := func(mat []float64) []float64 { // T^T mat T
		out := make([]float64, kd*kd)
		for a := 0; a < kd; a++ {
			for b := 0; b < kd; b++ {
				s := 0.0
				for x := 0; x < 3; x++ {
					for y := 0; y < 3; y++ {
						s += tmat[a][x] * mat[x*3+y] * tmat[b][y]
					}
				}
				out[a*kd+b] = s
			}
		}
		return out
	}
	ap := proj(a3[:])
	ws := make([][]float64, n)
	for i := 0; i < n; i++ {
		ws[i] = proj(wf[(i*m+j)*9 : (i*m+j+1)*9])
	}
	// e0: coordinates of e_1 = T e0, i.e. e0 = T^+ e_1 = diag(sqrt w) Q^T e_1
	e := make([]float64, kd)
	for a := 0; a < kd; a++ {
		// T^T G e_1 = (Q_k/sqrt(w_k))^T Q diag(w) Q^T e_1 = sqrt(w_k) Q_k^T e_1
		s := 0.0
		for x := 0; x < 3; x++ {
			s += tmat[a][x] * g3[x*3+0]
		}
		e[a] = s
	}
	q := make([]float64, n)
	val := func(e []float64) (float64, float64, []float64) {
		quad := func(mat []float64) float64 {
			s := 0.0
			for a := 0; a < kd; a++ {
				for b := 0; b < kd; b++ {
					s += e[a] * mat[a*kd+b] * e[b]
				}
			}
			return s
		}
		a := quad(ap)
		s2 := 0.0
		for i := range ws {
			q[i] = quad(ws[i])
			s2 += q[i] * q[i]
		}
		s2 /= float64(n)
		return (1-p)*a + p*s2/a, a, q
	}
	normalize := func(e []float64) {
		s := 0.0
		for _, x := range e {
			s += x * x
		}
		s = math.Sqrt(s)
		for a := range e {
			e[a] /= s
		}
	}
	normalize(e)
	fe, _, _ := val(e)
	step := 1 / (2 * fe)
	grad := make([]float64, kd)
	et := make([]float64, kd)
	for it := 0; it < 60; it++ {
		f, a, q := val(e)
		s2 := 0.0
		for _, x := range q {
			s2 += x * x
		}
		s2 /= float64(n)
		for x := 0; x < kd; x++ {
			ae, we := 0.0, 0.0
			for y := 0; y < kd; y++ {
				ae += ap[x*kd+y] * e[y]
			}
			for i := range ws {
				s := 0.0
				for y := 0; y < kd; y++ {
					s += ws[i][x*kd+y] * e[y]
				}
				we += q[i] * s
			}
			grad[x] = 2*(1-p)*ae + p*(4*we/(float64(n)*a)-2*s2*ae/(a*a)) - 2*f*e[x]
		}
		improved := false
		for try := 0; try < 30; try++ {
			for x := range et {
				et[x] = e[x] + step*grad[x]
			}
			normalize(et)
			ft, _, _ := val(et)
			if ft > f {
				copy(e, et)
				step *= 2
				improved = (ft-f)/f > 1e-14
				break
			}
			step *= 0.25
		}
		if !improved {
			break
		}
	}
	fe, _, _ = val(e)
	if !(fe > f0) {
		return [3]float64{1, 0, 0}, f0, nil
	}
	var c [3]float64
	for a := 0; a < kd; a++ {
		for x := 0; x < 3; x++ {
			c[x] += tmat[a][x] * e[a]
		}
	}
	return c, fe, nil
}
