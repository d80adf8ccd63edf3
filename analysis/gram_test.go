package analysis

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// TestGivenGramMatchesFactors: an analysis handed the Gram matrix G G^T (Factored.Gram) reports
// every quantity of the analysis that multiplies G G^T out of the factors, to 1e-10 relative, on
// the network's shape (synthetic MNIST-like inputs, ReLU units, dead columns) and on random
// factors with a rank-deficient H and a rank-deficient output Hessian, for several batch sizes
// with the covariance limit (the shape of S* to 1e-6: see compareNumbers).
func TestGivenGramMatchesFactors(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	net := syntheticNetwork(48, 3, 5) // d = 2371 >= nk = 192: the Gram path
	net.Gradients = syntheticGradients(net, 6)
	cases := map[string]*Factored{
		"network": net,
		"random":  randFactored(rng, factoredSpec{n: 30, k: 3, d: 120, sub: 70, dead: 10, mRank: 2}),
	}
	for name, f := range cases {
		if hessianPath(f.N, f.K, f.D) {
			t.Fatalf("%s: d < nk, the Gram path is not taken", name)
		}
		g := *f
		g.Gram = gramOf(t, f)
		opt := Options{CenterGradients: true}
		want, err := AnalyzeFactoredBatches(f, []int{1, 4, f.N / 2}, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := AnalyzeFactoredBatches(&g, []int{1, 4, f.N / 2}, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			for _, r := range []*Report{want[i], got[i]} {
				if err := r.AddCovariance(0.5 * 2 / r.Bracket[1]); err != nil {
					t.Fatal(err)
				}
			}
			compareNumbers(t, name, got[i], want[i])
		}
	}
}

// TestGivenGramRejected: a Gram matrix of the wrong size, with a NaN, not symmetric, or not the
// Gram matrix of the factors (that of other factors, or one scaled by 1 + 1e-6) is an error that
// says what is wrong.
func TestGivenGramRejected(t *testing.T) {
	f := syntheticNetwork(16, 2, 3)
	good := gramOf(t, f)
	nk := f.N * f.K
	other := gramOf(t, syntheticNetwork(16, 2, 4))
	scaled := append([]float64(nil), good...)
	for i := range scaled {
		scaled[i] *= 1 + 1e-6
	}
	nan := append([]float64(nil), good...)
	nan[5] = nan[5] * 0 / 0
	asym := append([]float64(nil), good...)
	asym[1] += 1e-3 * asym[0]
	for name, tc := range map[string]struct {
		gram []float64
		want string
	}{
		"short":         {good[:nk*nk-1], "entries"},
		"nan":           {nan, "NaN"},
		"asymmetric":    {asym, "not symmetric"},
		"other factors": {other, "does not match the factors"},
		"scaled":        {scaled, "does not match the factors"},
	} {
		g := *f
		g.Gram = tc.gram
		_, err := AnalyzeFactored(&g, 2, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	g := *f
	g.Gram = good
	if _, err := AnalyzeFactored(&g, 2, Options{}); err != nil {
		t.Errorf("the Gram matrix of the factors: %v", err)
	}
}

// compareNumbers checks every reported quantity of got against want to 1e-10 relative, except
// the shape of the top eigenmatrix S* (effective rank, top share), which is a function of the
// eigenvector itself and so is only determined to the accuracy of the Lanczos eigenvector
// (residual/gap, about 1e-8 at the bracket's width 1e-6): to 1e-6 relative.
func compareNumbers(t *testing.T, name string, got, want *Report) {
	t.Helper()
	checkRel(t, name+": S* effective rank", *got.TopEigenmatrixEffectiveRank, *want.TopEigenmatrixEffectiveRank, 1e-6)
	checkRel(t, name+": S* top share", *got.TopEigenmatrixTopShare, *want.TopEigenmatrixTopShare, 1e-6)
	g := *got
	g.TopEigenmatrixEffectiveRank, g.TopEigenmatrixTopShare = want.TopEigenmatrixEffectiveRank, want.TopEigenmatrixTopShare
	compareReports(t, name, &g, want, 1e-10)
}

// TestFactorPassesParallel: above factorsMinParallel the passes over the factors split their
// work between the cores. G x and G^T z agree with plain sums over G = [root_i J_i] (G^T z bit
// for bit on 1 and 3 goroutines: each entry is summed in the same order), and the basis (the
// zero columns left out, the scale from the largest entry) is the same on 1 and 3 goroutines.
func TestFactorPassesParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const dead = 7 // the last columns are zero in every factor
	f := &Factored{N: 64, K: 4, D: 4100, OutputHessian: []float64{2, 1, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0.5, 0, 0, 0.5, 1}}
	for i := 0; i < f.N; i++ {
		j := make([]float64, f.K*f.D)
		for a := 0; a < f.K; a++ {
			for q := 0; q < f.D-dead; q++ {
				j[a*f.D+q] = rng.NormFloat64()
			}
		}
		f.Factors = append(f.Factors, j)
	}
	if f.N*f.K*f.D < factorsMinParallel {
		t.Fatalf("the case has %d factor entries, below the parallel threshold %d", f.N*f.K*f.D, factorsMinParallel)
	}
	n, k, d := f.N, f.K, f.D
	roots := make([][]float64, n)
	for i := range roots {
		roots[i] = make([]float64, k*k)
		for a := range roots[i] {
			roots[i][a] = rng.NormFloat64()
		}
	}
	s := &factSpace{n: n, k: k, d: d, roots: roots, j: f.Factors}
	x := make([]float64, d)
	for q := range x {
		x[q] = rng.NormFloat64()
	}
	z := make([]float64, n*k)
	for a := range z {
		z[a] = rng.NormFloat64()
	}
	// G row by row
	g := func(i, a int) []float64 {
		row := make([]float64, d)
		for b := 0; b < k; b++ {
			for q := 0; q < d; q++ {
				row[q] += roots[i][a*k+b] * f.Factors[i][b*d+q]
			}
		}
		return row
	}
	wantGx := make([]float64, n*k)
	wantGTz := make([]float64, d)
	for i := 0; i < n; i++ {
		for a := 0; a < k; a++ {
			row := g(i, a)
			for q, v := range row {
				wantGx[i*k+a] += v * x[q]
				wantGTz[q] += v * z[i*k+a]
			}
		}
	}
	var gtz [][]float64
	var scales []float64
	var ls [][]float64
	for _, procs := range []int{1, 3} {
		prev := runtime.GOMAXPROCS(procs)
		gx := make([]float64, n*k)
		s.mulG(gx, x)
		y := make([]float64, d)
		s.mulGT([][]float64{y}, [][]float64{z})
		pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathGram)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		for a := range gx {
			if math.Abs(gx[a]-wantGx[a]) > 1e-10*(1+math.Abs(wantGx[a])) {
				t.Fatalf("%d goroutines: (G x)_%d = %v, want %v", procs, a, gx[a], wantGx[a])
			}
		}
		for q := range y {
			if math.Abs(y[q]-wantGTz[q]) > 1e-10*(1+math.Abs(wantGTz[q])) {
				t.Fatalf("%d goroutines: (G^T z)_%d = %v, want %v", procs, q, y[q], wantGTz[q])
			}
		}
		if got := len(pr.space.(*factSpace).cols); got != d-dead {
			t.Errorf("%d goroutines: %d columns kept, want the %d that are not zero", procs, got, d-dead)
		}
		// two products in one pass: the bits of two separate ones
		z2 := make([]float64, n*k)
		for a := range z2 {
			z2[a] = float64(a%5) - 2
		}
		y2 := make([]float64, d)
		s.mulGT([][]float64{y2}, [][]float64{z2})
		many := [][]float64{make([]float64, d), make([]float64, d)}
		runtime.GOMAXPROCS(procs)
		s.mulGT(many, [][]float64{z, z2})
		runtime.GOMAXPROCS(prev)
		for q := range y {
			if many[0][q] != y[q] || many[1][q] != y2[q] {
				t.Fatalf("%d goroutines: two at once, entry %d = %v, %v; one at a time %v, %v", procs, q, many[0][q], many[1][q], y[q], y2[q])
			}
		}
		gtz, scales, ls = append(gtz, y), append(scales, pr.scale), append(ls, pr.l)
	}
	for q := range gtz[0] {
		if gtz[0][q] != gtz[1][q] {
			t.Fatalf("(G^T z)_%d: %v on one goroutine, %v on three", q, gtz[0][q], gtz[1][q])
		}
	}
	sj := 0.0 // the largest |entry| of the factors; 2 is the largest of the output Hessian
	for _, j := range f.Factors {
		for _, v := range j {
			sj = math.Max(sj, math.Abs(v))
		}
	}
	for i, sc := range scales {
		if sc != sj*sj*2 {
			t.Errorf("run %d: scale %v, want sj^2 sm = %v", i, sc, sj*sj*2)
		}
	}
	for a := range ls[0] {
		if ls[0][a] != ls[1][a] {
			t.Fatalf("eigenvalue %d: %v on one goroutine, %v on three", a, ls[0][a], ls[1][a])
		}
	}
}
