package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// factoredSpec describes a random factored problem: n samples, k outputs, d parameters, each
// J_i = Z_i U^T with U (d x sub) orthonormal on the first d - dead coordinates (sub < d - dead:
// rank-deficient H; dead > 0: columns of every J_i that are zero, like dead units), and M of the
// given rank (rank < k: a rank-deficient output Hessian, like softmax's).
type factoredSpec struct {
	n, k, d, sub, dead, mRank int
	nullGrads                 bool // gradients with a component in null(H)
}

func randFactored(rng *rand.Rand, s factoredSpec) *Factored {
	n, k, d := s.n, s.k, s.d
	u := make([]float64, d*s.sub)
	live := randOrtho(rng, d-s.dead, s.sub)
	copy(u, live) // rows d - dead .. d-1 stay zero
	f := &Factored{N: n, K: k, D: d, OutputHessian: make([]float64, k*k)}
	z := make([]float64, k*s.mRank)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			for c := 0; c < s.mRank; c++ {
				f.OutputHessian[a*k+b] += z[a*s.mRank+c] * z[b*s.mRank+c]
			}
		}
	}
	for i := 0; i < n; i++ {
		w := 0.3 + rng.Float64() // per-sample scale: non-uniform curvature
		j := make([]float64, k*d)
		for a := 0; a < k; a++ {
			for c := 0; c < s.sub; c++ {
				zc := w * rng.NormFloat64()
				for x := 0; x < d; x++ {
					j[a*d+x] += zc * u[x*s.sub+c]
				}
			}
		}
		f.Factors = append(f.Factors, j)
	}
	f.Gradients = make([][]float64, n)
	mean := make([]float64, d)
	for i := range f.Gradients {
		g := make([]float64, d)
		for c := 0; c < s.sub; c++ {
			zc := rng.NormFloat64()
			for x := 0; x < d; x++ {
				g[x] += zc * u[x*s.sub+c]
			}
		}
		if s.nullGrads {
			for x := range g {
				g[x] += 0.3 * rng.NormFloat64()
			}
		}
		f.Gradients[i] = g
		for x := range g {
			mean[x] += g[x] / float64(n)
		}
	}
	for _, g := range f.Gradients {
		for x := range g {
			g[x] -= mean[x]
		}
	}
	return f
}

// reportQuantities lists every reported number of an analysis with a covariance limit.
func reportQuantities(r *Report) map[string]float64 {
	return map[string]float64{
		"sharpness":             r.Sharpness,
		"gd threshold":          r.GDThreshold,
		"generalized sharpness": r.GeneralizedSharpness,
		"bracket lo":            r.Bracket[0],
		"bracket hi":            r.Bracket[1],
		"eta*":                  r.EtaStar,
		"bound15":               r.Bound15,
		"bound16":               r.Bound16,
		"bound25":               r.Bound25,
		"nonuniformity":         r.Nonuniformity,
		"covariance trace":      *r.CovarianceTrace,
		"expected loss":         *r.ExpectedLoss,
		"expected grad norm^2":  *r.ExpectedGradNorm2,
		"trace H":               r.Diagnostics.TraceH,
		"lambda_min range":      r.Diagnostics.LambdaMinRange,
		"noise trace":           r.Diagnostics.NoiseTrace,
		"grad null fraction":    r.Diagnostics.GradNullFraction,
		"S* effective rank":     *r.TopEigenmatrixEffectiveRank,
		"S* top share":          *r.TopEigenmatrixTopShare,
	}
}

// compareReports checks every reported quantity of got against want to rel (relative), the rank
// exactly and the top eigenvector of H up to sign, and returns the largest relative difference.
func compareReports(t *testing.T, name string, got, want *Report, rel float64) float64 {
	t.Helper()
	if got.Diagnostics.Rank != want.Diagnostics.Rank {
		t.Errorf("%s: rank %d, want %d", name, got.Diagnostics.Rank, want.Diagnostics.Rank)
	}
	worst := 0.0
	wq := reportQuantities(want)
	for q, v := range reportQuantities(got) {
		e := relErr(v, wq[q])
		if q == "grad null fraction" { // a difference of two traces: absolute on the scale 1
			e = math.Abs(v - wq[q])
		}
		if !(e <= rel) {
			t.Errorf("%s: %s = %.16g, want %.16g (rel err %.3g > %.3g)", name, q, v, wq[q], e, rel)
		}
		worst = math.Max(worst, e)
	}
	dot := 0.0
	for x := range got.TopEigenvector {
		dot += got.TopEigenvector[x] * want.TopEigenvector[x]
	}
	if e := math.Abs(math.Abs(dot) - 1); !(e <= rel) {
		t.Errorf("%s: top eigenvectors differ: |<v, v_want>| = %.16g", name, math.Abs(dot))
	}
	return worst
}

// TestHessianPathMatchesDenseAndGram: for d < nk the factored analysis takes its basis from
// n H = G^T G (d x d). On random problems (full rank and rank-deficient H, dead columns, a
// rank-deficient output Hessian, gradients with and without a null-space part) every reported
// quantity agrees with AnalyzeDense on the same H_i = J_i^T M J_i, with the Gram path forced on
// the same input, and the Hessian path forced where d >= nk agrees with the Gram path there.
func TestHessianPathMatchesDenseAndGram(t *testing.T) {
	rng := rand.New(rand.NewPCG(211, 212))
	worstDense, worstGram := 0.0, 0.0
	for _, s := range []factoredSpec{
		{n: 40, k: 4, d: 30, sub: 29, dead: 1, mRank: 4},                  // full rank on the live columns
		{n: 30, k: 3, d: 20, sub: 8, mRank: 3, nullGrads: true},           // rank-deficient H
		{n: 12, k: 2, d: 23, sub: 23, mRank: 1, nullGrads: true},          // rank(M) = 1: rank H = n = 12
		{n: 50, k: 1, d: 6, sub: 4, dead: 1, mRank: 1},                    // k = 1
		{n: 25, k: 4, d: 40, sub: 15, dead: 3, mRank: 3, nullGrads: true}, // everything at once
	} {
		f := randFactored(rng, s)
		if !hessianPath(s.n, s.k, s.d) {
			t.Fatalf("%+v: d >= nk", s)
		}
		dn := &Dense{N: s.n, D: s.d, Gradients: f.Gradients}
		for i := 0; i < s.n; i++ {
			dn.Hessians = append(dn.Hessians, gaussNewton(f, i))
		}
		for _, b := range []int{1, 3, s.n} {
			name := fmt.Sprintf("n=%d k=%d d=%d sub=%d B=%d", s.n, s.k, s.d, s.sub, b)
			first, err := AnalyzeFactored(f, b, Options{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			opt := Options{Eta: 0.6 * first.EtaStar}
			fr, err := AnalyzeFactored(f, b, opt)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, ok := fr.pr.space.(*denseSpace); !ok {
				t.Fatalf("%s: d < nk but the basis came from the Gram matrix", name)
			}
			gr, err := analyzeFactored(f, b, opt, pathGram)
			if err != nil {
				t.Fatalf("%s: Gram path: %v", name, err)
			}
			if _, ok := gr.pr.space.(*factSpace); !ok {
				t.Fatalf("%s: the Gram path was not taken when forced", name)
			}
			dr, err := AnalyzeDense(dn, b, opt)
			if err != nil {
				t.Fatalf("%s: dense: %v", name, err)
			}
			if want := min(s.sub, s.n*min(s.k, s.mRank)); fr.Diagnostics.Rank != want {
				t.Errorf("%s: rank %d, want %d", name, fr.Diagnostics.Rank, want)
			}
			worstDense = math.Max(worstDense, compareReports(t, name+" vs dense", fr, dr, 1e-9))
			worstGram = math.Max(worstGram, compareReports(t, name+" vs Gram", fr, gr, 1e-10))
		}
	}
	t.Logf("largest relative difference: vs AnalyzeDense %.3g, vs the Gram path %.3g", worstDense, worstGram)

	// d >= nk: the Gram path by default; the Hessian path, forced, gives the same numbers
	f := randFactored(rng, factoredSpec{n: 6, k: 2, d: 15, sub: 14, dead: 1, mRank: 2, nullGrads: true})
	worst := 0.0
	for _, b := range []int{1, 2, 6} {
		first, err := AnalyzeFactored(f, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := first.pr.space.(*factSpace); !ok {
			t.Fatalf("d >= nk but the Gram path was not taken")
		}
		opt := Options{Eta: 0.6 * first.EtaStar}
		gr, err := AnalyzeFactored(f, b, opt)
		if err != nil {
			t.Fatal(err)
		}
		hr, err := analyzeFactored(f, b, opt, pathHessian)
		if err != nil {
			t.Fatal(err)
		}
		worst = math.Max(worst, compareReports(t, fmt.Sprintf("d >= nk, B=%d, Hessian path vs Gram", b), hr, gr, 1e-10))
	}
	t.Logf("d >= nk: largest relative difference of the forced Hessian path from the Gram path %.3g", worst)
}

// TestHessianBasis checks the basis of the Hessian path against its definition with the dense
// H = (1/n) sum_i J_i^T M J_i: V^T V = I, V diag(l) V^T = H, the factors in the basis are
// B_i = M^{1/2} J_i V (through B_i^T B_i = V^T H_i V), and the eigenvalues are those of H.
func TestHessianBasis(t *testing.T) {
	rng := rand.New(rand.NewPCG(221, 222))
	s := factoredSpec{n: 20, k: 3, d: 12, sub: 7, dead: 2, mRank: 2}
	f := randFactored(rng, s)
	pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathAuto)
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := pr.space.(*denseSpace)
	if !ok {
		t.Fatal("d < nk but the basis came from the Gram matrix")
	}
	d, r, sc := s.d, pr.r, pr.scale
	dn := &Dense{N: s.n, D: d}
	for i := 0; i < s.n; i++ {
		dn.Hessians = append(dn.Hessians, gaussNewton(f, i))
	}
	h := meanH(dn)
	w, _ := eigh(d, h)
	if r != s.sub {
		t.Fatalf("rank %d, want %d", r, s.sub)
	}
	hmax := w[d-1]
	for a := 0; a < r; a++ {
		checkRel(t, fmt.Sprintf("eigenvalue %d", a), pr.l[a]*sc, w[d-1-a], 1e-12)
	}
	v := sp.v
	for a := 0; a < r; a++ {
		for b := 0; b < r; b++ {
			dot := 0.0
			for x := 0; x < d; x++ {
				dot += v[x*r+a] * v[x*r+b]
			}
			if a == b {
				dot--
			}
			if math.Abs(dot) > 1e-13 {
				t.Errorf("(V^T V - I)[%d,%d] = %g", a, b, dot)
			}
		}
	}
	for x := 0; x < d; x++ {
		for y := 0; y < d; y++ {
			got := 0.0
			for a := 0; a < r; a++ {
				got += v[x*r+a] * pr.l[a] * sc * v[y*r+a]
			}
			if math.Abs(got-h[x*d+y]) > 1e-12*hmax {
				t.Errorf("(V diag(l) V^T)[%d,%d] = %.15g, H = %.15g", x, y, got, h[x*d+y])
			}
		}
	}
	fc := pr.curv.(*factCurv)
	for i := 0; i < s.n; i++ {
		hi := dn.Hessians[i]
		bi := fc.b[i*s.k*r : (i+1)*s.k*r]
		for a := 0; a < r; a++ {
			for b := 0; b < r; b++ {
				got, want := 0.0, 0.0
				for c := 0; c < s.k; c++ {
					got += bi[c*r+a] * bi[c*r+b]
				}
				for x := 0; x < d; x++ {
					for y := 0; y < d; y++ {
						want += v[x*r+a] * hi[x*d+y] * v[y*r+b]
					}
				}
				if math.Abs(got*sc-want) > 1e-12*hmax {
					t.Errorf("sample %d: (B_i^T B_i)[%d,%d] = %.15g, V^T H_i V = %.15g", i, a, b, got*sc, want)
				}
			}
		}
	}
}

// largeOneDim returns n = 30,000 samples with k = d = 1: J_i = [j_i], M = [m], and centered
// scalar gradients, the shape whose Gram matrix would be 7.2 GB.
var nLarge = 30000

func largeOneDim(seed uint64) *Factored {
	n := nLarge
	rng := rand.New(rand.NewPCG(seed, 3))
	f := &Factored{N: n, K: 1, D: 1, OutputHessian: []float64{1.7}, Gradients: make([][]float64, n)}
	mean := 0.0
	for i := 0; i < n; i++ {
		f.Factors = append(f.Factors, []float64{rng.NormFloat64() * (0.5 + rng.Float64())})
		g := rng.NormFloat64()
		f.Gradients[i] = []float64{g}
		mean += g / float64(n)
	}
	for _, g := range f.Gradients {
		g[0] -= mean
	}
	return f
}

// TestHessianPathLargeN: n = 30,000 samples, k = d = 1 (an nk x nk Gram matrix of 7.2 GB) is
// accepted under a 4 MB memory limit and analysed through the 1 x 1 matrix H. In one dimension
// everything has a closed form, with h_i = m j_i^2, l = mean h_i, v = (1/n) sum (h_i - l)^2:
// lambda_gen = ((1 - p) l^2 + p mean h_i^2) / l = l + p v / l = bounds (15), (16), (25);
// nonuniformity sqrt(v); and with s = mean g_i^2 and D = l^2 + p v the covariance limit
// E[x^2] = eta p s / (2 l - eta D), E[Ltilde] - L* = l E[x^2] / 2, E[grad^2] = l^2 E[x^2].
func TestHessianPathLargeN(t *testing.T) {
	f := largeOneDim(5)
	n := f.N
	want := 8 * (float64(n*1*1+n*1+3*1+512*1+2*1+3*n+n+n+17+1+1) + 1.5*float64(n) + 0.5) // ops(1) = 17 + (1 + 1) 1
	if got := float64(MemoryEstimate(n, 1, 1, true)); got != want {
		t.Errorf("memory estimate %g, want %g", got, want)
	}
	SetMemoryLimit(4 << 20)
	defer SetMemoryLimit(0)
	m := f.OutputHessian[0]
	l, h2, s := 0.0, 0.0, 0.0
	for i, j := range f.Factors {
		h := m * j[0] * j[0]
		l += h / float64(n)
		h2 += h * h / float64(n)
		s += f.Gradients[i][0] * f.Gradients[i][0] / float64(n)
	}
	v := h2 - l*l
	for _, b := range []int{1, 100, n} {
		p := sampling.P(n, b)
		gen := l + p*v/l
		eta := 0.5 * 2 / gen
		rep, err := AnalyzeFactored(f, b, Options{Eta: eta})
		if err != nil {
			t.Fatalf("B = %d: %v", b, err)
		}
		name := func(q string) string { return fmt.Sprintf("B = %d: %s", b, q) }
		checkRel(t, name("sharpness"), rep.Sharpness, l, 1e-12)
		checkRel(t, name("generalized sharpness"), rep.GeneralizedSharpness, gen, 1e-10)
		checkRel(t, name("bracket lo"), rep.Bracket[0], gen, 1e-10)
		checkRel(t, name("bracket hi"), rep.Bracket[1], gen, 1e-10)
		checkRel(t, name("eta*"), rep.EtaStar, 2/gen, 1e-10)
		checkRel(t, name("bound15"), rep.Bound15, gen, 1e-10)
		checkRel(t, name("bound16"), rep.Bound16, gen, 1e-10)
		checkRel(t, name("bound25"), rep.Bound25, gen, 1e-10)
		checkRel(t, name("nonuniformity"), rep.Nonuniformity, math.Sqrt(v), 1e-10)
		x2 := eta * p * s / (2*l - eta*(l*l+p*v))
		if p == 0 {
			if *rep.CovarianceTrace != 0 {
				t.Errorf("B = n: covariance trace %g, want 0", *rep.CovarianceTrace)
			}
			continue
		}
		checkRel(t, name("covariance trace"), *rep.CovarianceTrace, x2, 1e-10)
		checkRel(t, name("expected loss"), *rep.ExpectedLoss, l*x2/2, 1e-10)
		checkRel(t, name("expected grad norm^2"), *rep.ExpectedGradNorm2, l*l*x2, 1e-10)
	}
}

// BenchmarkHessianPathLargeN times the full analysis (with the covariance limit) of n = 30,000
// samples with k = d = 1, batch size 32, through the Hessian path.
func BenchmarkHessianPathLargeN(b *testing.B) {
	f := largeOneDim(5)
	for b.Loop() {
		rep, err := AnalyzeFactored(f, 32, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.AddCovariance(0.5 * rep.EtaStar); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBound25ManySamples: with n = 2100 samples (more than bound25TopCandidates tops of H_i, and
// more candidates than one screening block holds) in d = 3 (k = 1: H_i = m j_i j_i^T), bound
// (25) is checked against a grid over the unit sphere: no grid point exceeds it, and the best
// grid point comes within the grid's resolution of it.
func TestBound25ManySamples(t *testing.T) {
	const n, d = 2100, 3
	if n <= bound25TopCandidates || n*(bound25TopCandidates+16) <= bound25ScreenWork {
		t.Fatalf("n = %d does not exercise the candidate cap and the screening blocks", n)
	}
	rng := rand.New(rand.NewPCG(231, 232))
	f := &Factored{N: n, K: 1, D: d, OutputHessian: []float64{2}}
	for i := 0; i < n; i++ {
		j := make([]float64, d)
		for x := range j {
			j[x] = rng.NormFloat64() * float64(x+1)
		}
		if i%50 == 0 { // a few strong samples along one direction
			j[0] *= 6
		}
		f.Factors = append(f.Factors, j)
	}
	fv := func(v [3]float64, p float64) float64 { // (25) at a unit v, in parameter space
		qs := make([]float64, n)
		a := 0.0
		for i, j := range f.Factors {
			s := j[0]*v[0] + j[1]*v[1] + j[2]*v[2]
			qs[i] = 2 * s * s
			a += qs[i] / n
		}
		v2 := 0.0
		for _, q := range qs {
			v2 += (q - a) * (q - a) / n
		}
		return a + p*v2/a
	}
	for _, b := range []int{1, 4} {
		rep, err := AnalyzeFactored(f, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := 3 + bound25TopCandidates + 16; rep.Diagnostics.Bound25Screened != want {
			t.Errorf("B = %d: %d candidates screened, want %d", b, rep.Diagnostics.Bound25Screened, want)
		}
		best := 0.0
		const steps = 60
		for a := 0; a <= steps; a++ { // the half sphere (f(-v) = f(v))
			th := math.Pi / 2 * float64(a) / steps
			for c := 0; c < 4*steps; c++ {
				ph := 2 * math.Pi * float64(c) / (4 * steps)
				v := [3]float64{math.Cos(th), math.Sin(th) * math.Cos(ph), math.Sin(th) * math.Sin(ph)}
				fx := fv(v, rep.P)
				if fx > rep.Bound25*(1+1e-12) {
					t.Fatalf("B = %d: f(%v) = %.15g above bound (25) = %.15g", b, v, fx, rep.Bound25)
				}
				best = math.Max(best, fx)
			}
		}
		if best < rep.Bound25*(1-2e-3) {
			t.Errorf("B = %d: best grid value %.10g, bound (25) %.10g", b, best, rep.Bound25)
		}
		vb := rep.Bound25Vector
		checkRel(t, "f at the maximizer", fv([3]float64{vb[0], vb[1], vb[2]}, rep.P), rep.Bound25, 1e-12)
	}
}

// analyzeFactored is AnalyzeFactored with the basis found by the given path.
func analyzeFactored(f *Factored, batch int, opt Options, path basisPath) (*Report, error) {
	reps, err := analyzeFactoredBatches(f, []int{batch}, opt, path)
	if err != nil {
		return nil, err
	}
	return reps[0], nil
}
