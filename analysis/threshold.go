package analysis

import (
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// operator holds the maps of THEORY.md on symmetric r x r matrices S in the eigenbasis of H:
//
//	C(S)_ab = (l_a + l_b)/2 S_ab                              (C = (1/2) H kronsum H)
//	D(S)    = (1-p) H S H + p (1/n) sum_i H_i S H_i           (D, Thm 3)
//	T(S)    = pinv(C) D(S),   A = C^{-1/2} D C^{-1/2}          (lambda_gen = lambda_max(T) = lambda_max(A))
//
// A is self-adjoint and PSD for the Frobenius inner product. Lanczos works on packed vectors
// x of length r(r+1)/2 (upper triangle, off-diagonal entries times sqrt 2, so that the Euclidean
// inner product of packed vectors is the Frobenius inner product of the matrices).
type operator struct {
	pr    *problem
	p     float64
	r     int
	cm12  []float64 // 1/sqrt(C_ab)
	s, ds []float64 // r x r work
	apply int       // applications of D
	// single: D's sandwich in single precision (singleSandwich), for the uncertified first
	// Lanczos phase of generalizedSharpness only
	single singleSandwich
}

// singleSandwich is a curvature whose sandwich (1/n) sum_i Hh_i S Hh_i (upper triangle) also has a
// single-precision version (relative error of order 1e-6, about twice as fast).
type singleSandwich interface {
	// sandwich32 returns the upper triangle of the sandwich in single precision: that of the
	// returned r x r matrix (the curvature's work space, valid until its next call)
	sandwich32(s []float64) ([]float32, error)
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }

func newOperator(pr *problem, p float64) *operator {
	r := pr.r
	o := &operator{pr: pr, p: p, r: r, cm12: make([]float64, r*r), s: make([]float64, r*r), ds: make([]float64, r*r)}
	for a := 0; a < r; a++ {
		for b := 0; b < r; b++ {
			o.cm12[a*r+b] = 1 / math.Sqrt((pr.l[a]+pr.l[b])/2)
		}
	}
	return o
}

func (o *operator) dim() int { return o.r * (o.r + 1) / 2 }

// applyD sets the upper triangle of dst to that of D(s) (the lower triangle is left undefined:
// applyA reads the upper one only).
func (o *operator) applyD(dst, s []float64) error { return o.formD(dst, s, nil) }

// formD computes the upper triangle of D(s) = p sandwich + (1-p) H S H row by row, the rows split
// between the cores at large r, and hands row a, D(s)_{a, a..r-1}, to put(a, d) if put is not
// nil. The double-precision sandwich is written into dst, and its rows become D(s)'s there;
// the single-precision one is the curvature's, and D(s)'s rows go into dst only when put is nil
// (else into a row of scratch: dst is not written).
func (o *operator) formD(dst, s []float64, put func(a int, d []float64)) error {
	r, l, p := o.r, o.pr.l, o.p
	o.apply++
	var sand32 []float32
	if p > 0 {
		var err error
		if o.single != nil {
			sand32, err = o.single.sandwich32(s)
		} else {
			err = o.pr.curv.sandwich(dst, s)
		}
		if err != nil {
			return err
		}
	}
	upperRows(r, func(a0, a1 int) {
		var scratch []float64
		if sand32 != nil && put != nil {
			scratch = make([]float64, r)
		}
		for a := a0; a < a1; a++ {
			d, sr := dst[a*r+a:(a+1)*r], s[a*r+a:(a+1)*r]
			if sand32 == nil {
				rowOfD(d, p, l[a], l[a:], sr, d)
			} else {
				if scratch != nil {
					d = scratch[:r-a]
				}
				rowOfD(d, p, l[a], l[a:], sr, sand32[a*r+a:(a+1)*r])
			}
			if put != nil {
				put(a, d)
			}
		}
	})
	return nil
}

// rowOfD sets d_b = p sand_b + (1-p) l_a l_b s_b for a row segment (columns a, a+1, ... of row
// a; la = l_a and l, s, sand start at column a): D(S)'s entries from the sandwich's. d may be
// sand.
func rowOfD[T float32 | float64](d []float64, p, la float64, l, s []float64, sand []T) {
	for b := range d {
		d[b] = p*float64(sand[b]) + (1-p)*la*l[b]*s[b]
	}
}

// applyT sets dst = T(s) = pinv(C) D(s).
func (o *operator) applyT(dst, s []float64) error {
	if err := o.applyD(dst, s); err != nil {
		return err
	}
	mirrorUpper(dst, o.r)
	for i, c := range o.cm12 {
		dst[i] *= c * c
	}
	return nil
}

// unpack sets m = w o X for the packed x (w = cm12 if scaled, else 1).
func (o *operator) unpack(m, x []float64, scaled bool) {
	unpackUpper(o, m, x, scaled)
	mirrorUpper(m, o.r)
}

// unpackUpper sets the upper triangle of m to that of w o X for the packed x (of either
// precision; the lower triangle is left alone), the rows split between the cores at large r.
func unpackUpper[T float32 | float64](o *operator, m []float64, x []T, scaled bool) {
	r := o.r
	upperRows(o.r, func(a0, a1 int) {
		k := packedRow(a0, r)
		for a := a0; a < a1; a++ {
			row, w := m[a*r:(a+1)*r], o.cm12[a*r:(a+1)*r]
			xs := x[k : k+r-a]
			k += r - a
			row[a] = float64(xs[0])
			if scaled {
				row[a] *= w[a]
				for j, v := range xs[1:] {
					row[a+1+j] = float64(v) * (math.Sqrt2 / 2) * w[a+1+j]
				}
			} else {
				for j, v := range xs[1:] {
					row[a+1+j] = float64(v) * (math.Sqrt2 / 2)
				}
			}
		}
	})
}

// pack sets x = pack(w o M) from the upper triangle of M.
func (o *operator) pack(x, m []float64, scaled bool) {
	r := o.r
	upperRows(o.r, func(a0, a1 int) {
		k := packedRow(a0, r)
		for a := a0; a < a1; a++ {
			packRow(x[k:k+r-a], m[a*r+a:(a+1)*r], o.cm12[a*r+a:(a+1)*r], scaled)
			k += r - a
		}
	})
}

// packRow packs the row segment m = M_{a, a..r-1} into x (w = cm12's segment if scaled; x of
// either precision): the diagonal entry as it is, the others times sqrt 2.
func packRow[T float32 | float64](x []T, m, w []float64, scaled bool) {
	for j, v := range m {
		if j > 0 {
			v *= math.Sqrt2
		}
		if scaled {
			v *= w[j]
		}
		x[j] = T(v)
	}
}

// packedRow is the offset of row a's entries (a, a), ..., (a, r-1) in a packed vector.
func packedRow(a, r int) int { return a*r - a*(a-1)/2 }

// packMinRank is the rank from which upperRows splits the rows between two goroutines.
const packMinRank = 512

// upperRows calls do(a0, a1) on ranges of the rows 0..r-1 of an r x r upper triangle: at rank
// packMinRank and above on two goroutines with about equal numbers of entries (the first
// r (1 - 1/sqrt 2) rows hold half of them), else on all rows at once.
func upperRows(r int, do func(a0, a1 int)) { triangleRows(r, 1-1/math.Sqrt2, do) }

// lowerRows is upperRows for the lower triangle: its first r / sqrt 2 rows hold half of its
// entries.
func lowerRows(r int, do func(a0, a1 int)) { triangleRows(r, 1/math.Sqrt2, do) }

// triangleRows splits the rows at r half (on two goroutines from rank packMinRank) or not.
func triangleRows(r int, half float64, do func(a0, a1 int)) {
	bounds := []int{0, r}
	if r >= packMinRank && runtime.GOMAXPROCS(0) >= 2 {
		bounds = []int{0, int(float64(r) * half), r}
	}
	linalg.Parallel(len(bounds)-1, func(w int) int { return bounds[w] }, do)
}

// applyA sets dst = A x = C^{-1/2} D C^{-1/2} x for packed x: each row of D(S) is packed as
// soon as it is formed (one pass over the matrices instead of two, three with the
// single-precision sandwich). With the double-precision sandwich o.ds holds D(S) afterwards
// (the certificate reads it); with the single-precision one it is not written.
func (o *operator) applyA(dst, x []float64) error { return applyPacked(o, dst, x) }

// applyA32 is applyA on packed vectors in single precision (the Lanczos basis of the
// single-precision phase of generalizedSharpness): S is formed in float64 from x, dst is A x
// rounded to float32.
func (o *operator) applyA32(dst, x []float32) error { return applyPacked(o, dst, x) }

// applyPacked is applyA and applyA32.
func applyPacked[T float32 | float64](o *operator, dst, x []T) error {
	unpackUpper(o, o.s, x, true) // formD reads the upper triangle only
	r := o.r
	return o.formD(o.ds, o.s, func(a int, d []float64) {
		k := packedRow(a, r)
		packRow(dst[k:k+r-a], d, o.cm12[a*r+a:(a+1)*r], true)
	})
}

// deflatePairs is the number of top Ritz pairs of A kept for the preconditioner of the covariance
// solve.
const deflatePairs = 6

// singleTol and singleBasis end the single-precision first phase of generalizedSharpness: at
// the Ritz residual singleTol, or when the basis holds singleBasis vectors. The phase's Ritz
// vector is accurate only to the rounding of float32 products: the double-precision phase
// measured residuals of 1e-7 (h = 20) to 2.4-2.9e-7 (real minima at h = 100) at its start however
// far the single-precision phase went, so singleTol is just above that floor, where each
// further step of this phase (about 0.55 of a double-precision one) still saves about one step
// of the double-precision phase, which converges at about the same rate per step. Measured at
// n = 512, k = 4 (rank 2048), single + double applications with 3e-7 against 1e-6: synthetic
// networks, h = 20: B = 1 18+6 against 16+7, B = 8 15+4 against 14+6, B = 64 11+8 against
// 10+12; h = 100: B = 1 18+10 against 17+11, B = 8 18+10 against 16+8 (a first certificate
// that missed the width); minima of the paper's network (h = 100) trained at eta = 0.021, B = 2
// and 8, analysed at B = 1, their B and 64: 41+21, 40+8, 16+19, 38+10, 36+7, 22+6 against
// 38+25, 38+22, 14+21, 36+11, 34+9, 21+18 (with 1e-7: 43+22, 42+20, 17+16, 41+10, 38+6: no
// better). The values agree to 1e-14 either way. (The round before measured 1e-6 against 1e-5
// as 0-12 % cheaper in every case.) At n = 256, h = 20, B = 8: 19 applications in double
// precision alone; 9 single + 13 double at 1e-4. On a real minimum at h = 100, B = 1 (the slow
// case), a basis of 30 stopped the phase at a residual far above 1e-5: 30 single + 33 double
// applications; with 60, 36 single + 15 double. Below the rank singleMinRank an application
// costs little next to the rest of the analysis, and the phase is skipped.
const (
	singleTol     = 3e-7
	singleBasis   = 60
	singleMinRank = 256
)

// genResult is the generalized sharpness with its certificate.
type genResult struct {
	value, lo, hi float64
	s             []float64 // r x r top eigenmatrix of T = pinv(C) D (PSD, Thm 6), unit Frobenius norm
	applications  int
	// singleApplications counts the applications of the single-precision first phase
	singleApplications int
	certificates       int
	restarts           int
	residual           float64 // ||A x - value x|| / value
	converged          bool
	// pairs are the converged ones (covPairResidual) among the deflatePairs top Ritz pairs of A
	// from the last Lanczos basis (orthonormal vectors), which the covariance solve deflates
	pairs  []linalg.RitzPair[float64]
	method string
}

// generalizedSharpness computes lambda_gen = lambda_max(pinv(C) D) (Thm 3) with a certified
// bracket [lo, hi]:
//   - X = A X_Ritz / ||A X_Ritz||, one power step from the Ritz vector X_Ritz, with A X_Ritz
//     from the Lanczos relation (no application; the power step makes the certificate below
//     typically 10-100x tighter than on X_Ritz itself);
//   - lo = the Rayleigh quotient <X, A X> (one application; A is symmetric);
//   - hi = a mu with mu S - T(S) positive definite for the positive definite S = C^{-1/2} X
//     (T(S) = C^{-1/2} A X from the same application): since T maps the PSD cone into itself,
//     T(S) <= mu S implies rho(T) <= mu (Collatz-Wielandt); mu is found by Cholesky tests on a
//     geometric grid above lo.
//
// Lanczos on A (started from C^{-1/2}(l_1 v_max v_max^T + 1e-3 H), a positive definite matrix
// with a positive inner product with the PSD top eigenvector) is run to a residual tolerance
// that is tightened until (hi - lo)/hi <= relWidth. For factored input a first Lanczos run with
// D's large products in single precision (factCurv.sandwich32), to the residual singleTol,
// replaces that start by its Ritz vector: it saves about half of the double-precision
// applications at half their cost each (its Lanczos basis is in float32 too, which halves the
// memory traffic of its passes); lo, hi and the value come from double precision only. At
// p = 0 the eigenvalues of T are 2 l_a l_b / (l_a + l_b) (App. I), so lambda_gen = l_1 in
// closed form.
func generalizedSharpness(pr *problem, p float64, opt Options) (*genResult, error) {
	o := newOperator(pr, p)
	r := pr.r
	l1 := pr.l[0]
	if p == 0 {
		s := make([]float64, r*r)
		s[0] = 1
		return &genResult{value: l1, lo: l1, hi: l1, s: s, converged: true, method: "closed form (p = 0: lambda_gen = lambda_max(H))"}, nil
	}
	dim := o.dim()
	maxBasis := int(1.5e9 / (8 * float64(dim)))
	maxBasis = max(10, min(maxBasis, 80))
	res := &genResult{lo: 0, hi: math.Inf(1), method: "Lanczos on C^-1/2 D C^-1/2 + Collatz-Wielandt certificate"}
	x0 := startVector(pr, o)
	if c32, ok := pr.curv.(singleSandwich); ok && r >= singleMinRank && !opt.doubleOnly {
		// First phase in single precision: Lanczos on A with D's products in float32, to the
		// residual singleTol; its Ritz vector starts the double-precision Lanczos below, which
		// alone gives the Rayleigh quotient and the certificate.
		o32 := *o // the same scaling and work space (the phases run one after the other)
		o32.single = c32
		// The basis is in single precision too: half the memory traffic of its passes.
		lz32 := linalg.NewLanczos(dim, o32.applyA32, min(maxBasis, singleBasis))
		x32 := make([]float32, dim)
		for i, v := range x0 {
			x32[i] = float32(v)
		}
		if err := lz32.Start(x32); err != nil {
			return nil, fmt.Errorf("analysis: generalized sharpness: %w", err)
		}
		rz, err := lz32.Run(singleTol, opt.MaxApplications)
		if err != nil {
			return nil, fmt.Errorf("analysis: generalized sharpness, single-precision phase: %w", err)
		}
		for i, v := range rz.Vector {
			x0[i] = float64(v)
		}
		res.singleApplications = o32.apply
		// its basis (up to singleBasis vectors of r(r+1)/2) is garbage now: collect it before
		// the double-precision Lanczos allocates its own
		lz32 = nil
		runtime.GC()
	}
	lz := linalg.NewLanczos(dim, o.applyA, maxBasis)
	if err := lz.Start(x0); err != nil {
		return nil, fmt.Errorf("analysis: generalized sharpness: %w", err)
	}

	tol := math.Max(2e-2*opt.RelWidth, 1e-13)
	ax := make([]float64, dim)
	s := make([]float64, r*r)
	ts := make([]float64, r*r)
	var tIdentity []float64
	for {
		budget := opt.MaxApplications - o.apply
		rz, err := lz.Run(tol, budget-1)
		if err != nil {
			return nil, fmt.Errorf("analysis: generalized sharpness: %w", err)
		}
		// One power step from the Ritz vector: x = A x_Ritz, taken from the Lanczos relation (no
		// application). It damps the residual's subdominant components, which typically makes the
		// certificate 10-100x tighter than one on the Ritz vector itself. Its image A x (one
		// application) gives the Rayleigh quotient (the lower end) and T(S) for the certificate
		// on S = C^{-1/2} X.
		if len(rz.Image) == 0 {
			return nil, fmt.Errorf("analysis: generalized sharpness: no operator applications left (MaxApplications %d)", opt.MaxApplications)
		}
		x := rz.Image
		blas64.Scal(1/blas64.Nrm2(vec(x)), vec(x))
		if err := o.applyA(ax, x); err != nil {
			return nil, fmt.Errorf("analysis: generalized sharpness: %w", err)
		}
		for i, c := range o.cm12 {
			ts[i] = o.ds[i] * c * c // T(S) = pinv(C) D(S), D(S) (upper triangle) from the application just made
		}
		mirrorUpper(ts, r)
		rq := blas64.Dot(vec(x), vec(ax))
		// true residual
		rn := 0.0
		for i := range x {
			d := ax[i] - rq*x[i]
			rn += d * d
		}
		rn = math.Sqrt(rn) / math.Abs(rq)
		o.unpack(s, x, true)
		tr := 0.0
		for a := 0; a < r; a++ {
			tr += s[a*r+a]
		}
		if tr < 0 {
			blas64.Scal(-1, vec(s))
			blas64.Scal(-1, vec(ts))
			blas64.Scal(-1, vec(x))
		}
		// certified upper bound: the smallest mu on a grid with mu S - T(S) positive definite
		hi, ok := cwUpper(r, s, ts, rq, 0.5*opt.RelWidth, opt.RelWidth)
		res.certificates++
		if !ok {
			// S is not numerically positive definite (e.g. a top eigenmatrix of low rank):
			// certify with S + eps tr(S)/r I instead.
			if tIdentity == nil {
				id := make([]float64, r*r)
				for a := 0; a < r; a++ {
					id[a*r+a] = 1
				}
				tIdentity = make([]float64, r*r)
				if err := o.applyT(tIdentity, id); err != nil {
					return nil, fmt.Errorf("analysis: generalized sharpness certificate: %w", err)
				}
			}
			trS := 0.0
			for a := 0; a < r; a++ {
				trS += s[a*r+a]
			}
			se := make([]float64, r*r)
			tse := make([]float64, r*r)
			for _, eps := range []float64{1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2} {
				c := eps * trS / float64(r)
				copy(se, s)
				copy(tse, ts)
				for a := 0; a < r; a++ {
					se[a*r+a] += c
				}
				blas64.Axpy(c, vec(tIdentity), vec(tse))
				h2, ok2 := cwUpper(r, se, tse, rq, 0.5*opt.RelWidth, opt.RelWidth)
				res.certificates++
				if ok2 {
					hi = math.Min(hi, h2)
				}
			}
		}
		lo := rq
		if lo > res.lo {
			res.lo = lo
		}
		if hi < res.hi {
			res.hi = hi
		}
		if rq >= res.value {
			res.value = rq
			res.s = append(res.s[:0], s...)
			res.residual = rn
		}
		res.applications = o.apply
		width := (res.hi - res.lo) / res.hi
		if width <= opt.RelWidth {
			res.converged = true
			break
		}
		if o.apply >= opt.MaxApplications-1 {
			break
		}
		// The next Lanczos run stops at the Ritz residual tol: the width of a certificate grew
		// about linearly with it (slightly faster) on the networks measured, so the residual of
		// this round's Ritz pair times target / width, with the target half the width asked for.
		f := 0.5 * opt.RelWidth / width
		if math.IsNaN(f) || f < 1e-3 {
			f = 1e-3
		}
		tol = math.Max(math.Min(tol, rz.Residual/math.Abs(rz.Value))*math.Min(f, 0.5), 1e-15)
		if lz.Full() {
			if err := lz.Start(x); err != nil {
				return nil, fmt.Errorf("analysis: generalized sharpness restart: %w", err)
			}
			res.restarts++
		}
	}
	// the converged top Ritz pairs of the last basis, for the preconditioner of the covariance
	// solve (the others it does not use; a vector of each costs a pass over the basis)
	pairs, err := lz.TopPairs(deflatePairs, covPairResidual)
	if err != nil {
		return nil, fmt.Errorf("analysis: generalized sharpness: %w", err)
	}
	res.pairs = pairs
	// the reported value is the Rayleigh quotient, clamped into the certified bracket
	res.value = math.Min(math.Max(res.value, res.lo), res.hi)
	nrm := blas64.Nrm2(vec(res.s))
	blas64.Scal(1/nrm, vec(res.s))
	return res, nil
}

// bound25Slack is the relative rounding allowance of the check of bound (25) against the
// certified upper end hi of the bracket: both are exact for a rank-one top eigenmatrix (THEORY.md,
// effective rank), where they agree to a few ulps.
const bound25Slack = 1e-12

// admitLowerBound takes a certified lower bound v on lambda_gen into the bracket [lo, hi]. Bound
// (25) is one: it is the generalized Rayleigh quotient <vv^T, D(vv^T)> / <vv^T, C(vv^T)> of the
// rank-one PSD matrix vv^T (THEORY.md eq. 25, Thm 2), never above lambda_gen. So v > lo raises
// lo to v (and the reported estimate with it), which may bring the bracket to its target width
// relWidth (then it counts as converged); v > hi (1 + bound25Slack) means that the ascent of
// (25) and the Collatz-Wielandt certificate disagree, an error; a v within rounding above hi
// sets lo = hi. raised reports whether lo moved.
func (g *genResult) admitLowerBound(v, relWidth float64) (raised bool, err error) {
	switch {
	case math.IsNaN(v) || v > g.hi*(1+bound25Slack):
		return false, fmt.Errorf("the lower bound exceeds the certified upper end by %.3g (relative): the optimizer and the certificate disagree", (v-g.hi)/g.hi)
	case v <= g.lo:
		return false, nil
	}
	g.lo = math.Min(v, g.hi)
	if (g.hi-g.lo)/g.hi <= relWidth {
		g.converged = true
	}
	return true, nil
}

// estimate is the reported lambda_gen: the best Rayleigh quotient, inside the certified bracket.
func (g *genResult) estimate() float64 { return math.Min(math.Max(g.value, g.lo), g.hi) }

// cwUpper returns a certified upper bound on rho(T) from the Collatz-Wielandt inequality for
// cone-preserving maps: if S is positive definite and mu S - T(S) is positive definite, then
// rho(T) <= mu. Both are checked by Cholesky factorizations (r^3/3 flops each), for
// mu = base (1 + x) on a grid of x (w, w/10, w/100, ... down to 1e-15 while it certifies; or
// w 2^j upwards until it does), refined by bisection between the last failure and the first
// success (four halvings) unless that failure is at x >= useful: a bound that cannot come
// below base (1 + useful) is not refined (the generalized sharpness asks for a narrower
// bracket from a better S then). ok is false if S is not positive definite or no mu up to
// base (1 + w 2^60) works.
func cwUpper(r int, s, ts []float64, base, w, useful float64) (float64, bool) {
	buf := make([]float64, r*r)
	pd := func(mu float64) bool {
		// the lower triangle only: linalg.PositiveDefinite reads no other entry
		lowerRows(r, func(a0, a1 int) {
			for a := a0; a < a1; a++ {
				row, sr, tr := buf[a*r:a*r+a+1], s[a*r:a*r+a+1], ts[a*r:a*r+a+1]
				if math.IsInf(mu, 1) {
					copy(row, sr)
					continue
				}
				for b := range row {
					row[b] = mu*sr[b] - tr[b]
				}
			}
		})
		return linalg.PositiveDefinite(r, buf)
	}
	if base <= 0 || !pd(math.Inf(1)) {
		return math.Inf(1), false
	}
	// smallest w on a geometric grid (factor 10 below the start, 2 above) that certifies
	var good, bad float64 // relative offsets: certified, and not certified
	if pd(base * (1 + w)) {
		good, bad = w, 0
		for x := w / 10; x >= 1e-15; x /= 10 {
			if !pd(base * (1 + x)) {
				bad = x
				break
			}
			good = x
		}
		if bad == 0 {
			return base * (1 + good), true
		}
	} else {
		bad = w
		j := 1
		for ; j <= 60; j++ {
			if pd(base * (1 + w*math.Ldexp(1, j))) {
				break
			}
		}
		if j > 60 {
			return math.Inf(1), false
		}
		good, bad = w*math.Ldexp(1, j), w*math.Ldexp(1, j-1)
		if bad >= useful {
			return base * (1 + good), true
		}
	}
	for it := 0; it < 4; it++ {
		m := 0.5 * (good + bad)
		if pd(base * (1 + m)) {
			good = m
		} else {
			bad = m
		}
	}
	return base * (1 + good), true
}

// cwBracket returns lambda_min and lambda_max of S^{-1/2} T S^{-1/2} (computed as
// L^{-1} T L^{-T} with S = L L^T), and ok = false if S is not numerically positive definite.
// (Used by the tests as an independent check of cwUpper.)
func cwBracket(r int, s, ts []float64) (lo, hi float64, ok bool) {
	l := append([]float64(nil), s...)
	tri, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: r, Stride: r, Data: l})
	if !ok {
		return 0, 0, false
	}
	m := append([]float64(nil), ts...)
	g := gen(r, r, m)
	blas64.Trsm(blas.Left, blas.NoTrans, 1, tri, g)
	blas64.Trsm(blas.Right, blas.Trans, 1, tri, g)
	symmetrizeInto(m, m, r)
	w := make([]float64, r)
	if err := linalg.EigSym(r, m, w, false); err != nil {
		return 0, 0, false
	}
	return w[0], w[r-1], true
}

// startVector returns the Lanczos start for A: C^{-1/2}(l_1 v_max v_max^T + 1e-3 H), positive
// definite, hence with a positive inner product with the PSD top eigenmatrix. (A warm start from
// the problem compressed to the leading eigendirections of H was tried and saved nothing, and so
// did a start from the previous batch size's top eigenmatrix: 142 instead of 144 applications
// for eight batch sizes at n = 128.)
func startVector(pr *problem, o *operator) []float64 {
	r := pr.r
	y0 := make([]float64, r*r)
	for a := 0; a < r; a++ {
		y0[a*r+a] = 1e-3 * pr.l[a]
	}
	y0[0] += pr.l[0]
	x0 := make([]float64, o.dim())
	o.pack(x0, y0, true)
	return x0
}
