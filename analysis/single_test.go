package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSandwich32: the single-precision sandwich agrees with the double-precision one (itself
// checked against dense sums of H_i S H_i) to 1e-5 relative in the Frobenius norm, on random
// symmetric (indefinite) S, for the network's shape and for random factors with a
// rank-deficient output Hessian.
func TestSandwich32(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	for name, f := range map[string]*Factored{
		"network": syntheticNetwork(40, 3, 9),
		"random":  randFactored(rng, factoredSpec{n: 15, k: 3, d: 90, sub: 40, dead: 5, mRank: 2}),
	} {
		pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathAuto)
		if err != nil {
			t.Fatal(err)
		}
		c := pr.curv.(*factCurv)
		r := pr.r
		s := randSymmetric(rng, r)
		want, got := make([]float64, r*r), make([]float64, r*r)
		if err := c.sandwich(want, s); err != nil {
			t.Fatal(err)
		}
		got32, err := c.sandwich32(s)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got32 {
			got[i] = float64(v)
		}
		mirrorUpper(want, r) // both set the upper triangle
		mirrorUpper(got, r)
		num, den := 0.0, 0.0
		for i := range want {
			num += (got[i] - want[i]) * (got[i] - want[i])
			den += want[i] * want[i]
		}
		if e := math.Sqrt(num / den); !(e <= 1e-5) || e == 0 {
			t.Errorf("%s: single-precision sandwich differs by %.3g (relative), want (0, 1e-5]", name, e)
		}
	}
}

// TestSinglePhaseKeepsNumbers: the analysis with the single-precision first Lanczos phase
// reports every quantity of the double-precision-only analysis to 1e-10 (S*'s shape to 1e-6,
// see compareNumbers; the bracket's ends are certificates of their own vectors: each bracket
// must be certified to the target width and contain both estimates), on the network's shape
// with gradients and the covariance limit, for several batch sizes.
func TestSinglePhaseKeepsNumbers(t *testing.T) {
	f := syntheticNetwork(80, 10, 13) // d = 7894 >= nk = 320, rank >= singleMinRank
	f.Gradients = syntheticGradients(f, 14)
	f.Gram = gramOf(t, f)
	batches := []int{2, 8}
	single, err := AnalyzeFactoredBatches(f, batches, Options{CenterGradients: true})
	if err != nil {
		t.Fatal(err)
	}
	double, err := AnalyzeFactoredBatches(f, batches, Options{CenterGradients: true, doubleOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := single[0].Diagnostics.Rank; r < singleMinRank {
		t.Fatalf("rank %d < %d: no single-precision phase", r, singleMinRank)
	}
	for i, b := range batches {
		s, d := single[i], double[i]
		if s.Diagnostics.SingleApplications == 0 || d.Diagnostics.SingleApplications != 0 {
			t.Fatalf("B = %d: single-precision applications %d and %d, want > 0 and 0", b, s.Diagnostics.SingleApplications, d.Diagnostics.SingleApplications)
		}
		for _, r := range []*Report{s, d} {
			if r.Diagnostics.Status != "converged" || !(r.Diagnostics.BracketRelWidth <= 1e-6) {
				t.Errorf("B = %d: status %s, bracket width %.3g", b, r.Diagnostics.Status, r.Diagnostics.BracketRelWidth)
			}
			for _, x := range []*Report{s, d} {
				if !(r.Bracket[0] <= x.GeneralizedSharpness*(1+1e-12) && x.GeneralizedSharpness <= r.Bracket[1]*(1+1e-12)) {
					t.Errorf("B = %d: lambda_gen %.16g outside the bracket %v", b, x.GeneralizedSharpness, r.Bracket)
				}
			}
			if err := r.AddCovariance(0.9 * 2 / math.Max(s.Bracket[1], d.Bracket[1])); err != nil {
				t.Fatal(err)
			}
		}
		sc := *s
		sc.Bracket = d.Bracket
		compareNumbers(t, "single phase", &sc, d)
		t.Logf("B = %d: applications %d + %d single, %d double only; widths %.3g, %.3g", b, s.Diagnostics.Applications, s.Diagnostics.SingleApplications, d.Diagnostics.Applications, s.Diagnostics.BracketRelWidth, d.Diagnostics.BracketRelWidth)
	}
}

// TestSingleApplyA: the fused application (applyA packs each row of D(S) as it is formed) gives
// the bits of applyD followed by pack, with the single- and the double-precision sandwich, at a
// rank above and below packMinRank (two goroutines and one).
func TestSingleApplyA(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	for _, c := range []struct {
		f      *Factored
		single bool
	}{{syntheticNetwork(40, 3, 9), true}, {syntheticNetwork(160, 6, 10), true}, {syntheticNetwork(160, 6, 10), false}} {
		pr, err := newFactoredProblem(c.f, Options{}.WithDefaults(), pathAuto)
		if err != nil {
			t.Fatal(err)
		}
		o := newOperator(pr, 0.3)
		if c.single {
			o.single = pr.curv.(singleSandwich)
		}
		x := make([]float64, o.dim())
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		got, want := make([]float64, len(x)), make([]float64, len(x))
		if err := o.applyA(got, x); err != nil {
			t.Fatal(err)
		}
		unpackUpper(o, o.s, x, true)
		if err := o.applyD(o.ds, o.s); err != nil {
			t.Fatal(err)
		}
		o.pack(want, o.ds, true)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("rank %d: entry %d: fused %v, applyD and pack %v", pr.r, i, got[i], want[i])
			}
		}
		if o.apply != 2 {
			t.Errorf("rank %d: %d applications counted, want 2", pr.r, o.apply)
		}
	}
}
