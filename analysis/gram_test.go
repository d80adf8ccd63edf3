package analysis

import (
	"math/rand/v2"
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
