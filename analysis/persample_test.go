package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// crossEntropyFactored returns random Jacobians with cross-entropy output Hessians
// M_i = diag(s_i) - s_i s_i^T (PSD, rank k - 1) for random softmax outputs s_i.
func crossEntropyFactored(rng *rand.Rand, n, k, d int) *Factored {
	f := &Factored{N: n, K: k, D: d}
	for i := 0; i < n; i++ {
		j := make([]float64, k*d)
		for x := range j {
			if rng.Float64() < 0.6 {
				j[x] = rng.NormFloat64()
			}
		}
		f.Factors = append(f.Factors, j)
		s := make([]float64, k)
		tot := 0.0
		for a := range s {
			s[a] = math.Exp(2 * rng.NormFloat64())
			tot += s[a]
		}
		m := make([]float64, k*k)
		for a := range s {
			s[a] /= tot
		}
		for a := 0; a < k; a++ {
			m[a*k+a] = s[a]
			for b := 0; b < k; b++ {
				m[a*k+b] -= s[a] * s[b]
			}
		}
		f.OutputHessians = append(f.OutputHessians, m)
	}
	return f
}

// Per-sample M_i against the dense analysis of the explicit H_i = J_i^T M_i J_i (an independent
// path: no square roots, eigendecomposition of the d x d H). The first shape takes the Gram
// path (d >= nk), the second the Hessian path (d < nk).
func TestPerSampleOutputHessians(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, tc := range []struct{ n, k, d int }{{6, 3, 40}, {10, 4, 30}} {
		f := crossEntropyFactored(rng, tc.n, tc.k, tc.d)
		dn := &Dense{N: tc.n, D: tc.d}
		for i := 0; i < tc.n; i++ {
			dn.Hessians = append(dn.Hessians, gaussNewton(f, i))
		}
		for _, b := range []int{1, 2, tc.n} {
			fr, err := AnalyzeFactored(f, b, Options{RelWidth: 1e-10})
			if err != nil {
				t.Fatal(err)
			}
			dr, err := AnalyzeDense(dn, b, Options{RelWidth: 1e-10})
			if err != nil {
				t.Fatal(err)
			}
			if fr.Diagnostics.Rank != dr.Diagnostics.Rank || fr.Diagnostics.Rank > tc.n*(tc.k-1) {
				t.Errorf("rank: factored %d dense %d (at most n(k-1) = %d)", fr.Diagnostics.Rank, dr.Diagnostics.Rank, tc.n*(tc.k-1))
			}
			checkRel(t, "sharpness", fr.Sharpness, dr.Sharpness, 1e-10)
			checkRel(t, "generalized sharpness", fr.GeneralizedSharpness, dr.GeneralizedSharpness, 1e-9)
			checkRel(t, "bound15", fr.Bound15, dr.Bound15, 1e-9)
			checkRel(t, "bound16", fr.Bound16, dr.Bound16, 1e-10)
			checkRel(t, "nonuniformity", fr.Nonuniformity, dr.Nonuniformity, 1e-8)
		}
	}
}

// One M given per sample, all equal, gives the shared-M numbers.
func TestPerSampleEqualsShared(t *testing.T) {
	f := syntheticNetwork(16, 3, 5)
	g := *f
	g.OutputHessian = nil
	for i := 0; i < f.N; i++ {
		g.OutputHessians = append(g.OutputHessians, f.OutputHessian)
	}
	a, err := AnalyzeFactored(f, 4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := AnalyzeFactored(&g, 4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.GeneralizedSharpness != b.GeneralizedSharpness || a.Sharpness != b.Sharpness || a.Bound25 != b.Bound25 {
		t.Errorf("shared %v %v %v, per sample %v %v %v", a.Sharpness, a.GeneralizedSharpness, a.Bound25, b.Sharpness, b.GeneralizedSharpness, b.Bound25)
	}
}

func TestPerSampleValidation(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for _, tc := range []struct {
		name string
		mod  func(f *Factored)
		want string
	}{
		{"count", func(f *Factored) { f.OutputHessians = f.OutputHessians[:2] }, "2 output Hessians given"},
		{"both", func(f *Factored) { f.OutputHessian = f.OutputHessians[0] }, "both a shared output Hessian and per-sample"},
		{"shape", func(f *Factored) { f.OutputHessians[1] = []float64{1} }, "output Hessian 1 has 1 entries"},
		{"NaN", func(f *Factored) { f.OutputHessians[2][0] = math.NaN() }, "output Hessian 2 contains NaN"},
		{"asymmetric", func(f *Factored) { f.OutputHessians[1][1] += 0.1 }, "output Hessian 1 is not symmetric"},
		{"not PSD", func(f *Factored) { f.OutputHessians[3][0] -= 0.5 }, "output Hessian 3 is not positive semi-definite"},
		// rank k-1 rounding: -1e-17 on the diagonal is within the relative slack
	} {
		f := crossEntropyFactored(rng, 4, 3, 5)
		tc.mod(f)
		if _, err := AnalyzeFactored(f, 1, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	f := crossEntropyFactored(rng, 4, 3, 5)
	for _, m := range f.OutputHessians {
		for a := 0; a < 3; a++ {
			m[a*3+a] -= 1e-12 * math.Abs(m[a*3+a]) // slightly indefinite along the null vector (1, 1, 1)
		}
	}
	if _, err := AnalyzeFactored(f, 1, Options{}); err != nil {
		t.Errorf("rank-deficient M_i with rounding rejected: %v", err)
	}
}

// Every batch size at once: each report within the certified bracket of the single-B analysis,
// eta* non-decreasing in B (Prop. 1), GD's threshold at B = n.
func TestAnalyzeFactoredBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	f := crossEntropyFactored(rng, 12, 3, 30)
	batches := []int{1, 2, 3, 4, 6, 12}
	reps, err := AnalyzeFactoredBatches(f, batches, Options{RelWidth: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	dn := &Dense{N: f.N, D: f.D}
	for i := 0; i < f.N; i++ {
		dn.Hessians = append(dn.Hessians, gaussNewton(f, i))
	}
	dreps, err := AnalyzeDenseBatches(dn, batches, Options{RelWidth: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		one, err := AnalyzeFactored(f, b, Options{RelWidth: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		r := reps[i]
		if r.Diagnostics.Batch != b {
			t.Errorf("report %d has batch %d, want %d", i, r.Diagnostics.Batch, b)
		}
		if r.GeneralizedSharpness != one.GeneralizedSharpness || r.Bracket != one.Bracket || r.Bound25 != one.Bound25 {
			t.Errorf("B=%d: batches %v %v %v, single %v %v %v", b, r.GeneralizedSharpness, r.Bracket, r.Bound25, one.GeneralizedSharpness, one.Bracket, one.Bound25)
		}
		checkRel(t, "lambda_gen (dense batches)", dreps[i].GeneralizedSharpness, one.GeneralizedSharpness, 2e-9)
		checkRel(t, "bound15", r.Bound15, one.Bound15, 1e-12)
		checkRel(t, "bound16", r.Bound16, one.Bound16, 1e-12)
		if i > 0 && r.EtaStar < reps[i-1].EtaStar*(1-1e-9) {
			t.Errorf("eta* decreases from B = %d (%v) to B = %d (%v)", batches[i-1], reps[i-1].EtaStar, b, r.EtaStar)
		}
	}
	last := reps[len(reps)-1]
	checkRel(t, "eta*(n) = 2/lambda_max", last.EtaStar, last.GDThreshold, 1e-12)
	if _, err := AnalyzeFactoredBatches(f, []int{1, 13}, Options{}); err == nil || !strings.Contains(err.Error(), "batch size 13") {
		t.Errorf("batch 13 of n = 12: error %v", err)
	}
	if _, err := AnalyzeFactoredBatches(f, nil, Options{}); err == nil {
		t.Error("no batch sizes accepted")
	}
}
