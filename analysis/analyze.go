package analysis

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// Report holds every quantity of THEORY.md for one minimum and batch size (the JSON keys are
// those of the analyze command's output and of the store's records).
type Report struct {
	P                    float64    `json:"p"`                             // (n-B)/(B(n-1))
	Sharpness            float64    `json:"sharpness"`                     // lambda_max(H)
	GDThreshold          float64    `json:"gd_threshold"`                  // 2/lambda_max(H) (Thm 1)
	GeneralizedSharpness float64    `json:"generalized_sharpness"`         // lambda_max(pinv(C) D) (Thm 3)
	Bracket              [2]float64 `json:"generalized_sharpness_bracket"` // certified [lo, hi] (lo raised to bound (25) when that is larger)
	EtaStar              float64    `json:"eta_star"`                      // 2/GeneralizedSharpness, in [2/hi, 2/lo]
	Bound15              float64    `json:"bound15"`                       // eq. (15)
	Bound16              float64    `json:"bound16"`                       // eq. (16)
	Bound25              float64    `json:"bound25"`                       // eq. (25), best of many ascents
	Nonuniformity        float64    `json:"nonuniformity"`                 // sqrt(lambda_max((1/n) sum H_i^2 - H^2))
	// Shape of the PSD top eigenmatrix S* of pinv(C) D (Thm 6; THEORY.md, effective rank), with
	// eigenvalues mu_1 >= ... >= mu_r. Bound (25) equals lambda_gen exactly when S* can be taken
	// rank one. Pointers: records written before these were computed decode as missing.
	TopEigenmatrixEffectiveRank *float64 `json:"top_eigenmatrix_effective_rank,omitempty"` // (tr S*)^2 / ||S*||_F^2
	TopEigenmatrixTopShare      *float64 `json:"top_eigenmatrix_top_share,omitempty"`      // mu_1 / tr S*
	TopEigenmatrixMinEigRel     *float64 `json:"top_eigenmatrix_min_eig_rel,omitempty"`    // mu_r / mu_1 (PSD check: >= 0 up to rounding)
	// Covariance limit (Thm 5, Cor. 1), only when Options.Eta > 0 and gradients are given.
	CovarianceTrace   *float64 `json:"covariance_trace,omitempty"`    // lim E||P(w - w*)||^2
	ExpectedLoss      *float64 `json:"expected_loss,omitempty"`       // lim E[Ltilde(w)] - L(w*)
	ExpectedGradNorm2 *float64 `json:"expected_grad_norm2,omitempty"` // lim E||grad Ltilde(w)||^2

	Diagnostics Diagnostics `json:"diagnostics"`

	// TopEigenvector is a unit eigenvector v_max of H for lambda_max(H), in parameter space.
	TopEigenvector []float64 `json:"-"`
	// Bound25Vector is the unit maximizer found for (25), in parameter space.
	Bound25Vector []float64 `json:"-"`
	// Seconds is the wall-clock time of each stage (not serialized, so that the same input
	// gives the same bytes).
	Seconds map[string]float64 `json:"-"`

	pr    *problem
	gen   *genResult
	grads [][]float64
	opt   Options
}

// Release drops the eigenbasis and the gradients a report keeps for AddCovariance (for factored
// input: references to the caller's J_i and g_i, which stay alive while the report holds them,
// plus a few nk x r and r x r matrices). AddCovariance fails afterwards.
func (rep *Report) Release() { rep.pr, rep.gen, rep.grads = nil, nil, nil }

// AddCovariance computes the covariance limit of Thm 5 and the three limits of Cor. 1 at step
// size eta for a report made with gradients, filling CovarianceTrace, ExpectedLoss and
// ExpectedGradNorm2 (it reuses the eigenbasis and the top eigenvector of the analysis, so it
// costs only the linear solve). eta must satisfy 0 < eta < eta*, certified: eta < 2 / Bracket[1].
// Without gradients (an interpolating minimum) the limits are zero and the fields stay nil.
func (rep *Report) AddCovariance(eta float64) error {
	singleFrom := singleMinRank
	if rep.opt.doubleOnly {
		singleFrom = math.MaxInt
	}
	return rep.addCovariance(eta, singleFrom)
}

// addCovariance is AddCovariance with the single-precision steps of the solve from the rank
// singleFrom on (the tests lower it to take that path on small problems).
func (rep *Report) addCovariance(eta float64, singleFrom int) error {
	if rep.pr == nil {
		return fmt.Errorf("analysis: AddCovariance needs a report made by AnalyzeDense or AnalyzeFactored")
	}
	gen, pr := rep.gen, rep.pr
	if !(eta > 0) || !(eta < 2/rep.Bracket[1]) {
		return fmt.Errorf("analysis: eta = %g is not in (0, eta*) (certified eta* >= 2/%.17g = %.17g): the covariance limit does not exist", eta, rep.Bracket[1], 2/rep.Bracket[1])
	}
	sc := pr.scale // scaled problem: H/sc, g/sc, eta*sc has the same trajectories
	if rep.grads == nil {
		return nil
	}
	t := time.Now()
	gh := make([]float64, pr.n*pr.r)
	var tot float64 // sum_i ||g_i||^2 (centered)
	if outputProjection(pr, gh) {
		// V^T g_i from the output gradients; centering commutes with the projection
		if rep.opt.CenterGradients {
			centerRows(gh, pr.n, pr.r)
		}
		tot = sumSquares(rep.grads, pr.d, rep.opt.CenterGradients)
	} else {
		g := rep.grads
		if rep.opt.CenterGradients {
			g = centered(g, pr.d)
		}
		pr.space.project(gh, g)
		tot = sumSquares(g, pr.d, false)
	}
	for i := range gh {
		gh[i] /= sc
	}
	rng := 0.0
	for _, v := range gh {
		rng += v * v * sc * sc
	}
	if math.IsInf(tot, 0) {
		return fmt.Errorf("analysis: the gradients are too large for float64: sum_i ||g_i||^2 overflows, so the covariance limit (of order eta ||g||^2) does not fit either")
	}
	cov, err := covariance(pr, rep.P, eta*sc, gh, gen, rep.opt.MaxApplications, singleFrom)
	if err != nil {
		return err
	}
	cov.loss *= sc
	cov.gradNorm2 *= sc * sc
	cov.noiseTrace *= sc * sc
	for _, v := range []float64{cov.trace, cov.loss, cov.gradNorm2} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("analysis: the covariance limit overflowed (gradients too large for float64)")
		}
	}
	rep.Seconds["covariance"] = time.Since(t).Seconds()
	rep.CovarianceTrace, rep.ExpectedLoss, rep.ExpectedGradNorm2 = &cov.trace, &cov.loss, &cov.gradNorm2
	dg := &rep.Diagnostics
	dg.CovarianceEta, dg.CovarianceIterations, dg.CovarianceResidual, dg.NoiseTrace = eta, cov.cg.iterations, cov.cg.residual, cov.noiseTrace
	dg.CovarianceApplications, dg.CovarianceSingleApplications = cov.cg.double, cov.cg.single
	if tot > 0 {
		dg.GradNullFraction = math.Max(0, (tot-rng)/tot)
	}
	return nil
}

// Diagnostics describes how the numbers were obtained.
type Diagnostics struct {
	Backend string `json:"backend"` // linear-algebra backend (internal/linalg)
	N       int    `json:"n"`
	Batch   int    `json:"batch_size"`
	Dim     int    `json:"d"`
	K       int    `json:"k,omitempty"` // outputs (factored input)
	Rank    int    `json:"rank"`        // r = dim range(H)
	// NullEigenvalueMax is the largest |eigenvalue| of H declared zero (RankTol * lambda_max cut).
	NullEigenvalueMax float64 `json:"null_eigenvalue_max"`
	LambdaMinRange    float64 `json:"lambda_min_range"` // smallest eigenvalue of H kept
	TraceH            float64 `json:"trace_h"`

	// Generalized sharpness
	Method       string `json:"method"`
	Status       string `json:"status"`       // "converged" or "iteration_limit" (bracket width vs Options.RelWidth)
	Applications int    `json:"applications"` // applications of D (each ~ 2 n k r^2 flops factored with OpenBLAS, 3 in pure Go)
	// SingleApplications counts the applications of D in single precision of the first
	// Lanczos phase (factored input), which only choose the start of the double-precision
	// Lanczos that gives the value and the certificate.
	SingleApplications int     `json:"single_applications,omitempty"`
	Certificates       int     `json:"certificates"` // Collatz-Wielandt evaluations
	Restarts           int     `json:"restarts"`
	Residual           float64 `json:"residual"`          // ||A x - lambda x|| / lambda of the eigenvector
	BracketRelWidth    float64 `json:"bracket_rel_width"` // (hi - lo)/hi
	// BracketLowerFromBound25: bound (25) was above the Lanczos Rayleigh quotient and became
	// the bracket's lower end.
	BracketLowerFromBound25 bool `json:"bracket_lower_from_bound25,omitempty"`

	// Bound (25)
	Bound25Starts     int `json:"bound25_starts"`
	Bound25Screened   int `json:"bound25_screened"`
	Bound25Iterations int `json:"bound25_iterations"`
	Bound25Converged  int `json:"bound25_converged"`
	Bound25Pruned     int `json:"bound25_pruned"`
	// One more ascent of (25), run on its own from the top eigenvector u_1 of the top
	// eigenmatrix S*: the value it reached (<= bound25), its iterations, and whether it beat
	// every other start by more than rounding (bound25 and its maximizer are then its).
	Bound25TopEigenmatrixValue      float64 `json:"bound25_top_eigenmatrix_value"`
	Bound25TopEigenmatrixIterations int     `json:"bound25_top_eigenmatrix_iterations"`
	Bound25BestFromTopEigenmatrix   bool    `json:"bound25_best_from_top_eigenmatrix"`

	// Top eigenmatrix S*: products with S* of the two Lanczos runs, for mu_1 (and its
	// eigenvector, the start of (25)) and for mu_r, and how each ended ("converged" or
	// "iteration_limit": then mu_1 is an estimate from below, mu_r one from above).
	TopEigenmatrixApplications int    `json:"top_eigenmatrix_applications"`
	TopEigenmatrixStatus       string `json:"top_eigenmatrix_status"`
	TopEigenmatrixMinStatus    string `json:"top_eigenmatrix_min_status"`

	NonuniformityIterations int    `json:"nonuniformity_iterations"` // operator applications
	NonuniformityStatus     string `json:"nonuniformity_status"`     // "converged" or "iteration_limit" (Lanczos)

	// Gradients and covariance limit
	GradMeanRel          float64 `json:"grad_mean_rel,omitempty"`         // ||mean g|| / rms ||g_i|| (before centering)
	GradNullFraction     float64 `json:"grad_null_fraction,omitempty"`    // share of sum ||g_i||^2 in null(H)
	CovarianceEta        float64 `json:"covariance_eta,omitempty"`        // step size of the covariance limit
	CovarianceIterations int     `json:"covariance_iterations,omitempty"` // CG iterations
	CovarianceResidual   float64 `json:"covariance_residual,omitempty"`   // relative residual of the solve (D in double precision)
	NoiseTrace           float64 `json:"noise_trace,omitempty"`           // trace S_g, S_g = (1/n) sum P g_i g_i^T P
	// Applications of D in the covariance solve: in double precision (every step and the final
	// true residual; for factored input of rank >= 256 only the true residuals), and with
	// single-precision products (the steps, for factored input of rank >= 256).
	CovarianceApplications       int `json:"covariance_applications,omitempty"`
	CovarianceSingleApplications int `json:"covariance_single_applications,omitempty"`
}

// AnalyzeDense computes every quantity of THEORY.md for explicit per-sample Hessians and batch
// size batch. Input and options are validated first (see [Dense.Validate]).
func AnalyzeDense(d *Dense, batch int, opt Options) (*Report, error) {
	reps, err := AnalyzeDenseBatches(d, []int{batch}, opt)
	if err != nil {
		return nil, err
	}
	return reps[0], nil
}

// AnalyzeFactored computes every quantity of THEORY.md for Gauss-Newton curvature
// H_i = J_i^T M_i J_i (M_i shared or per sample) without forming any d x d matrix H_i: it works
// in the r-dimensional eigenbasis of H, where H is diagonal, obtained from the smaller of two
// matrices with the same nonzero eigenvalues n l_a: the nk x nk Gram matrix G G^T of the stacked
// G_i = M_i^{1/2} J_i when d >= nk, and n H = G^T G (d x d) itself when d < nk (THEORY.md,
// "Structure worth exploiting" and "Additions"). Input and options are validated first (see
// [Factored.Validate]).
func AnalyzeFactored(f *Factored, batch int, opt Options) (*Report, error) {
	reps, err := AnalyzeFactoredBatches(f, []int{batch}, opt)
	if err != nil {
		return nil, err
	}
	return reps[0], nil
}

// AnalyzeFactoredBatches is [AnalyzeFactored] for every batch size of batches at once: the
// eigenbasis of range(H) (the Gram matrix of the stacked G_i and its eigendecomposition) is
// computed once, and p, lambda_gen with its bracket, eta*, the bounds and the covariance limit
// are computed for each B in that basis; the numbers are those of [AnalyzeFactored] for that B,
// bit for bit. With opt.Eta > 0 every B must
// satisfy eta < eta*(B); to skip the B where it does not, leave opt.Eta zero and call
// [Report.AddCovariance] where 2/Bracket[1] > eta. The reports share the basis: Release one and
// the others keep it.
func AnalyzeFactoredBatches(f *Factored, batches []int, opt Options) ([]*Report, error) {
	return analyzeFactoredBatches(f, batches, opt, pathAuto)
}

// analyzeFactoredBatches is AnalyzeFactoredBatches with the basis found by the given path.
func analyzeFactoredBatches(f *Factored, batches []int, opt Options, path basisPath) ([]*Report, error) {
	if err := checkInputMemory(f); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	if err := f.Validate(opt); err != nil {
		return nil, err
	}
	if err := checkBatches(f.N, batches); err != nil {
		return nil, err
	}
	t0 := time.Now()
	pr, err := newFactoredProblem(f, opt, path)
	if err != nil {
		return nil, err
	}
	return analyzeBatches(pr, f.Gradients, batches, opt, time.Since(t0), f.K)
}

// AnalyzeDenseBatches is [AnalyzeFactoredBatches] for explicit per-sample Hessians.
func AnalyzeDenseBatches(d *Dense, batches []int, opt Options) ([]*Report, error) {
	if err := checkInputMemory(d); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.WithDefaults()
	if err := d.Validate(opt); err != nil {
		return nil, err
	}
	if err := checkBatches(d.N, batches); err != nil {
		return nil, err
	}
	t0 := time.Now()
	pr, err := newDenseProblem(d, opt.RankTol)
	if err != nil {
		return nil, err
	}
	return analyzeBatches(pr, d.Gradients, batches, opt, time.Since(t0), 0)
}

func checkBatches(n int, batches []int) error {
	if len(batches) == 0 {
		return fmt.Errorf("analysis: no batch size given")
	}
	for _, b := range batches {
		if err := checkBatch(n, b); err != nil {
			return err
		}
	}
	return nil
}

func analyzeBatches(pr *problem, grads [][]float64, batches []int, opt Options, basisTime time.Duration, k int) ([]*Report, error) {
	reps := make([]*Report, len(batches))
	for i, b := range batches {
		rep, err := analyze(pr, grads, b, opt, basisTime, k)
		if err != nil && len(batches) > 1 {
			return nil, fmt.Errorf("batch size %d: %w", b, err)
		}
		if err != nil {
			return nil, err
		}
		basisTime = 0 // the basis is computed once; the first report carries its time
		reps[i] = rep
		if i == len(batches)-1 {
			break
		}
		// the Lanczos basis of this B (up to 80 vectors of r(r+1)/2, 1.3 GB at r = 2048) is
		// garbage now: collect it before the next B allocates its own (measured peak RSS for
		// eight batch sizes at n = 512, d = 15,784: 4.3 GB without this, one B: 2.3 GB)
		runtime.GC()
	}
	return reps, nil
}

func analyze(pr *problem, grads [][]float64, batch int, opt Options, basisTime time.Duration, k int) (*Report, error) {
	p := sampling.P(pr.n, batch)
	sc := pr.scale // the problem is stored as H / sc; curvatures are multiplied back
	rep := &Report{P: p, Sharpness: pr.l[0] * sc, GDThreshold: 2 / (pr.l[0] * sc), pr: pr,
		Seconds: map[string]float64{"basis": basisTime.Seconds()}}
	dg := &rep.Diagnostics
	dg.Backend, dg.N, dg.Batch, dg.Dim, dg.K, dg.Rank = linalg.Backend(), pr.n, batch, pr.d, k, pr.r
	dg.NullEigenvalueMax, dg.LambdaMinRange = pr.nullMax*sc, pr.l[pr.r-1]*sc
	for _, l := range pr.l {
		dg.TraceH += l * sc
	}

	t := time.Now()
	rep.Bound15 = bound15(pr, p) * sc
	rep.Bound16 = bound16(pr, p) * sc
	rep.Seconds["bounds15_16"] = time.Since(t).Seconds()

	t = time.Now()
	gen, err := generalizedSharpness(pr, p, opt)
	if err != nil {
		return nil, err
	}
	rep.gen = gen
	rep.Seconds["generalized_sharpness"] = time.Since(t).Seconds()

	t = time.Now()
	shape, err := topEigenmatrixShape(gen.s, pr.r, opt.Seed)
	if err != nil {
		return nil, err
	}
	rep.TopEigenmatrixEffectiveRank, rep.TopEigenmatrixTopShare, rep.TopEigenmatrixMinEigRel = &shape.effRank, &shape.topShare, &shape.minEigRel
	dg.TopEigenmatrixApplications, dg.TopEigenmatrixStatus, dg.TopEigenmatrixMinStatus = shape.applications, string(shape.status), string(shape.minStatus)
	rep.Seconds["top_eigenmatrix"] = time.Since(t).Seconds()

	t = time.Now()
	b, err := bound25(pr, p, opt, shape.top)
	if err != nil {
		return nil, err
	}
	rep.Seconds["bound25"] = time.Since(t).Seconds()
	rep.Bound25 = b.value * sc
	// the top eigenvector of H and bound (25)'s maximizer in parameter space, in one pass over
	// the factors
	e1 := make([]float64, pr.r)
	e1[0] = 1
	rep.TopEigenvector, rep.Bound25Vector = make([]float64, pr.d), make([]float64, pr.d)
	pr.space.toParams([][]float64{rep.TopEigenvector, rep.Bound25Vector}, [][]float64{e1, b.vector})
	dg.Bound25Starts, dg.Bound25Screened, dg.Bound25Iterations, dg.Bound25Converged, dg.Bound25Pruned = b.starts, b.screened, b.iterations, b.converged, b.pruned
	dg.Bound25TopEigenmatrixValue, dg.Bound25TopEigenmatrixIterations, dg.Bound25BestFromTopEigenmatrix = b.extraValue*sc, b.extraIterations, b.fromExtra
	// (25) is a certified lower bound on lambda_gen: it can raise the bracket's lower end, and
	// it must not exceed its upper end.
	if dg.BracketLowerFromBound25, err = gen.admitLowerBound(b.value, opt.RelWidth); err != nil {
		return nil, fmt.Errorf("analysis: bound (25) = %.17g against the certified bracket [%.17g, %.17g] of lambda_gen: %w",
			b.value*sc, gen.lo*sc, gen.hi*sc, err)
	}

	rep.GeneralizedSharpness = gen.estimate() * sc
	rep.Bracket = [2]float64{gen.lo * sc, gen.hi * sc}
	rep.EtaStar = 2 / rep.GeneralizedSharpness
	dg.Method, dg.Applications, dg.Certificates, dg.Restarts, dg.Residual = gen.method, gen.applications, gen.certificates, gen.restarts, gen.residual
	dg.SingleApplications = gen.singleApplications
	dg.BracketRelWidth = (gen.hi - gen.lo) / gen.hi
	dg.Status = string(linalg.Converged)
	if !gen.converged {
		dg.Status = string(linalg.IterationLimit)
	}

	t = time.Now()
	var status linalg.Status
	rep.Nonuniformity, dg.NonuniformityIterations, status, err = nonuniformity(pr, opt.Seed)
	if err != nil {
		return nil, err
	}
	dg.NonuniformityStatus = string(status)
	rep.Nonuniformity *= sc
	rep.Seconds["nonuniformity"] = time.Since(t).Seconds()

	for _, v := range []float64{rep.Sharpness, rep.GDThreshold, rep.GeneralizedSharpness, rep.Bracket[0], rep.Bracket[1],
		rep.EtaStar, rep.Bound15, rep.Bound16, rep.Bound25, rep.Nonuniformity,
		shape.effRank, shape.topShare, shape.minEigRel, dg.Bound25TopEigenmatrixValue} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("analysis: a result is not finite (curvature too large or too small for float64)")
		}
	}
	rep.grads, rep.opt = grads, opt
	if grads != nil {
		dg.GradMeanRel = gradMeanRel(grads, pr.d)
	}
	if opt.Eta > 0 {
		if err := rep.AddCovariance(opt.Eta); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// sumSquares returns sum_i ||g_i||^2, or sum_i ||g_i - mean g||^2 if center (the same sums as
// over centered(g)).
func sumSquares(g [][]float64, d int, center bool) float64 {
	var mean []float64
	if center {
		mean = meanOf(g, d)
	}
	tot := 0.0
	for _, gi := range g {
		for a, v := range gi {
			if center {
				v -= mean[a]
			}
			tot += v * v
		}
	}
	return tot
}

// centerRows subtracts the mean row from the n x m matrix y.
func centerRows(y []float64, n, m int) {
	mean := make([]float64, m)
	for i := 0; i < n; i++ {
		for a, v := range y[i*m : (i+1)*m] {
			mean[a] += v / float64(n)
		}
	}
	for i := 0; i < n; i++ {
		for a := range mean {
			y[i*m+a] -= mean[a]
		}
	}
}

// meanOf returns (1/n) sum_i g_i, summed as centered does.
func meanOf(g [][]float64, d int) []float64 {
	mean := make([]float64, d)
	for _, gi := range g {
		for a, v := range gi {
			mean[a] += v / float64(len(g))
		}
	}
	return mean
}

func centered(g [][]float64, d int) [][]float64 {
	mean := meanOf(g, d)
	out := make([][]float64, len(g))
	for i, gi := range g {
		out[i] = make([]float64, d)
		for a, v := range gi {
			out[i][a] = v - mean[a]
		}
	}
	return out
}
