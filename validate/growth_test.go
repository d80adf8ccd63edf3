package validate

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// closedForm is lambda_gen for commuting diagonal Hessians H_i = diag(h_i): the top eigenmatrix is
// diagonal (THEORY.md, Thm 6), and on E_aa the map pinv(C) D acts as
// ((1-p) l_a^2 + p (1/n) sum_i h_ia^2) / l_a, l_a = (1/n) sum_i h_ia.
func closedForm(h [][]float64, p float64) float64 {
	best := 0.0
	for a := range h[0] {
		l, q := 0.0, 0.0
		for _, hi := range h {
			l += hi[a] / float64(len(h))
			q += hi[a] * hi[a] / float64(len(h))
		}
		if l > 0 {
			best = math.Max(best, ((1-p)*l*l+p*q)/l)
		}
	}
	return best
}

var diagCases = []struct {
	name  string
	h     [][]float64
	batch int
}{
	// n = 2, d = 1: eta* = 2 (h1 + h2) / (h1^2 + h2^2) at B = 1.
	{"scalar-n2-B1", [][]float64{{1}, {3}}, 1},
	// n = 4, B = 2: p = 1/3 (without replacement), not 1/2.
	{"diag-n4-B2", [][]float64{{2, 0.5, 0}, {0, 1, 1}, {1, 0.2, 3}, {0.5, 1.5, 0.1}}, 2},
	{"diag-n5-B1", [][]float64{{4, 1}, {0, 1}, {0.5, 1.2}, {0, 0.9}, {0.2, 1}}, 1},
}

func TestTopEigenClosedForm(t *testing.T) {
	for _, c := range diagCases {
		lin, err := DiagonalLinear(c.h)
		if err != nil {
			t.Fatal(err)
		}
		p := sampling.P(lin.N, c.batch)
		top, err := lin.TopEigen(p, 1e-13, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := closedForm(c.h, p)
		if !top.Converged || math.Abs(top.Lambda-want) > 1e-9*want {
			t.Errorf("%s: lambda_gen = %v (converged %v), closed form %v", c.name, top.Lambda, top.Converged, want)
		}
		// At eta* the second moment of the top eigenmatrix is a fixed point of Q: rho = 1.
		if r := lin.MeanSquareCurve(p, top.EtaStar, top.S, 1)[1]; math.Abs(r) > 1e-6 {
			t.Errorf("%s: log tr Q(S) / tr S = %v at eta*, want 0", c.name, r)
		}
		// Stopped by its iteration limit, the power method says so, and its Lambda is still a
		// lower bound on lambda_gen (a Rayleigh quotient).
		if c.h[0][0] == 1 {
			continue // n = 2, d = 1: exact in one iteration
		}
		early, err := lin.TopEigen(p, 1e-13, 2)
		if err != nil || early.Converged || early.Iterations != 2 || !(early.Lambda <= want*(1+1e-12)) {
			t.Errorf("%s, 2 iterations: converged %v after %d, lambda %v (lambda_gen %v), error %v", c.name, early.Converged, early.Iterations, early.Lambda, want, err)
		}
	}
}

// TestGrowthBracketsThreshold runs the Monte Carlo estimator at c eta* on problems whose eta* is
// known in closed form, checks each rate against the exact one (trace recursion of Q), and that
// the observed transition contains c = 1 - and that it excludes 1 when the estimator is handed a
// wrong threshold.
func TestGrowthBracketsThreshold(t *testing.T) {
	cs := []float64{0.8, 0.9, 1.1, 1.25}
	for _, c := range diagCases {
		lin, _ := DiagonalLinear(c.h)
		p := sampling.P(lin.N, c.batch)
		etaStar := 2 / closedForm(c.h, p)
		top, _ := lin.TopEigen(p, 1e-13, 0)
		start, err := CovarianceStart(lin.R, top.S, lin.R)
		if err != nil {
			t.Fatal(err)
		}
		for _, proc := range []string{sampling.Independent, sampling.Mixture} {
			for _, wrong := range []float64{1, 0.75, 1.3} { // thresholds 25% too small, 30% too large
				var pts []RatePoint
				for k, cc := range cs {
					g, err := lin.Growth(start, GrowthOptions{Process: proc, Batch: c.batch, Eta: cc * wrong * etaStar,
						Chains: 200, Replicas: 8, Steps: 60, Seed: uint64(k + 1)})
					if err != nil {
						t.Fatal(err)
					}
					if wrong == 1 {
						// exact growth of tr(Sigma_t) over the window from the same start
						ex := lin.MeanSquareCurve(p, cc*etaStar, top.S, g.Steps)
						exact := (ex[g.Steps] - ex[g.Burn]) / float64(g.Steps-g.Burn)
						t.Logf("%s %s c=%v: exact %.4f est %.4f [%.4f, %.4f]", c.name, proc, cc, exact, g.Rate, g.Lo, g.Hi)
						if exact < g.Lo-0.01 || exact > g.Hi+0.01 {
							t.Errorf("%s %s c=%v: exact log rate %v outside [%v, %v]", c.name, proc, cc, exact, g.Lo, g.Hi)
						}
					}
					pts = append(pts, RatePoint{C: cc, Rate: g.Rate, Lo: g.Lo, Hi: g.Hi})
				}
				b := LinearBracket(pts)
				if wrong == 1 && !b.ContainsOne {
					t.Errorf("%s %s: bracket [%v, %v] does not contain c = 1: %+v", c.name, proc, b.Lo, b.Hi, pts)
				}
				if wrong != 1 && b.ContainsOne {
					t.Errorf("%s %s: wrong threshold (x%v) not detected: bracket [%v, %v]", c.name, proc, wrong, b.Lo, b.Hi)
				}
			}
		}
	}
}

// TestGrowthIndependentOfWorkers checks that the estimate depends on the seed only, not on how
// replicas are spread over goroutines.
func TestGrowthIndependentOfWorkers(t *testing.T) {
	c := diagCases[0]
	lin, _ := DiagonalLinear(c.h)
	p := sampling.P(lin.N, c.batch)
	top, _ := lin.TopEigen(p, 1e-13, 0)
	start, err := CovarianceStart(lin.R, top.S, lin.R)
	if err != nil {
		t.Fatal(err)
	}
	var rates []float64
	for _, workers := range []int{1, 2, 3} {
		g, err := lin.Growth(start, GrowthOptions{Process: sampling.Independent, Batch: c.batch, Eta: 2 / closedForm(c.h, p),
			Chains: 50, Replicas: 6, Steps: 40, Seed: 9, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		rates = append(rates, g.Rate, g.Lo, g.Hi)
	}
	for i := 3; i < len(rates); i++ {
		if rates[i] != rates[i%3] {
			t.Fatalf("rate, lo, hi per worker count 1, 2, 3: %v; want the same for every count", rates)
		}
	}
}

func TestBrackets(t *testing.T) {
	b := LinearBracket([]RatePoint{{1.1, 1, 0.5, 2}, {0.9, -1, -2, -0.5}, {1.05, 0, -1, 1}, {0.8, -2, -3, -1}})
	if b.Lo != 0.9 || b.Hi != 1.1 || !b.ContainsOne {
		t.Errorf("bracket %+v, want [0.9, 1.1] containing 1", b)
	}
	b = LinearBracket([]RatePoint{{0.8, 1, 0.5, 2}, {1.1, -1, -2, -0.5}})
	if b.Consistent || b.ContainsOne {
		t.Errorf("non-monotone rates gave %+v", b)
	}
	e := EscapeBracket([]EscapePoint{{0.8, 0, 3}, {0.9, 0, 3}, {1.05, 1, 3}, {1.1, 2, 3}, {1.25, 3, 3}})
	if e.Lo != 0.9 || e.Hi != 1.1 || !e.ContainsOne {
		t.Errorf("escape bracket %+v, want [0.9, 1.1]", e)
	}
}

// TestBracketJSON: a missing end is null, an infinite one the jsonfloat string, and both read
// back.
func TestBracketJSON(t *testing.T) {
	js, err := json.Marshal(Bracket{Lo: 0.9, Hi: math.NaN(), Consistent: true})
	if err != nil || string(js) != `{"lo":0.9,"hi":null,"consistent":true,"contains_one":false}` {
		t.Errorf("%s, %v", js, err)
	}
	js, err = json.Marshal(Bracket{Lo: math.NaN(), Hi: math.Inf(1)})
	if err != nil || string(js) != `{"lo":null,"hi":"+Inf","consistent":false,"contains_one":false}` {
		t.Errorf("%s, %v", js, err)
	}
	for _, b := range []Bracket{{Lo: 0.9, Hi: 1.1, Consistent: true, ContainsOne: true}, {Lo: math.NaN(), Hi: math.Inf(1)}} {
		js, _ := json.Marshal(b)
		var back Bracket
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
		if !same(back.Lo, b.Lo) || !same(back.Hi, b.Hi) || back.Consistent != b.Consistent || back.ContainsOne != b.ContainsOne {
			t.Errorf("%s read back as %+v, want %+v", js, back, b)
		}
	}
}
