package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// Dense holds explicit per-sample Hessians H_i (d x d, row-major) at a minimum w*, and optionally
// the per-sample gradients g_i = grad l_i(w*). Gradients == nil means an interpolating minimum
// (every g_i = 0). For small problems and tests; a network's curvature goes in [Factored].
type Dense struct {
	N, D      int
	Hessians  [][]float64 // N entries, each D*D row-major, symmetric PSD
	Gradients [][]float64 // nil, or N entries of length D with (1/N) sum_i g_i = 0
}

// Factored holds per-sample Gauss-Newton curvature H_i = J_i^T M_i J_i with J_i the K x D
// Jacobian of the network's outputs at sample i and M_i the K x K Hessian of the loss in the
// outputs (PSD). M_i is either one matrix shared by every sample (OutputHessian: squared loss,
// M = 2c I) or one per sample (OutputHessians: cross-entropy, M_i = diag(s_i) - s_i s_i^T of rank
// K - 1); exactly one of the two is set. The factors of THEORY.md ("Additions") are
// G_i = M_i^{1/2} J_i with the symmetric PSD square root. Nothing of size D x D is ever formed.
type Factored struct {
	N, K, D        int
	Factors        [][]float64 // N entries, each K*D row-major: J_i
	OutputHessian  []float64   // K*K row-major: M shared by every sample, symmetric PSD; or nil
	OutputHessians [][]float64 // nil, or N entries of K*K row-major: M_i, symmetric PSD
	Gradients      [][]float64 // nil (interpolating), or N entries of length D with zero mean
	// Gram is nil, or the NK x NK Gram matrix G G^T of the stacked G_i = M_i^{1/2} J_i,
	// row-major, entry (i K + a, j K + b) = (M_i^{1/2} J_i)_a . (M_j^{1/2} J_j)_b, as a trainer
	// may have it in closed form (train.GaussNewtonGram). When given, the eigenbasis of the Gram
	// path (D >= NK, see AnalyzeFactored) is taken from it instead of being multiplied out of the
	// factors, after a check that it agrees with them on a random probe vector u:
	// ||Gram u - G (G^T u)|| <= SymTol ||Gram||_F ||u||. The Hessian path (D < NK) ignores it.
	Gram []float64
	// OutputGradients is nil, or N*K entries (row i: q_i = dl_i/df(x_i), the gradient of the
	// loss in the outputs) with Gradients[i] = J_i^T q_i, as a trainer has them (for the squared
	// loss q_i = M (f(x_i) - y_i)). With them the covariance limit projects the gradients onto
	// range(H) from the factors in the eigenbasis, V^T g_i = B_i^T M_i^{1/2+} q_i (B_i = G_i V,
	// n k r flops), instead of multiplying the N gradients by the N K x D factors (a
	// 2 N K D N flop product: 165 GFLOP at the paper's h = 100), when every q_i lies in
	// range(M_i) (else it falls back to that product). They must come with Gradients and agree
	// with them on a random combination c (seeded): ||sum_i c_i (g_i - J_i^T q_i)|| <= SymTol
	// ||sum_i |c_i| |J_i|^T |q_i|||, entries in absolute value.
	OutputGradients []float64
}

// outputHessian returns M_i (the shared M when OutputHessians is nil).
func (f *Factored) outputHessian(i int) []float64 {
	if f.OutputHessians != nil {
		return f.OutputHessians[i]
	}
	return f.OutputHessian
}

// Options tunes an analysis. The zero value of every field means its documented default;
// [Options.WithDefaults] fills them in (what a result depends on is the resolved options).
type Options struct {
	// Eta, if positive, asks for the covariance limit of Thm 5 / Cor. 1 at step size Eta
	// (needs gradients; must satisfy 0 < Eta < eta*). 0: no covariance limit.
	Eta float64 `json:"eta"`
	// Seed drives the random restarts of bound (25). Same seed, same numbers.
	Seed uint64 `json:"seed"`
	// RelWidth is the target relative width (hi - lo) / hi of the certified bracket of the
	// generalized sharpness. Default 1e-6.
	RelWidth float64 `json:"rel_width"`
	// RankTol: eigenvalues of H at or below RankTol * lambda_max(H) are taken as zero (they span
	// null(H)). Default 1e-10.
	RankTol float64 `json:"rank_tol"`
	// SymTol: a dense H_i (or M) is symmetric if |A_ab - A_ba| <= SymTol * max|A| over all inputs;
	// a given Gram matrix must agree with the factors to SymTol (see Factored.Gram).
	// Default 1e-8.
	SymTol float64 `json:"sym_tol"`
	// PSDTol: a dense H_i (or M) is PSD if its smallest eigenvalue is >= -PSDTol * s, with s the
	// largest eigenvalue over all inputs. Default 1e-8.
	PSDTol float64 `json:"psd_tol"`
	// GradMeanTol: gradients must satisfy ||(1/n) sum_i g_i|| <= GradMeanTol * sqrt((1/n) sum_i ||g_i||^2).
	// Default 1e-6.
	GradMeanTol float64 `json:"grad_mean_tol"`
	// CenterGradients subtracts the mean gradient instead of rejecting a non-zero mean (for
	// minima found by training, whose full-batch gradient is small but not zero). The removed
	// relative mean is reported in the diagnostics.
	CenterGradients bool `json:"center_gradients"`
	// MaxApplications caps the applications of the operator pinv(C) D in the generalized
	// sharpness (and of 2C - eta D in the covariance solve). Default 600.
	MaxApplications int `json:"max_applications"`
	// Bound25Starts is the number of gradient ascents run for bound (25), chosen as the best
	// starting points among every eigenvector of H, every H_i's top eigenvector (at most 1024
	// of them, those with the largest lower bound of (25), when n is larger) and Bound25Random
	// random unit vectors; v_max is always one of them. Default 32.
	Bound25Starts int `json:"bound25_starts"`
	// Bound25Random is the number of random starting points screened for bound (25). Default 16.
	Bound25Random int `json:"bound25_random"`
	// Bound25MaxIter caps the ascent iterations per start. Default 2000.
	Bound25MaxIter int `json:"bound25_max_iter"`

	// doubleOnly skips the single-precision first Lanczos phase of the generalized sharpness
	// and the single-precision steps of the covariance solve (the tests compare both ways).
	doubleOnly bool
}

// WithDefaults returns o with every zero field replaced by its default.
func (o Options) WithDefaults() Options {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.RelWidth, 1e-6)
	def(&o.RankTol, 1e-10)
	def(&o.SymTol, 1e-8)
	def(&o.PSDTol, 1e-8)
	def(&o.GradMeanTol, 1e-6)
	defi := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defi(&o.MaxApplications, 600)
	o.MaxApplications = max(o.MaxApplications, 5)
	defi(&o.Bound25Starts, 32)
	defi(&o.Bound25Random, 16)
	defi(&o.Bound25MaxIter, 2000)
	return o
}

// Option ranges checked by [Options.Validate] (zero always means the default).
const (
	// MinRelWidth is the smallest RelWidth accepted: about 1e4 float64 epsilons, a bracket the
	// Collatz-Wielandt certificate meets (its Cholesky tests of mu S - T(S) resolve mu to a few
	// ulps times the rank; 1e-14 was already missed at rank 60, 1e-15 at rank 30).
	MinRelWidth = 1e-12
	// MinRankTol is the smallest RankTol accepted: eigenvalues of H below about 1e-14 lambda_max
	// are rounding noise of the Gram matrix's eigendecomposition, not directions of range(H).
	MinRankTol = 1e-14
)

// OptionError is an option out of its range; Option is its JSON name (e.g. "rel_width"), so that
// a caller reading options from a file can name the key.
type OptionError struct {
	Option, Reason string
}

func (e *OptionError) Error() string { return "analysis: option " + e.Option + " " + e.Reason }

// Validate reports the first option out of its range as an *OptionError (before defaults are
// applied: zero means the default and is always valid). The ranges: eta finite >= 0; rel_width in
// [MinRelWidth, 1); rank_tol in [MinRankTol, 1); sym_tol and psd_tol in [0, 1); grad_mean_tol in
// [0, 1] (the ratio it bounds is at most 1); max_applications, bound25_starts, bound25_random and
// bound25_max_iter >= 0.
func (o Options) Validate() error {
	bad := func(name string, v any, want string) error {
		return &OptionError{Option: name, Reason: fmt.Sprintf("= %v, want %s (0: the default)", v, want)}
	}
	nonFinite := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	in := func(v, lo, hi float64, closed bool) bool {
		return !nonFinite(v) && (v == 0 || v >= lo && (v < hi || closed && v == hi))
	}
	switch {
	case nonFinite(o.Eta) || o.Eta < 0:
		return bad("eta", o.Eta, "a finite step size >= 0")
	case !in(o.RelWidth, MinRelWidth, 1, false):
		return bad("rel_width", o.RelWidth, fmt.Sprintf("a relative bracket width in [%g, 1)", MinRelWidth))
	case !in(o.RankTol, MinRankTol, 1, false):
		return bad("rank_tol", o.RankTol, fmt.Sprintf("a relative eigenvalue cut in [%g, 1)", MinRankTol))
	case !in(o.SymTol, 0, 1, false):
		return bad("sym_tol", o.SymTol, "a relative tolerance in [0, 1)")
	case !in(o.PSDTol, 0, 1, false):
		return bad("psd_tol", o.PSDTol, "a relative tolerance in [0, 1)")
	case !in(o.GradMeanTol, 0, 1, true):
		return bad("grad_mean_tol", o.GradMeanTol, "a relative tolerance in [0, 1]")
	case o.MaxApplications < 0:
		return bad("max_applications", o.MaxApplications, "a count >= 0")
	case o.Bound25Starts < 0:
		return bad("bound25_starts", o.Bound25Starts, "a count >= 0")
	case o.Bound25Random < 0:
		return bad("bound25_random", o.Bound25Random, "a count >= 0")
	case o.Bound25MaxIter < 0:
		return bad("bound25_max_iter", o.Bound25MaxIter, "a count >= 0")
	}
	return nil
}

func checkBatch(n, batch int) error {
	if batch < 1 || batch > n {
		return fmt.Errorf("analysis: batch size %d outside 1..n = 1..%d", batch, n)
	}
	return nil
}

// finite reports whether no entry of xs is NaN or infinite: x - x is +0 for every finite x and
// NaN for the others, and a sum of +0s is +0 while a NaN term makes it NaN; four sums that do
// not wait for each other. (IsNaN and IsInf per entry took 0.79 s on one core for the 1.3 GB
// of factors at h = 100; firstNonFinite with this takes 0.07 s on two.)
func finite(xs []float64) bool {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(xs); j += 4 {
		s0 += xs[j] - xs[j]
		s1 += xs[j+1] - xs[j+1]
		s2 += xs[j+2] - xs[j+2]
		s3 += xs[j+3] - xs[j+3]
	}
	for ; j < len(xs); j++ {
		s0 += xs[j] - xs[j]
	}
	return s0+s1+s2+s3 == 0
}

// firstNonFinite returns the index of the first of the slices with a NaN or infinite entry, or
// -1 if all are finite: the slices split between the cores when they hold factorsMinParallel
// entries or more.
func firstNonFinite(xs [][]float64) int {
	total := 0
	for _, x := range xs {
		total += len(x)
	}
	workers := 1
	if total >= factorsMinParallel {
		workers = min(runtime.GOMAXPROCS(0), len(xs))
	}
	first := len(xs)
	var mu sync.Mutex
	linalg.Parallel(workers, func(w int) int { return w * len(xs) / workers }, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			if !finite(xs[i]) {
				mu.Lock()
				first = min(first, i)
				mu.Unlock()
				return
			}
		}
	})
	if first == len(xs) {
		return -1
	}
	return first
}

// Validate checks shapes, finiteness, symmetry and positive semi-definiteness of every H_i
// (tolerances from opt) and the zero mean of the gradients.
func (d *Dense) Validate(opt Options) error {
	opt = opt.WithDefaults()
	if d == nil {
		return fmt.Errorf("analysis: nil dense input")
	}
	if d.N < 1 || d.D < 1 {
		return fmt.Errorf("analysis: dense input needs n >= 1 and d >= 1, got n=%d d=%d", d.N, d.D)
	}
	if len(d.Hessians) != d.N {
		return fmt.Errorf("analysis: n = %d but %d Hessians given", d.N, len(d.Hessians))
	}
	scale := 0.0
	for i, h := range d.Hessians {
		if len(h) != d.D*d.D {
			return fmt.Errorf("analysis: Hessian %d has %d entries, want d*d = %d", i, len(h), d.D*d.D)
		}
		if !finite(h) {
			return fmt.Errorf("analysis: Hessian %d contains NaN or Inf", i)
		}
		for _, v := range h {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	n := d.D
	for i, h := range d.Hessians {
		for a := 0; a < n; a++ {
			for b := a + 1; b < n; b++ {
				if math.Abs(h[a*n+b]-h[b*n+a]) > opt.SymTol*scale {
					return fmt.Errorf("analysis: Hessian %d is not symmetric: entry (%d,%d) = %g but (%d,%d) = %g (tolerance %g)",
						i, a, b, h[a*n+b], b, a, h[b*n+a], opt.SymTol*scale)
				}
			}
		}
	}
	mins := make([]float64, d.N)
	top := 0.0
	w := make([]float64, n)
	buf := make([]float64, n*n)
	if scale == 0 {
		scale = 1
	}
	for i, h := range d.Hessians {
		symmetrizeInto(buf, h, n)
		for a := range buf {
			buf[a] /= scale // avoid overflow in the eigensolver for huge entries
		}
		if err := linalg.EigSym(n, buf, w, false); err != nil {
			return fmt.Errorf("analysis: Hessian %d: %v", i, err)
		}
		mins[i] = w[0]
		top = math.Max(top, w[n-1])
	}
	for i, m := range mins {
		if m < -opt.PSDTol*top {
			return fmt.Errorf("analysis: Hessian %d is not positive semi-definite: smallest eigenvalue %g (tolerance %g)", i, m, -opt.PSDTol*top)
		}
	}
	return validateGradients(d.Gradients, d.N, d.D, opt)
}

// Validate checks shapes and finiteness of the factors, symmetry and positive semi-definiteness
// of M (tolerances from opt) and the zero mean of the gradients.
func (f *Factored) Validate(opt Options) error {
	opt = opt.WithDefaults()
	if f == nil {
		return fmt.Errorf("analysis: nil factored input")
	}
	if f.N < 1 || f.K < 1 || f.D < 1 {
		return fmt.Errorf("analysis: factored input needs n, k, d >= 1, got n=%d k=%d d=%d", f.N, f.K, f.D)
	}
	if len(f.Factors) != f.N {
		return fmt.Errorf("analysis: n = %d but %d factors given", f.N, len(f.Factors))
	}
	for i, j := range f.Factors {
		if len(j) != f.K*f.D {
			return fmt.Errorf("analysis: factor %d has %d entries, want k*d = %d", i, len(j), f.K*f.D)
		}
	}
	if i := firstNonFinite(f.Factors); i >= 0 {
		return fmt.Errorf("analysis: factor %d contains NaN or Inf", i)
	}
	k := f.K
	ms := [][]float64{f.OutputHessian}
	switch {
	case f.OutputHessian != nil && f.OutputHessians != nil:
		return fmt.Errorf("analysis: both a shared output Hessian and per-sample output Hessians given: set one")
	case f.OutputHessians != nil:
		if len(f.OutputHessians) != f.N {
			return fmt.Errorf("analysis: n = %d but %d output Hessians given", f.N, len(f.OutputHessians))
		}
		ms = f.OutputHessians
	}
	name := func(i int) string {
		if f.OutputHessians == nil {
			return "output Hessian"
		}
		return fmt.Sprintf("output Hessian %d", i)
	}
	scale := 0.0
	for i, m := range ms {
		if len(m) != k*k {
			return fmt.Errorf("analysis: %s has %d entries, want k*k = %d", name(i), len(m), k*k)
		}
		if !finite(m) {
			return fmt.Errorf("analysis: %s contains NaN or Inf", name(i))
		}
		for _, v := range m {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	for i, m := range ms {
		for a := 0; a < k; a++ {
			for b := a + 1; b < k; b++ {
				if math.Abs(m[a*k+b]-m[b*k+a]) > opt.SymTol*scale {
					return fmt.Errorf("analysis: %s is not symmetric: entry (%d,%d) = %g but (%d,%d) = %g", name(i), a, b, m[a*k+b], b, a, m[b*k+a])
				}
			}
		}
	}
	// PSD: smallest eigenvalue of every M_i >= -PSDTol * (largest eigenvalue over all M_i)
	buf := make([]float64, k*k)
	w := make([]float64, k)
	mins := make([]float64, len(ms))
	top := math.Inf(-1)
	for i, m := range ms {
		symmetrizeInto(buf, m, k)
		if scale > 0 {
			for a := range buf {
				buf[a] /= scale
			}
		}
		if err := linalg.EigSym(k, buf, w, false); err != nil {
			return fmt.Errorf("analysis: %s: %v", name(i), err)
		}
		mins[i] = w[0]
		top = math.Max(top, w[k-1])
	}
	for i, m := range mins {
		if m < -opt.PSDTol*math.Max(top, 0) || top < 0 {
			return fmt.Errorf("analysis: %s is not positive semi-definite: smallest eigenvalue %g", name(i), m*scale)
		}
	}
	if f.Gram != nil {
		nk := f.N * f.K
		if len(f.Gram) != nk*nk {
			return fmt.Errorf("analysis: the Gram matrix has %d entries, want (n k)^2 = %d", len(f.Gram), nk*nk)
		}
		if !finite(f.Gram) {
			return fmt.Errorf("analysis: the Gram matrix contains NaN or Inf")
		}
	}
	if err := validateGradients(f.Gradients, f.N, f.D, opt); err != nil {
		return err
	}
	if f.OutputGradients != nil {
		return f.validateOutputGradients(opt)
	}
	return nil
}

// validateOutputGradients checks Factored.OutputGradients: N*K finite entries, given with the
// gradients, and g_i = J_i^T q_i on a random combination (one pass over the factors and the
// gradients, split between the cores by parameters).
func (f *Factored) validateOutputGradients(opt Options) error {
	n, k, d := f.N, f.K, f.D
	q := f.OutputGradients
	if f.Gradients == nil {
		return fmt.Errorf("analysis: output gradients given without the gradients g_i = J_i^T q_i")
	}
	if len(q) != n*k {
		return fmt.Errorf("analysis: %d output gradient entries given, want n k = %d", len(q), n*k)
	}
	if !finite(q) {
		return fmt.Errorf("analysis: the output gradients contain NaN or Inf")
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6f757467))
	c := make([]float64, n)
	for i := range c {
		c[i] = rng.NormFloat64()
	}
	diff := make([]float64, d) // sum_i c_i (g_i - J_i^T q_i)
	size := make([]float64, d) // sum_i |c_i| |J_i|^T |q_i|
	workers := factorWorkers(n, k, d)
	linalg.Parallel(workers, func(w int) int { return w * d / workers }, func(x0, x1 int) {
		dx, sx := diff[x0:x1], size[x0:x1]
		for i, ji := range f.Factors {
			for x, v := range f.Gradients[i][x0:x1] {
				dx[x] += c[i] * v
			}
			for o := 0; o < k; o++ {
				co := c[i] * q[i*k+o]
				if co == 0 {
					continue
				}
				for x, v := range ji[o*d+x0 : o*d+x1] {
					dx[x] -= co * v
					sx[x] += math.Abs(co * v)
				}
			}
		}
	})
	e, sz := blas64.Nrm2(vec(diff)), blas64.Nrm2(vec(size))
	if !(e <= opt.SymTol*sz) {
		rel := e / sz
		if sz == 0 {
			rel = math.Inf(1)
		}
		return fmt.Errorf("analysis: the output gradients do not match the gradients: ||sum_i c_i (g_i - J_i^T q_i)|| is %.3g of the size of the terms for a random c (tolerance %g); g_i must be J_i^T q_i", rel, opt.SymTol)
	}
	return nil
}

func validateGradients(g [][]float64, n, d int, opt Options) error {
	if g == nil {
		return nil
	}
	if len(g) != n {
		return fmt.Errorf("analysis: n = %d but %d gradients given", n, len(g))
	}
	for i, gi := range g {
		if len(gi) != d {
			return fmt.Errorf("analysis: gradient %d has length %d, want d = %d", i, len(gi), d)
		}
	}
	if i := firstNonFinite(g); i >= 0 {
		return fmt.Errorf("analysis: gradient %d contains NaN or Inf", i)
	}
	if opt.CenterGradients {
		return nil
	}
	rel := gradMeanRel(g, d)
	if rel > opt.GradMeanTol {
		return fmt.Errorf("analysis: gradients do not average to zero: ||mean g|| / rms ||g_i|| = %.3g > tolerance %g", rel, opt.GradMeanTol)
	}
	return nil
}

// gradMeanRel returns ||(1/n) sum g_i|| / sqrt((1/n) sum ||g_i||^2) (0 when every g_i = 0).
func gradMeanRel(g [][]float64, d int) float64 {
	mean := make([]float64, d)
	ms := 0.0
	for _, gi := range g {
		for a, v := range gi {
			mean[a] += v
			ms += v * v
		}
	}
	n := float64(len(g))
	nm := 0.0
	for _, v := range mean {
		nm += (v / n) * (v / n)
	}
	if ms == 0 {
		return 0
	}
	return math.Sqrt(nm) / math.Sqrt(ms/n)
}

func symmetrizeInto(dst, a []float64, n int) {
	for i := 0; i < n; i++ {
		dst[i*n+i] = a[i*n+i]
		for j := i + 1; j < n; j++ {
			v := 0.5*a[i*n+j] + 0.5*a[j*n+i] // not 0.5*(a+b): that overflows for entries near MaxFloat64 (same value otherwise)
			dst[i*n+j], dst[j*n+i] = v, v
		}
	}
}

// mirrorUpper copies the upper triangle of the n x n row-major matrix m into its lower triangle
// (after a BLAS routine that wrote one triangle only), in 8 x 8 tiles, each lower row written
// contiguously from the tile's column reads (about twice as fast at n = 2048 as writing
// columns in 64 x 64 tiles).
func mirrorUpper(m []float64, n int) {
	const tile = 8
	for a0 := 0; a0 < n; a0 += tile {
		for b0 := a0; b0 < n; b0 += tile {
			for b := b0; b < min(b0+tile, n); b++ {
				row := m[b*n : (b+1)*n]
				for a := a0; a < min(a0+tile, b); a++ {
					row[a] = m[a*n+b]
				}
			}
		}
	}
}
