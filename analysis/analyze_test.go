package analysis

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

var bruteCases = []struct {
	name string
	spec problemSpec
}{
	{"full-rank d4 n5", problemSpec{n: 5, d: 4, k: 1}},
	{"rank-deficient d6 sub3", problemSpec{n: 6, d: 6, k: 2, sub: 3}},
	{"n2 d3", problemSpec{n: 2, d: 3, k: 2}},
	{"d8 n8", problemSpec{n: 8, d: 8, k: 2}},
	{"rank-deficient d5 sub2 k1", problemSpec{n: 4, d: 5, k: 1, sub: 2}},
	{"rank-one H_i d7", problemSpec{n: 9, d: 7, k: 1, sub: 6}},
	{"n30 d4 (B = n-1: p ~ 1e-3)", problemSpec{n: 30, d: 4, k: 1}},
}

// TestDenseAgainstBruteForce builds Q, C and D as d^2 x d^2 matrices and compares every quantity.
func TestDenseAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range bruteCases {
		in := randDense(rng, tc.spec)
		for _, b := range []int{1, (in.N + 1) / 2, in.N - 1, in.N} {
			if b < 1 {
				continue
			}
			rep, err := AnalyzeDense(in, b, Options{Seed: 3})
			if err != nil {
				t.Fatalf("%s B=%d: %v", tc.name, b, err)
			}
			br := newBrute(in, b)
			want, top := br.genSharpness()
			name := tc.name + " B=" + itoa(b)
			checkRel(t, name+" p", rep.P, br.p, 1e-15)
			checkRel(t, name+" sharpness", rep.Sharpness, br.lmax, 1e-12)
			checkRel(t, name+" generalized sharpness", rep.GeneralizedSharpness, want, 1e-9)
			checkRel(t, name+" eta*", rep.EtaStar, 2/want, 1e-9)
			if lo, hi := rep.Bracket[0], rep.Bracket[1]; !(lo <= want*(1+1e-12) && want <= hi*(1+1e-12)) || (hi-lo)/hi > 1e-6 {
				t.Errorf("%s: bracket [%.15g, %.15g] does not hold %.15g with width <= 1e-6", name, lo, hi, want)
			}
			if b == in.N {
				checkRel(t, name+" B=n generalized sharpness = lambda_max", rep.GeneralizedSharpness, br.lmax, 1e-12)
				checkRel(t, name+" B=n eta* = 2/lambda_max", rep.EtaStar, 2/br.lmax, 1e-12)
			}
			// bounds (15), (16) from their formulas in parameter space
			b15, b16 := 0.0, 0.0
			fro, tr := 0.0, 0.0
			for x := 0; x < in.D; x++ {
				tr += br.h[x*in.D+x]
			}
			for _, v := range br.h {
				fro += v * v
			}
			s16 := 0.0
			for _, hi := range in.Hessians {
				q := quad(hi, br.vmax, in.D)
				b15 += (q - br.lmax) * (q - br.lmax) / float64(in.N)
				for _, v := range hi {
					s16 += v * v / float64(in.N)
				}
			}
			b15 = br.lmax + br.p*b15/br.lmax
			b16 = ((1-br.p)*fro + br.p*s16) / tr
			checkRel(t, name+" bound15", rep.Bound15, b15, 1e-10)
			checkRel(t, name+" bound16", rep.Bound16, b16, 1e-10)
			// chain (26) and b16 <= lambda_gen
			g := rep.GeneralizedSharpness
			if !(rep.Bound25 <= g*(1+1e-12) && rep.Bound15 <= rep.Bound25*(1+1e-12) && rep.Sharpness <= rep.Bound15*(1+1e-12) && rep.Bound16 <= g*(1+1e-12)) {
				t.Errorf("%s: chain (26) violated: gen %g b25 %g b15 %g lmax %g b16 %g", name, g, rep.Bound25, rep.Bound15, rep.Sharpness, rep.Bound16)
			}
			// nonuniformity from (1/n) sum H_i^2 - H^2
			d := in.D
			m := matmul(d, br.h, br.h)
			for i := range m {
				m[i] = -m[i]
			}
			for _, hi := range in.Hessians {
				h2 := matmul(d, hi, hi)
				for i := range m {
					m[i] += h2[i] / float64(in.N)
				}
			}
			w, _ := eigh(d, m)
			checkRel(t, name+" nonuniformity", rep.Nonuniformity, math.Sqrt(math.Max(w[d-1], 0)), 1e-7)
			if rep.Diagnostics.NonuniformityStatus != "converged" {
				t.Errorf("%s: nonuniformity status %q", name, rep.Diagnostics.NonuniformityStatus)
			}
			// Q's spectral radius at eta* is 1 on range(H) x range(H), and Thm 6: top eigenvector PSD
			qr := br.restrict(br.q(rep.EtaStar))
			qw, _ := eigh(br.r*br.r, qr)
			if math.Abs(qw[len(qw)-1]-1) > 1e-8 || qw[0] < -1-1e-8 {
				t.Errorf("%s: eigenvalues of Q at eta* in [%.12g, %.12g], want top 1 and none below -1", name, qw[0], qw[len(qw)-1])
			}
			checkPSD(t, name+" brute top eigenvector (Thm 6)", top, d)
			checkPSD(t, name+" solver top eigenmatrix", rep.gen.s, rep.pr.r)
			if rep.Diagnostics.Status != "converged" {
				t.Errorf("%s: status %s", name, rep.Diagnostics.Status)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func quad(h, v []float64, d int) float64 {
	s := 0.0
	for a := 0; a < d; a++ {
		for b := 0; b < d; b++ {
			s += v[a] * h[a*d+b] * v[b]
		}
	}
	return s
}

// checkPSD checks that the d x d matrix s (up to a global sign) is symmetric PSD.
func checkPSD(t *testing.T, name string, s []float64, d int) {
	t.Helper()
	sym := make([]float64, d*d)
	asym := 0.0
	for a := 0; a < d; a++ {
		for b := 0; b < d; b++ {
			sym[a*d+b] = 0.5 * (s[a*d+b] + s[b*d+a])
			asym = math.Max(asym, math.Abs(s[a*d+b]-s[b*d+a]))
		}
	}
	w, _ := eigh(d, sym)
	top := math.Max(math.Abs(w[0]), math.Abs(w[d-1]))
	if math.Abs(w[0]) > math.Abs(w[d-1]) { // an eigenvector's sign is arbitrary: flip
		w[0], w[d-1] = -w[d-1], -w[0]
	}
	if w[0] < -1e-7*top || asym > 1e-7*top {
		t.Errorf("%s: not symmetric PSD: eigenvalues [%g, %g], asymmetry %g", name, w[0], w[d-1], asym)
	}
}

func TestScaleInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sc := range []float64{1e6, 1e-6, 1e200, 1e-200} {
		spec := problemSpec{n: 6, d: 5, k: 1, sub: 4}
		base := randDense(rand.New(rand.NewPCG(5, 5)), spec)
		spec.scale = sc
		scaled := randDense(rand.New(rand.NewPCG(5, 5)), spec)
		_ = rng
		for _, b := range []int{1, 3} {
			r1, err := AnalyzeDense(base, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r2, err := AnalyzeDense(scaled, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "scaled generalized sharpness", r2.GeneralizedSharpness, sc*r1.GeneralizedSharpness, 1e-9)
			checkRel(t, "scaled eta*", r2.EtaStar, r1.EtaStar/sc, 1e-9)
			checkRel(t, "scaled bound15", r2.Bound15, sc*r1.Bound15, 1e-9)
			checkRel(t, "scaled bound16", r2.Bound16, sc*r1.Bound16, 1e-9)
			checkRel(t, "scaled bound25", r2.Bound25, sc*r1.Bound25, 1e-7)
			checkRel(t, "scaled nonuniformity", r2.Nonuniformity, sc*r1.Nonuniformity, 1e-7)
			if r2.Diagnostics.Rank != r1.Diagnostics.Rank {
				t.Errorf("rank changed under scaling: %d vs %d", r2.Diagnostics.Rank, r1.Diagnostics.Rank)
			}
		}
	}
}

// TestProp1Monotone: lambda_gen is non-increasing in B.
func TestProp1Monotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for trial := 0; trial < 4; trial++ {
		in := randDense(rng, problemSpec{n: 7, d: 5, k: 1 + trial%2, sub: 4 + trial%2})
		prev := math.Inf(1)
		for b := 1; b <= in.N; b++ {
			rep, err := AnalyzeDense(in, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bracket[0] > prev*(1+1e-12) {
				t.Errorf("trial %d: lambda_gen increased from %.15g to %.15g at B=%d", trial, prev, rep.Bracket[0], b)
			}
			prev = rep.Bracket[1]
		}
	}
}

// TestBound25 compares (25) with a grid search over the sphere (d = 2 and 3) and checks that it
// never exceeds lambda_gen on random problems.
func TestBound25(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for trial := 0; trial < 6; trial++ {
		d := 2 + trial%2
		in := randDense(rng, problemSpec{n: 6, d: d, k: 1})
		b := 1 + trial%3
		rep, err := AnalyzeDense(in, b, Options{Seed: uint64(trial)})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.P
		h := meanH(in)
		f := func(v []float64) float64 {
			a := quad(h, v, d)
			s := 0.0
			for _, hi := range in.Hessians {
				q := quad(hi, v, d)
				s += (q - a) * (q - a) / float64(in.N)
			}
			return a + p*s/a
		}
		best := 0.0
		if d == 2 {
			for k := 0; k < 200000; k++ {
				th := math.Pi * float64(k) / 200000
				best = math.Max(best, f([]float64{math.Cos(th), math.Sin(th)}))
			}
		} else {
			for k := 0; k < 600; k++ {
				th := math.Pi * (float64(k) + 0.5) / 600
				for j := 0; j < 1200; j++ {
					ph := math.Pi * float64(j) / 1200
					best = math.Max(best, f([]float64{math.Sin(th) * math.Cos(ph), math.Sin(th) * math.Sin(ph), math.Cos(th)}))
				}
			}
		}
		if rep.Bound25 < best*(1-1e-9) || rep.Bound25 > best*(1+1e-4) {
			t.Errorf("trial %d (d=%d): bound25 %.12g, grid maximum %.12g", trial, d, rep.Bound25, best)
		}
		if got := f(rep.Bound25Vector); relErr(got, rep.Bound25) > 1e-9 {
			t.Errorf("trial %d: f(maximizer) = %.12g but bound25 = %.12g", trial, got, rep.Bound25)
		}
	}
	for trial := 0; trial < 20; trial++ {
		d := 3 + trial%4
		in := randDense(rng, problemSpec{n: 3 + trial%5, d: d, k: 1 + trial%2, sub: min(d, 2+trial%3)})
		for b := 1; b <= in.N; b++ {
			rep, err := AnalyzeDense(in, b, Options{Seed: uint64(trial)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bound25 > rep.GeneralizedSharpness || rep.Bound25 > rep.Bracket[1] || rep.Bound25 < rep.Bound15*(1-1e-12) {
				t.Errorf("trial %d B=%d: bound25 %.15g outside [bound15 %.15g, upper bracket %.15g]", trial, b, rep.Bound25, rep.Bound15, rep.Bracket[1])
			}
		}
	}
}

// TestCovarianceLimit compares Thm 5 / Cor. 1 with the fixed point of the brute-force moment
// recursion Sigma <- Q Sigma + eta^2 p S_g on d x d matrices.
func TestCovarianceLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, tc := range []problemSpec{
		{n: 5, d: 4, k: 1, grads: true},
		{n: 6, d: 5, k: 1, sub: 3, grads: true, nullGrads: true},
		{n: 2, d: 3, k: 2, grads: true},
	} {
		in := randDense(rng, tc)
		for _, b := range []int{1, 2} {
			rep0, err := AnalyzeDense(in, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			eta := 0.5 * rep0.EtaStar
			rep, err := AnalyzeDense(in, b, Options{Eta: eta})
			if err != nil {
				t.Fatal(err)
			}
			br := newBrute(in, b)
			d := in.D
			// projected noise covariance
			proj := make([]float64, d*d)
			for x := 0; x < d; x++ {
				for y := 0; y < d; y++ {
					for j := 0; j < br.r; j++ {
						proj[x*d+y] += br.rangeV[x*br.r+j] * br.rangeV[y*br.r+j]
					}
				}
			}
			sg := make([]float64, d*d)
			for _, g := range in.Gradients {
				pg := make([]float64, d)
				for x := 0; x < d; x++ {
					for y := 0; y < d; y++ {
						pg[x] += proj[x*d+y] * g[y]
					}
				}
				for x := 0; x < d; x++ {
					for y := 0; y < d; y++ {
						sg[x*d+y] += pg[x] * pg[y] / float64(in.N)
					}
				}
			}
			q := br.q(eta)
			dd := d * d
			sig := make([]float64, dd)
			next := make([]float64, dd)
			for it := 0; it < 200000; it++ {
				diff := 0.0
				for i := 0; i < dd; i++ {
					s := eta * eta * br.p * sg[i]
					for j := 0; j < dd; j++ {
						s += q[i*dd+j] * sig[j]
					}
					next[i] = s
					diff = math.Max(diff, math.Abs(s-sig[i]))
				}
				sig, next = next, sig
				if diff < 1e-17 {
					break
				}
			}
			tr, loss, g2 := 0.0, 0.0, 0.0
			h2 := matmul(d, br.h, br.h)
			for a := 0; a < d; a++ {
				tr += sig[a*d+a]
				for c := 0; c < d; c++ {
					loss += 0.5 * br.h[a*d+c] * sig[c*d+a]
					g2 += h2[a*d+c] * sig[c*d+a]
				}
			}
			checkRel(t, "covariance trace", *rep.CovarianceTrace, tr, 1e-8)
			checkRel(t, "expected loss", *rep.ExpectedLoss, loss, 1e-8)
			checkRel(t, "expected grad norm^2", *rep.ExpectedGradNorm2, g2, 1e-8)
			if tc.nullGrads && rep.Diagnostics.GradNullFraction <= 0 {
				t.Errorf("null-space gradient fraction not reported")
			}
			// small-eta scaling: all three limits are ~ eta
			rs, err := AnalyzeDense(in, b, Options{Eta: 1e-4 * rep0.EtaStar})
			if err != nil {
				t.Fatal(err)
			}
			rs2, err := AnalyzeDense(in, b, Options{Eta: 2e-4 * rep0.EtaStar})
			if err != nil {
				t.Fatal(err)
			}
			if rep.P == 0 {
				if *rs.CovarianceTrace != 0 {
					t.Errorf("p = 0 (B = n) but covariance trace %g", *rs.CovarianceTrace)
				}
				continue
			}
			checkRel(t, "trace ~ eta", *rs2.CovarianceTrace/(*rs.CovarianceTrace), 2, 1e-3)
		}
	}
}

// TestFactoredMatchesDense runs the same Gauss-Newton problem through both paths.
func TestFactoredMatchesDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, tc := range []struct {
		n, k, d int
		m       string
	}{{12, 4, 60, "2I"}, {10, 4, 64, "random"}, {40, 4, 60, "random"}} {
		f := &Factored{N: tc.n, K: tc.k, D: tc.d, OutputHessian: make([]float64, tc.k*tc.k)}
		if tc.m == "2I" {
			for a := 0; a < tc.k; a++ {
				f.OutputHessian[a*tc.k+a] = 2
			}
		} else {
			z := make([]float64, tc.k*tc.k)
			for i := range z {
				z[i] = rng.NormFloat64()
			}
			for a := 0; a < tc.k; a++ {
				for b := 0; b < tc.k; b++ {
					for c := 0; c < tc.k-1; c++ { // rank k-1 PSD
						f.OutputHessian[a*tc.k+b] += z[a*tc.k+c] * z[b*tc.k+c]
					}
				}
			}
		}
		for i := 0; i < tc.n; i++ {
			j := make([]float64, tc.k*tc.d)
			for x := range j {
				if rng.Float64() < 0.5 {
					j[x] = rng.NormFloat64()
				}
			}
			for a := 0; a < tc.k; a++ { // a few zero columns, like dead units
				j[a*tc.d+tc.d-1] = 0
			}
			f.Factors = append(f.Factors, j)
		}
		f.Gradients = make([][]float64, tc.n)
		mean := make([]float64, tc.d)
		for i := range f.Gradients {
			g := make([]float64, tc.d)
			for x := range g {
				g[x] = rng.NormFloat64()
				mean[x] += g[x] / float64(tc.n)
			}
			f.Gradients[i] = g
		}
		for _, g := range f.Gradients {
			for x := range g {
				g[x] -= mean[x]
			}
		}
		dn := &Dense{N: tc.n, D: tc.d, Gradients: f.Gradients}
		for i := 0; i < tc.n; i++ {
			dn.Hessians = append(dn.Hessians, gaussNewton(f, i))
		}
		for _, b := range []int{1, 3, tc.n} {
			fr, err := AnalyzeFactored(f, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{Eta: 0.6 * fr.EtaStar}
			fr, err = AnalyzeFactored(f, b, opt)
			if err != nil {
				t.Fatal(err)
			}
			dr, err := AnalyzeDense(dn, b, opt)
			if err != nil {
				t.Fatal(err)
			}
			if fr.Diagnostics.Rank != dr.Diagnostics.Rank {
				t.Errorf("rank: factored %d dense %d", fr.Diagnostics.Rank, dr.Diagnostics.Rank)
			}
			checkRel(t, "sharpness", fr.Sharpness, dr.Sharpness, 1e-10)
			checkRel(t, "generalized sharpness", fr.GeneralizedSharpness, dr.GeneralizedSharpness, 1e-9)
			checkRel(t, "bound15", fr.Bound15, dr.Bound15, 1e-9)
			checkRel(t, "bound16", fr.Bound16, dr.Bound16, 1e-10)
			checkRel(t, "bound25", fr.Bound25, dr.Bound25, 1e-6)
			checkRel(t, "nonuniformity", fr.Nonuniformity, dr.Nonuniformity, 1e-8)
			checkRel(t, "covariance trace", *fr.CovarianceTrace, *dr.CovarianceTrace, 1e-8)
			checkRel(t, "expected loss", *fr.ExpectedLoss, *dr.ExpectedLoss, 1e-8)
			checkRel(t, "expected grad norm^2", *fr.ExpectedGradNorm2, *dr.ExpectedGradNorm2, 1e-8)
			checkRel(t, "grad null fraction", fr.Diagnostics.GradNullFraction, dr.Diagnostics.GradNullFraction, 1e-8)
			// top eigenvectors agree up to sign
			dot := 0.0
			for x := range fr.TopEigenvector {
				dot += fr.TopEigenvector[x] * dr.TopEigenvector[x]
			}
			if math.Abs(math.Abs(dot)-1) > 1e-8 {
				t.Errorf("top eigenvectors differ: |<v_f, v_d>| = %.12g", math.Abs(dot))
			}
		}
	}
}

// gaussNewton returns J_i^T M_i J_i as a dense d x d matrix.
func gaussNewton(f *Factored, i int) []float64 {
	k, d := f.K, f.D
	j := f.Factors[i]
	mj := make([]float64, k*d)
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			for x := 0; x < d; x++ {
				mj[a*d+x] += f.outputHessian(i)[a*k+b] * j[b*d+x]
			}
		}
	}
	h := make([]float64, d*d)
	for a := 0; a < k; a++ {
		for x := 0; x < d; x++ {
			for y := 0; y < d; y++ {
				h[x*d+y] += j[a*d+x] * mj[a*d+y]
			}
		}
	}
	return h
}

// diagonalDense returns commuting diagonal Hessians H_i = diag(h[i]). Their top eigenmatrix of
// pinv(C) D is some E_aa (rank one, THEORY.md Thm 6), so bound (25) at v = e_a equals lambda_gen.
func diagonalDense(h [][]float64) *Dense {
	d := len(h[0])
	in := &Dense{N: len(h), D: d}
	for _, hi := range h {
		m := make([]float64, d*d)
		for a, v := range hi {
			m[a*d+a] = v
		}
		in.Hessians = append(in.Hessians, m)
	}
	return in
}

// TestBound25RaisesLowerEnd: with too few operator applications for Lanczos to reach the top
// eigenmatrix, bound (25), exact here (rank-one top eigenmatrix), lies above the Rayleigh
// quotient. It is not clipped: it becomes the bracket's lower end, and lambda_gen is at least it.
func TestBound25RaisesLowerEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(131, 132))
	const n, d, b = 6, 12, 2
	h := make([][]float64, n)
	for i := range h {
		h[i] = make([]float64, d)
		for a := range h[i] {
			h[i][a] = rng.Float64() * (1 + float64(a)/d)
		}
	}
	in := diagonalDense(h)
	want, _ := newBrute(in, b).genSharpness()
	rep, err := AnalyzeDense(in, b, Options{MaxApplications: 5})
	if err != nil {
		t.Fatal(err)
	}
	// the case needs a Rayleigh quotient below (25)
	opt := Options{MaxApplications: 5}.WithDefaults()
	pr, err := newDenseProblem(in, opt.RankTol)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := generalizedSharpness(pr, sampling.P(n, b), opt)
	if err != nil {
		t.Fatal(err)
	}
	if rq := gen.lo * pr.scale; !(rq < want*(1-1e-9)) {
		t.Fatalf("Lanczos alone reached %.15g of %.15g: the case does not test the raise", rq, want)
	}
	dg := rep.Diagnostics
	t.Logf("bound25 %.15g, brute force %.15g, bracket [%.15g, %.15g], status %s", rep.Bound25, want, rep.Bracket[0], rep.Bracket[1], dg.Status)
	checkRel(t, "bound25 (exact here)", rep.Bound25, want, 1e-10)
	if !dg.BracketLowerFromBound25 || rep.Bracket[0] != rep.Bound25 {
		t.Errorf("bound25 %.15g did not become the lower end %.15g (flag %v)", rep.Bound25, rep.Bracket[0], dg.BracketLowerFromBound25)
	}
	if !(rep.GeneralizedSharpness >= rep.Bound25 && rep.GeneralizedSharpness <= rep.Bracket[1] && want <= rep.Bracket[1]*(1+1e-12)) {
		t.Errorf("lambda_gen %.15g outside [bound25 %.15g, hi %.15g]", rep.GeneralizedSharpness, rep.Bound25, rep.Bracket[1])
	}
	if relErr(rep.EtaStar, 2/rep.GeneralizedSharpness) > 1e-15 {
		t.Errorf("eta* = %v, 2/lambda_gen = %v", rep.EtaStar, 2/rep.GeneralizedSharpness)
	}
	// With enough applications the Rayleigh quotient itself reaches it and nothing is raised.
	full, err := AnalyzeDense(in, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRel(t, "converged lambda_gen", full.GeneralizedSharpness, want, 1e-9)
}

// TestBound25AboveUpperEnd: a lower bound above the certified upper end is an error (the
// optimizer and the certificate disagree), within rounding it closes the bracket, below the
// lower end it changes nothing. The bracket is a real one; the too-large bound is (25) of the
// same problem with every Hessian doubled (2 lambda_gen).
func TestBound25AboveUpperEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(141, 142))
	in := randDense(rng, problemSpec{n: 5, d: 4, k: 1})
	double := &Dense{N: in.N, D: in.D}
	for _, h := range in.Hessians {
		h2 := make([]float64, len(h))
		for a, v := range h {
			h2[a] = 2 * v
		}
		double.Hessians = append(double.Hessians, h2)
	}
	opt := Options{}.WithDefaults()
	pr, err := newDenseProblem(in, opt.RankTol)
	if err != nil {
		t.Fatal(err)
	}
	pr2, err := newDenseProblem(double, opt.RankTol)
	if err != nil {
		t.Fatal(err)
	}
	p := sampling.P(in.N, 2)
	gen, err := generalizedSharpness(pr, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := bound25(pr2, p, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	// pr and pr2 are normalized by their own scale: bring (25) of 2H to pr's units
	big := b2.value * pr2.scale / pr.scale
	if !(big > 1.5*gen.hi) {
		t.Fatalf("(25) of 2H = %v is not above the bracket [%v, %v]", big, gen.lo, gen.hi)
	}
	lo, hi := gen.lo, gen.hi
	if raised, err := gen.admitLowerBound(big, opt.RelWidth); err == nil || raised || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("(25) = %v above hi = %v: raised %v, error %v", big, hi, raised, err)
	}
	if _, err := gen.admitLowerBound(math.NaN(), opt.RelWidth); err == nil {
		t.Error("NaN lower bound accepted")
	}
	if raised, err := gen.admitLowerBound(lo*(1-1e-3), opt.RelWidth); err != nil || raised || gen.lo != lo || gen.hi != hi {
		t.Errorf("a bound below lo changed the bracket: raised %v, error %v, [%v, %v]", raised, err, gen.lo, gen.hi)
	}
	if raised, err := gen.admitLowerBound(hi*(1+1e-14), opt.RelWidth); err != nil || !raised || gen.lo != hi || !gen.converged {
		t.Errorf("a bound within rounding above hi: raised %v, error %v, bracket [%v, %v], converged %v", raised, err, gen.lo, gen.hi, gen.converged)
	}
}
