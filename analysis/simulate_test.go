package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// subsets calls f for every size-b subset of {0..n-1}.
func subsets(n, b int, f func([]int)) {
	idx := make([]int, b)
	var rec func(pos, start int)
	rec = func(pos, start int) {
		if pos == b {
			f(idx)
			return
		}
		for i := start; i < n; i++ {
			idx[pos] = i
			rec(pos+1, i+1)
		}
	}
	rec(0, 0)
}

// TestProp2 checks by exact enumeration of all batches that SGD's second-moment operator equals
// ALG(p)'s, that both equal I - 2 eta C + eta^2 D (the brute-force matrix and the package's own
// operator in the eigenbasis), and that the batch-mean gradient covariance is p S_g.
func TestProp2(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, tc := range []struct{ n, b, d int }{{5, 2, 3}, {3, 2, 2}, {6, 3, 3}, {4, 1, 3}} {
		in := randDense(rng, problemSpec{n: tc.n, d: tc.d, k: 1, grads: true})
		d, n := tc.d, tc.n
		dd := d * d
		eta := 0.3
		p := sampling.P(n, tc.b)
		// SGD by enumeration
		qs := make([]float64, dd*dd)
		noise := make([]float64, dd)
		count := 0
		subsets(n, tc.b, func(s []int) {
			count++
			m := make([]float64, dd) // I - eta H_S
			gs := make([]float64, d)
			for a := 0; a < d; a++ {
				m[a*d+a] = 1
			}
			for _, i := range s {
				for x := range m {
					m[x] -= eta * in.Hessians[i][x] / float64(tc.b)
				}
				for x := range gs {
					gs[x] += in.Gradients[i][x] / float64(tc.b)
				}
			}
			kronAdd(qs, m, m, d, 1)
			for a := 0; a < d; a++ {
				for c := 0; c < d; c++ {
					noise[a*d+c] += gs[a] * gs[c]
				}
			}
		})
		for x := range qs {
			qs[x] /= float64(count)
		}
		for x := range noise {
			noise[x] /= float64(count)
		}
		// ALG(p)
		qa := make([]float64, dd*dd)
		h := meanH(in)
		for i := 0; i < n; i++ {
			kronAdd(qa, iMinus(in.Hessians[i], eta, d), iMinus(in.Hessians[i], eta, d), d, p/float64(n))
		}
		kronAdd(qa, iMinus(h, eta, d), iMinus(h, eta, d), d, 1-p)
		br := newBrute(in, tc.b)
		qb := br.q(eta)
		for x := range qs {
			if math.Abs(qs[x]-qa[x]) > 1e-13 || math.Abs(qs[x]-qb[x]) > 1e-13 {
				t.Fatalf("n=%d B=%d: Q entry %d: SGD %.15g, ALG(p) %.15g, I-2etaC+eta^2D %.15g", n, tc.b, x, qs[x], qa[x], qb[x])
			}
		}
		for a := 0; a < d; a++ {
			for c := 0; c < d; c++ {
				sg := 0.0
				for _, g := range in.Gradients {
					sg += g[a] * g[c] / float64(n)
				}
				if math.Abs(noise[a*d+c]-p*sg) > 1e-13 {
					t.Fatalf("batch gradient covariance %g, want p S_g = %g", noise[a*d+c], p*sg)
				}
			}
		}
		// the package's operator in the eigenbasis: V^T Q(S) V = S' - eta (L S' + S' L) + eta^2 D(S')
		pr, err := newDenseProblem(in, 1e-10)
		if err != nil {
			t.Fatal(err)
		}
		o := newOperator(pr, p)
		v := pr.space.(*denseSpace).v
		r := pr.r
		sp := make([]float64, r*r)
		for a := 0; a < r; a++ {
			for c := a; c < r; c++ {
				x := rng.NormFloat64()
				sp[a*r+c], sp[c*r+a] = x, x
			}
		}
		ds := make([]float64, r*r)
		if err := o.applyD(ds, sp); err != nil {
			t.Fatal(err)
		}
		mirrorUpper(ds, r) // applyD sets the upper triangle
		// S = V S' V^T in parameter space, then brute Q vec(S), then back
		s := make([]float64, dd)
		for a := 0; a < d; a++ {
			for c := 0; c < d; c++ {
				for x := 0; x < r; x++ {
					for y := 0; y < r; y++ {
						s[a*d+c] += v[a*r+x] * sp[x*r+y] * v[c*r+y]
					}
				}
			}
		}
		qsv := make([]float64, dd)
		for x := 0; x < dd; x++ {
			for y := 0; y < dd; y++ {
				qsv[x] += qs[x*dd+y] * s[y]
			}
		}
		for x := 0; x < r; x++ {
			for y := 0; y < r; y++ {
				got := 0.0
				for a := 0; a < d; a++ {
					for c := 0; c < d; c++ {
						got += v[a*r+x] * qsv[a*d+c] * v[c*r+y]
					}
				}
				es := eta * pr.scale // the problem holds H / scale
				want := sp[x*r+y] - es*(pr.l[x]+pr.l[y])*sp[x*r+y] + es*es*ds[x*r+y]
				if math.Abs(got-want) > 1e-12 {
					t.Fatalf("operator in basis: entry (%d,%d) = %.15g, enumeration gives %.15g", x, y, want, got)
				}
			}
		}
	}
}

func iMinus(h []float64, eta float64, d int) []float64 {
	m := make([]float64, d*d)
	for x := range m {
		m[x] = -eta * h[x]
	}
	for a := 0; a < d; a++ {
		m[a*d+a]++
	}
	return m
}

// kronAdd adds w * (A kron B) in the vec convention vec(S)[a*d+b] = S_ab, where
// (A S B^T) corresponds to A kron B.
func kronAdd(q, a, b []float64, d int, w float64) {
	dd := d * d
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			for k := 0; k < d; k++ {
				for l := 0; l < d; l++ {
					q[(i*d+j)*dd+k*d+l] += w * a[i*d+k] * b[j*d+l]
				}
			}
		}
	}
}

// TestSimulatorOneStep checks the Monte Carlo oracle's batches (uniform, without replacement) and
// the mixture process through the exact one-step second moment
// E||x_1||^2 = trace(Q(x0 x0^T)) + eta^2 p trace(S_g) + cross terms, from a fixed x0.
func TestSimulatorOneStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	in := randDense(rng, problemSpec{n: 3, d: 2, k: 1, grads: true})
	x0 := []float64{1, -0.5}
	eta := 0.2
	for _, b := range []int{1, 2} {
		// exact by enumeration
		want, count := 0.0, 0
		subsets(in.N, b, func(s []int) {
			count++
			x := append([]float64(nil), x0...)
			step := make([]float64, 2)
			for _, i := range s {
				addHx(step, in, x0, i)
				step[0] += in.Gradients[i][0]
				step[1] += in.Gradients[i][1]
			}
			for a := range x {
				x[a] -= eta * step[a] / float64(b)
			}
			want += x[0]*x[0] + x[1]*x[1]
		})
		want /= float64(count)
		// the first batch of a shuffled epoch is a uniform subset too
		for _, scheme := range []string{sampling.Independent, sampling.Shuffle, sampling.Mixture} {
			tr, err := simulateDense(in, simulation{eta: eta, batch: b, scheme: scheme, steps: 1, chains: 40000, seed: 9,
				init: func(_ int, _ *rand.Rand, x []float64) { copy(x, x0) }})
			if err != nil {
				t.Fatal(err)
			}
			got, se := tr.meanSq[1], tr.stdErr[1]
			if math.Abs(got-want) > 5*se {
				t.Errorf("B=%d %s: E||x_1||^2 = %.6g +- %.2g, exact %.6g", b, scheme, got, se, want)
			}
		}
	}
	// with replacement the answer would differ: make sure the test can tell
	withRepl := 0.0
	for i := 0; i < in.N; i++ {
		for j := 0; j < in.N; j++ {
			x := append([]float64(nil), x0...)
			step := make([]float64, 2)
			for _, s := range []int{i, j} {
				addHx(step, in, x0, s)
				step[0] += in.Gradients[s][0]
				step[1] += in.Gradients[s][1]
			}
			for a := range x {
				x[a] -= eta * step[a] / 2
			}
			withRepl += (x[0]*x[0] + x[1]*x[1]) / float64(in.N*in.N)
		}
	}
	tr, _ := simulateDense(in, simulation{eta: eta, batch: 2, scheme: sampling.Independent, steps: 1, chains: 40000, seed: 9,
		init: func(_ int, _ *rand.Rand, x []float64) { copy(x, x0) }})
	if math.Abs(tr.meanSq[1]-withRepl) < 5*tr.stdErr[1] {
		t.Errorf("cannot tell batches without replacement (%.6g +- %.2g) from with replacement (%.6g)", tr.meanSq[1], tr.stdErr[1], withRepl)
	}
}

// TestMonteCarloThreshold: started from the top eigenvector of Q (a PSD matrix S0, so
// E x0 x0^T = S0), E||x_t||^2 = rho(Q)^t trace(S0). At 0.9 eta* it decays, at 1.1 eta* it grows,
// for SGD and for ALG(p).
func TestMonteCarloThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	in := randDense(rng, problemSpec{n: 4, d: 3, k: 1})
	for _, b := range []int{1, 2} {
		rep, err := AnalyzeDense(in, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		br := newBrute(in, b)
		for _, f := range []float64{0.9, 1.1} {
			eta := f * rep.EtaStar
			w, v := eigh(9, br.q(eta))
			rho := w[8]
			s0 := v[8*9:]
			if s0[0]+s0[4]+s0[8] < 0 {
				for i := range s0 {
					s0[i] = -s0[i]
				}
			}
			checkPSD(t, "top eigenvector of Q", s0, 3)
			sw, sv := eigh(3, s0)
			root := make([]float64, 9) // S0^{1/2}
			for j := 0; j < 3; j++ {
				l := math.Sqrt(math.Max(sw[j], 0))
				for a := 0; a < 3; a++ {
					for c := 0; c < 3; c++ {
						root[a*3+c] += l * sv[j*3+a] * sv[j*3+c]
					}
				}
			}
			steps := int(math.Ceil(math.Abs(math.Log(3) / math.Log(rho))))
			if f > 1 && rho <= 1 || f < 1 && rho >= 1 {
				t.Fatalf("B=%d eta=%.1f eta*: rho(Q) = %.12g on the wrong side of 1", b, f, rho)
			}
			for _, scheme := range []string{sampling.Independent, sampling.Mixture} {
				tr, err := simulateDense(in, simulation{eta: eta, batch: b, scheme: scheme, steps: steps, every: steps, chains: 100000, seed: 5,
					init: func(_ int, r *rand.Rand, x []float64) {
						z := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
						for a := 0; a < 3; a++ {
							x[a] = root[a*3]*z[0] + root[a*3+1]*z[1] + root[a*3+2]*z[2]
						}
					}})
				if err != nil {
					t.Fatal(err)
				}
				m0, m1, se := tr.meanSq[0], tr.meanSq[1], tr.stdErr[1]
				exact := math.Pow(rho, float64(steps)) * (sw[0] + sw[1] + sw[2])
				t.Logf("B=%d eta=%.1f eta* %s: rho %.6f, %d steps: E||x||^2 %.4g -> %.4g +- %.2g (exact %.4g)", b, f, scheme, rho, steps, m0, m1, se, exact)
				if f < 1 && !(m1 < 0.6*m0) || f > 1 && !(m1 > 1.6*m0) {
					t.Errorf("B=%d eta=%.1f eta* %s: E||x||^2 went from %.4g to %.4g", b, f, scheme, m0, m1)
				}
				if math.Abs(m1-exact) > 6*se+0.05*exact { // heavy tails: the sample SE understates the error a little
					t.Errorf("B=%d eta=%.1f eta* %s: E||x_T||^2 = %.4g +- %.2g, exact %.4g", b, f, scheme, m1, se, exact)
				}
			}
		}
	}
}

// TestMonteCarloStationary: for a regular minimum, the stationary E||P(w - w*)||^2 of SGD matches
// the covariance limit of Cor. 1, including gradients with a null-space component (whose
// null-space part random-walks and is excluded by the projection).
func TestMonteCarloStationary(t *testing.T) {
	rng := rand.New(rand.NewPCG(101, 102))
	for _, tc := range []struct {
		spec problemSpec
		b    int
		f    float64
	}{
		{problemSpec{n: 5, d: 3, k: 1, grads: true}, 1, 0.5},
		{problemSpec{n: 6, d: 4, k: 1, sub: 3, grads: true, nullGrads: true}, 2, 0.6},
	} {
		in := randDense(rng, tc.spec)
		rep0, err := AnalyzeDense(in, tc.b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		eta := tc.f * rep0.EtaStar
		rep, err := AnalyzeDense(in, tc.b, Options{Eta: eta})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := simulateDense(in, simulation{eta: eta, batch: tc.b, scheme: sampling.Independent, steps: 8000, every: 1000, chains: 3000, seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		est, se := 0.0, 0.0
		k := 0
		for i, tt := range tr.t {
			if tt < 2000 {
				continue
			}
			est += tr.meanSqRange[i]
			se += tr.stdErrRange[i]
			k++
		}
		est /= float64(k)
		se /= float64(k) * math.Sqrt(float64(k)) // records 1000 steps apart are nearly independent
		want := *rep.CovarianceTrace
		t.Logf("B=%d eta=%.1f eta*: simulated %.5g +- %.2g, Cor. 1 %.5g", tc.b, tc.f, est, se, want)
		if math.Abs(est-want) > 4*se {
			t.Errorf("B=%d: stationary E||P x||^2 = %.5g +- %.2g, Cor. 1 gives %.5g", tc.b, est, se, want)
		}
	}
}
