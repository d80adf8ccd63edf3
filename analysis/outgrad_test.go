package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// crossEntropy replaces f's output Hessian by cross-entropy's M_i = diag(s_i) - s_i s_i^T (rank
// K - 1) for random softmax outputs s_i, and returns gradients g_i = J_i^T q_i with q_i = s_i -
// onehot(y_i) + shift 1 (shift = 0: in range(M_i), whose null vector is 1) and q.
func crossEntropy(rng *rand.Rand, f *Factored, shift float64) ([][]float64, []float64) {
	k, d := f.K, f.D
	f.OutputHessian, f.OutputHessians = nil, make([][]float64, f.N)
	q := make([]float64, f.N*k)
	g := make([][]float64, f.N)
	for i := range f.OutputHessians {
		s, tot := make([]float64, k), 0.0
		for a := range s {
			s[a] = math.Exp(rng.NormFloat64())
			tot += s[a]
		}
		m := make([]float64, k*k)
		for a := range s {
			s[a] /= tot
		}
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				m[a*k+b] = -s[a] * s[b]
			}
			m[a*k+a] += s[a]
		}
		f.OutputHessians[i] = m
		qi := q[i*k : (i+1)*k]
		for a := range qi {
			qi[a] = s[a] + shift
		}
		qi[rng.IntN(k)]--
		g[i] = make([]float64, d)
		for a := 0; a < k; a++ {
			for x, v := range f.Factors[i][a*d : (a+1)*d] {
				g[i][x] += qi[a] * v
			}
		}
	}
	return g, q
}

// TestOutputGradientsMatchGradients: the covariance limit computed from the output gradients
// (Factored.OutputGradients: V^T g_i = B_i^T M_i^{1/2+} q_i) reports every quantity of the one
// computed by projecting the gradients themselves, to 1e-10 relative (the shape of S* to 1e-6,
// see compareNumbers), for a squared loss on the network's shape (Gram path), cross-entropy's
// singular M_i, and the Hessian path (d < n k) with a rank-deficient M; output gradients outside
// range(M_i) fall back to the projection of the gradients.
func TestOutputGradientsMatchGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	squared := syntheticNetwork(48, 3, 5)
	sg, sq := syntheticOutputGradients(squared, 6)
	ce := syntheticNetwork(40, 3, 7)
	cg, cq := crossEntropy(rng, ce, 0)
	out := syntheticNetwork(40, 3, 8)
	og, oq := crossEntropy(rng, out, 0.1)
	small := randFactored(rng, factoredSpec{n: 30, k: 3, d: 60, sub: 40, dead: 5, mRank: 2})
	hg, hq := syntheticOutputGradients(small, 9)
	for name, tc := range map[string]struct {
		f        *Factored
		g        [][]float64
		q        []float64
		shortcut bool
	}{
		"squared loss":     {squared, sg, sq, true},
		"cross-entropy":    {ce, cg, cq, true},
		"outside range(M)": {out, og, oq, false},
		"Hessian path":     {small, hg, hq, true},
	} {
		tc.f.Gradients = tc.g
		with := *tc.f
		with.OutputGradients = tc.q
		opt := Options{CenterGradients: true}
		batches := []int{2, tc.f.N / 2}
		want, err := AnalyzeFactoredBatches(tc.f, batches, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := AnalyzeFactoredBatches(&with, batches, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if used := outputProjection(got[0].pr, make([]float64, got[0].pr.n*got[0].pr.r)); used != tc.shortcut {
			t.Errorf("%s: projection from the output gradients taken: %v, want %v", name, used, tc.shortcut)
		}
		for i := range got {
			for _, r := range []*Report{want[i], got[i]} {
				if err := r.AddCovariance(0.7 * 2 / r.Bracket[1]); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if !(*want[i].CovarianceTrace > 0) {
				t.Fatalf("%s: covariance trace %v: the case tests nothing", name, *want[i].CovarianceTrace)
			}
			compareNumbers(t, name, got[i], want[i])
		}
	}
}

// TestOutputGradientsRejected: output gradients of the wrong length, with a NaN, without the
// gradients, or not those of the gradients (of other residuals, or scaled by 1 + 1e-6) are an
// error that says what is wrong.
func TestOutputGradientsRejected(t *testing.T) {
	f := syntheticNetwork(16, 2, 3)
	g, q := syntheticOutputGradients(f, 4)
	_, other := syntheticOutputGradients(f, 5)
	scaled := append([]float64(nil), q...)
	for i := range scaled {
		scaled[i] *= 1 + 1e-6
	}
	nan := append([]float64(nil), q...)
	nan[3] = math.NaN()
	for name, tc := range map[string]struct {
		grads [][]float64
		q     []float64
		want  string
	}{
		"short":           {g, q[:len(q)-1], "entries given"},
		"nan":             {g, nan, "NaN"},
		"no gradients":    {nil, q, "without the gradients"},
		"other residuals": {g, other, "do not match the gradients"},
		"scaled":          {g, scaled, "do not match the gradients"},
	} {
		h := *f
		h.Gradients, h.OutputGradients = tc.grads, tc.q
		_, err := AnalyzeFactored(&h, 2, Options{CenterGradients: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	h := *f
	h.Gradients, h.OutputGradients = g, q
	if _, err := AnalyzeFactored(&h, 2, Options{CenterGradients: true}); err != nil {
		t.Errorf("the output gradients of the gradients: %v", err)
	}
}
