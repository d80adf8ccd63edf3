package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

func TestValidation(t *testing.T) {
	good := func() *Dense {
		return &Dense{N: 2, D: 2, Hessians: [][]float64{{2, 1, 1, 2}, {1, 0, 0, 3}},
			Gradients: [][]float64{{1, -1}, {-1, 1}}}
	}
	if _, err := AnalyzeDense(good(), 1, Options{}); err != nil {
		t.Fatalf("good input rejected: %v", err)
	}
	cases := []struct {
		name  string
		mod   func(d *Dense)
		batch int
		opt   Options
		want  string
	}{
		{"n mismatch", func(d *Dense) { d.N = 3 }, 1, Options{}, "n = 3 but 2 Hessians"},
		{"short Hessian", func(d *Dense) { d.Hessians[1] = []float64{1, 0, 0} }, 1, Options{}, "Hessian 1 has 3 entries"},
		{"NaN", func(d *Dense) { d.Hessians[0][1] = math.NaN() }, 1, Options{}, "NaN or Inf"},
		{"Inf gradient", func(d *Dense) { d.Gradients[0][0] = math.Inf(1) }, 1, Options{}, "gradient 0 contains NaN or Inf"},
		{"asymmetric", func(d *Dense) { d.Hessians[0][1] = 1.5 }, 1, Options{}, "not symmetric"},
		{"not PSD", func(d *Dense) { d.Hessians[1] = []float64{1, 0, 0, -0.01} }, 1, Options{}, "not positive semi-definite"},
		{"batch 0", func(d *Dense) {}, 0, Options{}, "batch size 0 outside"},
		{"batch > n", func(d *Dense) {}, 3, Options{}, "batch size 3 outside"},
		{"gradient mean", func(d *Dense) { d.Gradients[0][0] = 1.1 }, 1, Options{}, "do not average to zero"},
		{"gradient length", func(d *Dense) { d.Gradients[1] = []float64{1} }, 1, Options{}, "gradient 1 has length 1"},
		{"gradient count", func(d *Dense) { d.Gradients = d.Gradients[:1] }, 1, Options{}, "1 gradients given"},
		{"eta too large", func(d *Dense) {}, 1, Options{Eta: 10}, "is not in (0, eta*)"},
		{"eta negative", func(d *Dense) {}, 1, Options{Eta: -1}, "option eta"},
		{"zero H", func(d *Dense) { d.Hessians = [][]float64{{0, 0, 0, 0}, {0, 0, 0, 0}} }, 1, Options{}, "H = (1/n) sum_i H_i is zero"},
		{"d = 0", func(d *Dense) { d.D = 0 }, 1, Options{}, "d >= 1"},
	}
	for _, tc := range cases {
		d := good()
		tc.mod(d)
		_, err := AnalyzeDense(d, tc.batch, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// centering instead of rejecting
	d := good()
	d.Gradients[0][0] = 1.1
	rep, err := AnalyzeDense(d, 1, Options{CenterGradients: true, Eta: 0.1})
	if err != nil || rep.Diagnostics.GradMeanRel == 0 || rep.CovarianceTrace == nil {
		t.Errorf("CenterGradients: err %v, report %+v", err, rep)
	}

	// AddCovariance after the fact equals the one-shot analysis; Release frees and disables it
	r1, err := AnalyzeDense(good(), 1, Options{Eta: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := AnalyzeDense(good(), 1, Options{})
	if err := r2.AddCovariance(0.1); err != nil || *r2.CovarianceTrace != *r1.CovarianceTrace {
		t.Errorf("AddCovariance: %v, trace %v vs %v", err, r2.CovarianceTrace, *r1.CovarianceTrace)
	}
	if err := r2.AddCovariance(2 * r2.EtaStar); err == nil {
		t.Error("AddCovariance accepted eta > eta*")
	}
	r2.Release()
	if err := r2.AddCovariance(0.1); err == nil {
		t.Error("AddCovariance worked after Release")
	}

	goodF := func() *Factored {
		return &Factored{N: 2, K: 2, D: 3, Factors: [][]float64{{1, 0, 2, 0, 1, 0}, {0, 1, 1, 1, 0, 0}}, OutputHessian: []float64{2, 0, 0, 2}}
	}
	if _, err := AnalyzeFactored(goodF(), 1, Options{}); err != nil {
		t.Fatalf("good factored input rejected: %v", err)
	}
	fcases := []struct {
		name string
		mod  func(f *Factored)
		want string
	}{
		{"factor count", func(f *Factored) { f.Factors = f.Factors[:1] }, "1 factors given"},
		{"factor length", func(f *Factored) { f.Factors[0] = f.Factors[0][:5] }, "factor 0 has 5 entries"},
		{"NaN factor", func(f *Factored) { f.Factors[1][2] = math.NaN() }, "factor 1 contains NaN"},
		{"M shape", func(f *Factored) { f.OutputHessian = []float64{1} }, "output Hessian has 1 entries"},
		{"M asymmetric", func(f *Factored) { f.OutputHessian[1] = 1 }, "not symmetric"},
		{"M not PSD", func(f *Factored) { f.OutputHessian[3] = -1 }, "not positive semi-definite"},
		{"zero factors", func(f *Factored) { f.Factors = [][]float64{make([]float64, 6), make([]float64, 6)} }, "is zero"},
	}
	for _, tc := range fcases {
		f := goodF()
		tc.mod(f)
		_, err := AnalyzeFactored(f, 1, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := simulateDense(good(), simulation{eta: 0, batch: 1, scheme: sampling.Independent}); err == nil {
		t.Error("simulation with eta = 0 accepted")
	}
}

// TestCertificate checks the Cholesky-based upper bound against the dense Collatz-Wielandt
// bracket lambda_max(S^{-1/2} T(S) S^{-1/2}) for arbitrary positive definite S, and that both
// bound lambda_gen from above.
func TestCertificate(t *testing.T) {
	rng := rand.New(rand.NewPCG(121, 122))
	in := randDense(rng, problemSpec{n: 5, d: 4, k: 1})
	pr, err := newDenseProblem(in, 1e-10)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := AnalyzeDense(in, 2, Options{})
	o := newOperator(pr, sampling.P(5, 2))
	r := pr.r
	for trial := 0; trial < 5; trial++ {
		s := make([]float64, r*r)
		for c := 0; c < r+2; c++ {
			z := make([]float64, r)
			for a := range z {
				z[a] = rng.NormFloat64()
			}
			for a := 0; a < r; a++ {
				for b := 0; b < r; b++ {
					s[a*r+b] += z[a] * z[b]
				}
			}
		}
		ts := make([]float64, r*r)
		if err := o.applyT(ts, s); err != nil {
			t.Fatal(err)
		}
		lo, hi, ok := cwBracket(r, s, ts)
		if !ok {
			t.Fatal("random S not positive definite")
		}
		up, ok := cwUpper(r, s, ts, lo, 1e-3, math.Inf(1))
		if !ok || up < hi*(1-1e-12) || up > hi+(hi-lo)/8+2e-3*lo { // bisection resolution: 1/16 of the last grid step
			t.Errorf("cwUpper %g, dense bracket [%g, %g]", up, lo, hi)
		}
		g := rep.GeneralizedSharpness / pr.scale // the problem holds H / scale
		if hi < g*(1-1e-12) || lo > g*(1+1e-12) {
			t.Errorf("Collatz-Wielandt bracket [%g, %g] misses lambda_gen %g", lo, hi, g)
		}
	}
}

// TestOptionRanges checks every option's range: values outside are an *OptionError naming the
// option, the ends inside are accepted, and the smallest RelWidth is met by the certificate.
func TestOptionRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"eta", Options{Eta: math.Inf(1)}},
		{"eta", Options{Eta: -1e-9}},
		{"rel_width", Options{RelWidth: 2}},
		{"rel_width", Options{RelWidth: 1}},
		{"rel_width", Options{RelWidth: 1e-300}},
		{"rel_width", Options{RelWidth: MinRelWidth / 2}},
		{"rel_width", Options{RelWidth: math.NaN()}},
		{"rel_width", Options{RelWidth: -1e-6}},
		{"rank_tol", Options{RankTol: 1e-300}},
		{"rank_tol", Options{RankTol: 1}},
		{"sym_tol", Options{SymTol: -1}},
		{"sym_tol", Options{SymTol: 1}},
		{"psd_tol", Options{PSDTol: 1}},
		{"psd_tol", Options{PSDTol: math.Inf(1)}},
		{"grad_mean_tol", Options{GradMeanTol: 1.5}},
		{"max_applications", Options{MaxApplications: -1}},
		{"bound25_starts", Options{Bound25Starts: -1}},
		{"bound25_random", Options{Bound25Random: -1}},
		{"bound25_max_iter", Options{Bound25MaxIter: -1}},
	} {
		err := tc.opt.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.name {
			t.Errorf("%+v: error %v, want an OptionError for %s", tc.opt, err, tc.name)
		}
		// the entry points refuse it before looking at the input
		if _, err := AnalyzeFactored(nil, 1, tc.opt); !errors.As(err, &oe) {
			t.Errorf("AnalyzeFactored with %+v: error %v, want an OptionError", tc.opt, err)
		}
	}
	for _, opt := range []Options{{}, {RelWidth: MinRelWidth, RankTol: MinRankTol}, {RelWidth: 0.999, RankTol: 0.5, GradMeanTol: 1, SymTol: 0.5, PSDTol: 0.5}} {
		if err := opt.Validate(); err != nil {
			t.Errorf("%+v rejected: %v", opt, err)
		}
	}
	// The smallest accepted width is one the certificate meets (here at rank 30, n = 20).
	in := randDense(rand.New(rand.NewPCG(1, 2)), problemSpec{n: 20, d: 30, k: 3})
	rep, err := AnalyzeDense(in, 2, Options{RelWidth: MinRelWidth})
	if err != nil {
		t.Fatal(err)
	}
	if dg := rep.Diagnostics; dg.Status != "converged" || !(dg.BracketRelWidth <= MinRelWidth) {
		t.Errorf("RelWidth = MinRelWidth: status %s, width %g", dg.Status, dg.BracketRelWidth)
	}
}

// Finite entries near the float64 maximum are not reported as NaN or Inf: the symmetrization of
// the PSD check no longer overflows, and a result that does overflow says so.
func TestHugeFiniteEntries(t *testing.T) {
	v := 1e308
	_, err := AnalyzeDense(&Dense{N: 2, D: 2, Hessians: [][]float64{{v, -v, -v, v}, {v, v, v, v}}}, 1, Options{})
	if err == nil || strings.Contains(err.Error(), "NaN or Inf") || !strings.Contains(err.Error(), "float64") {
		t.Errorf("entries 1e308: %v", err)
	}
	v = 1e200 // the same problem scaled down is analysed (everything is scaled by the largest entry)
	if _, err := AnalyzeDense(&Dense{N: 2, D: 2, Hessians: [][]float64{{v, -v, -v, v}, {v, v, v, v}}}, 1, Options{}); err != nil {
		t.Errorf("entries 1e200: %v", err)
	}
}

// TestFinite checks finite and firstNonFinite against math.IsNaN and math.IsInf entry by entry:
// a NaN, +Inf or -Inf at every position of slices of every length up to 9 (across the four
// partial sums and the tail), among finite entries as large as the float64 maximum and as small
// as the smallest subnormal; and firstNonFinite on slices long enough to be split between the
// cores, with the bad entry in the first, a middle or the last slice, or in several.
func TestFinite(t *testing.T) {
	oracle := func(xs []float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	fill := []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.Copysign(0, -1), 1, -3.5e-300, 7e307}
	for n := 0; n <= 9; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = fill[i%len(fill)]
		}
		if !finite(xs) || !oracle(xs) {
			t.Fatalf("length %d, finite entries: finite %v", n, finite(xs))
		}
		for p := 0; p < n; p++ {
			for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				ys := append([]float64(nil), xs...)
				ys[p] = bad
				if finite(ys) != oracle(ys) {
					t.Errorf("length %d, %v at %d: finite %v", n, bad, p, finite(ys))
				}
			}
		}
	}
	const slices, each = 37, 1 << 16 // 2.4M entries: above factorsMinParallel
	xs := make([][]float64, slices)
	for i := range xs {
		xs[i] = make([]float64, each)
		for j := range xs[i] {
			xs[i][j] = fill[(i+j)%len(fill)]
		}
	}
	if got := firstNonFinite(xs); got != -1 {
		t.Fatalf("all finite: firstNonFinite = %d", got)
	}
	for _, bad := range [][]int{{0}, {18}, {36}, {30, 5}, {20, 19}} {
		for _, i := range bad {
			xs[i][each-1-i] = math.Inf(-1)
		}
		want := slices
		for _, i := range bad {
			want = min(want, i)
		}
		if got := firstNonFinite(xs); got != want {
			t.Errorf("non-finite in slices %v: firstNonFinite = %d, want %d", bad, got, want)
		}
		for _, i := range bad {
			xs[i][each-1-i] = 1
		}
	}
}
