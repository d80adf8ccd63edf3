package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteShape is the shape of the top eigenmatrix of the dense pinv(C) D (brute.genSharpness),
// restricted to range(H): effective rank, top share and mu_r/mu_1 of V^T S V.
func bruteShape(b *brute) (lambda, effRank, topShare, minEigRel float64) {
	lambda, s := b.genSharpness()
	d, r := b.d, b.r
	m := make([]float64, r*r)
	for x := 0; x < r; x++ {
		for y := 0; y < r; y++ {
			for a := 0; a < d; a++ {
				for c := 0; c < d; c++ {
					m[x*r+y] += b.rangeV[a*r+x] * 0.5 * (s[a*d+c] + s[c*d+a]) * b.rangeV[c*r+y]
				}
			}
		}
	}
	tr, fro := 0.0, 0.0
	for x := 0; x < r; x++ {
		tr += m[x*r+x]
	}
	if tr < 0 { // an eigenvector's sign is arbitrary
		for i := range m {
			m[i] = -m[i]
		}
		tr = -tr
	}
	for _, v := range m {
		fro += v * v
	}
	w, _ := eigh(r, m)
	return lambda, tr * tr / fro, w[r-1] / tr, w[0] / w[r-1]
}

func shapeOf(t *testing.T, rep *Report) (effRank, topShare, minEigRel float64) {
	t.Helper()
	if rep.TopEigenmatrixEffectiveRank == nil || rep.TopEigenmatrixTopShare == nil || rep.TopEigenmatrixMinEigRel == nil {
		t.Fatal("report lacks the top eigenmatrix's shape")
	}
	return *rep.TopEigenmatrixEffectiveRank, *rep.TopEigenmatrixTopShare, *rep.TopEigenmatrixMinEigRel
}

// TestTopEigenmatrixShapeAgainstBruteForce compares the effective rank, top share and smallest
// eigenvalue of S* with those of the top eigenvector of the dense d^2 x d^2 pinv(C) D.
func TestTopEigenmatrixShapeAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, tc := range bruteCases[:5] {
		in := randDense(rng, tc.spec)
		for _, b := range []int{1, (in.N + 1) / 2, in.N - 1} {
			if b < 1 {
				continue
			}
			name := tc.name + " B=" + itoa(b)
			rep, err := AnalyzeDense(in, b, Options{Seed: 3})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, er, ts, me := bruteShape(newBrute(in, b))
			gotR, gotS, gotM := shapeOf(t, rep)
			checkRel(t, name+" effective rank", gotR, er, 1e-6)
			checkRel(t, name+" top share", gotS, ts, 1e-6)
			if math.Abs(gotM-me) > 1e-6 || me < -1e-9 {
				t.Errorf("%s: min eigenvalue / max = %.12g, brute force %.12g", name, gotM, me)
			}
			if !(gotR >= 1-1e-12 && gotR <= float64(rep.Diagnostics.Rank)*(1+1e-12) && gotS > 0 && gotS <= 1+1e-12) {
				t.Errorf("%s: effective rank %g, top share %g out of range (rank %d)", name, gotR, gotS, rep.Diagnostics.Rank)
			}
			if dg := rep.Diagnostics; dg.TopEigenmatrixStatus != "converged" || dg.TopEigenmatrixMinStatus != "converged" || dg.TopEigenmatrixApplications < 2 {
				t.Errorf("%s: top eigenmatrix statuses %q %q after %d products", name, dg.TopEigenmatrixStatus, dg.TopEigenmatrixMinStatus, dg.TopEigenmatrixApplications)
			}
		}
	}
}

// TestTopEigenmatrixRankOne: two problems whose top eigenmatrix is exactly rank one, so that
// (25) equals lambda_gen. At B = n (p = 0) S* = v_max v_max^T and lambda_gen = lambda_max (App.
// I). With commuting diagonal H_i = diag(h_i) and p > 0, T maps E_ab to
// [(1-p) l_a l_b + p m_ab] / ((l_a + l_b)/2) E_ab (m_ab = (1/n) sum_i h_ia h_ib), so S* = E_aa
// for the a maximizing (1-p) l_a + p m_aa / l_a, which is coordinate 1 here, not v_max = e_0.
func TestTopEigenmatrixRankOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	in := randDense(rng, problemSpec{n: 5, d: 4, k: 1})
	rep, err := AnalyzeDense(in, in.N, Options{})
	if err != nil {
		t.Fatal(err)
	}
	br := newBrute(in, in.N)
	_, er, ts, _ := bruteShape(br)
	checkRel(t, "B = n brute-force effective rank", er, 1, 1e-9)
	checkRel(t, "B = n brute-force top share", ts, 1, 1e-9)
	gotR, gotS, _ := shapeOf(t, rep)
	checkRel(t, "B = n effective rank", gotR, 1, 1e-12)
	checkRel(t, "B = n top share", gotS, 1, 1e-12)
	checkRel(t, "B = n bound25 = lambda_gen", rep.Bound25, rep.GeneralizedSharpness, 1e-12)
	checkRel(t, "B = n lambda_gen = lambda_max", rep.GeneralizedSharpness, br.lmax, 1e-12)

	h := [][]float64{{2, 0.2, 0.5}, {2, 0.2, 0.5}, {2, 0.2, 0.5}, {2, 5, 0.5}}
	diag := diagonalDense(h)
	const b = 1 // p = 1: f(e_a) = m_aa / l_a = 2, 4.4857..., 0.5
	want := (3*0.04 + 25) / 4 / 1.4
	for _, opt := range []Options{{}, {Bound25Starts: 1, Bound25Random: 0}} {
		rep, err := AnalyzeDense(diag, b, opt)
		if err != nil {
			t.Fatal(err)
		}
		lam, er, ts, _ := bruteShape(newBrute(diag, b))
		checkRel(t, "diagonal brute-force lambda_gen", lam, want, 1e-12)
		checkRel(t, "diagonal brute-force effective rank", er, 1, 1e-9)
		checkRel(t, "diagonal brute-force top share", ts, 1, 1e-9)
		gotR, gotS, gotM := shapeOf(t, rep)
		checkRel(t, "diagonal effective rank", gotR, 1, 1e-8)
		checkRel(t, "diagonal top share", gotS, 1, 1e-8)
		if math.Abs(gotM) > 1e-8 {
			t.Errorf("diagonal: min eigenvalue / max = %g, want 0", gotM)
		}
		checkRel(t, "diagonal lambda_gen", rep.GeneralizedSharpness, want, 1e-9)
		checkRel(t, "diagonal bound25 = lambda_gen", rep.Bound25, want, 1e-9)
		dg := rep.Diagnostics
		checkRel(t, "diagonal (25) from the top eigenvector of S*", dg.Bound25TopEigenmatrixValue, want, 1e-9)
		// With v_max = e_0 as the only other start (a critical point of (25) with value 2) the
		// start at the top eigenvector e_1 of S* is the one that finds the maximum; with the
		// default starts, e_1 is among them and the extra start only ties.
		if only := opt.Bound25Starts == 1; dg.Bound25BestFromTopEigenmatrix != only {
			t.Errorf("starts %d: best from the top eigenmatrix = %v, want %v", opt.Bound25Starts, dg.Bound25BestFromTopEigenmatrix, only)
		}
	}
}

// TestTopEigenmatrixRankTwo: a problem whose top eigenmatrix is exactly rank two. In a plane
// spanned by the orthonormal columns of a random U (d = 4, so H has a null space of dimension
// 2), H_i = x_i x_i^T with x_i alternating between U(cos th, sin th) and its mirror image
// U(sin th, cos th). In the eigenbasis e+-, both are (c, +-s) with c^2 = l+, s^2 = l-, so
// (x^T S x) is the same for both on diagonal S = diag(s+, s-), and T(S) = [[l+, p l-],
// [p l+, l-]] (s+, s-): the top eigenvalue of that positive matrix is lambda_gen, with a
// positive eigenvector (rank two for p > 0); the off-diagonal E has eigenvalue
// 2 (1 + p) l+ l-, smaller here. At p = 1, S* = I on range(H) (effective rank 2).
func TestTopEigenmatrixRankTwo(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	const d, n = 4, 4
	lp := 0.8 // l+ = (1 + sin 2 th)/2
	th := math.Asin(2*lp-1) / 2
	u := randOrtho(rng, d, 2)
	in := &Dense{N: n, D: d}
	for i := 0; i < n; i++ {
		z := []float64{math.Cos(th), math.Sin(th)}
		if i%2 == 1 {
			z[0], z[1] = z[1], z[0]
		}
		x := make([]float64, d)
		for a := 0; a < d; a++ {
			x[a] = u[a*2]*z[0] + u[a*2+1]*z[1]
		}
		h := make([]float64, d*d)
		for a := 0; a < d; a++ {
			for c := 0; c < d; c++ {
				h[a*d+c] = x[a] * x[c]
			}
		}
		in.Hessians = append(in.Hessians, h)
	}
	lm := 1 - lp
	for _, b := range []int{1, 2, 3, 4} {
		name := "rank two B=" + itoa(b)
		rep, err := AnalyzeDense(in, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.P
		lam := (lp + lm + math.Sqrt((lp-lm)*(lp-lm)+4*p*p*lp*lm)) / 2
		sp, sm := 1.0, 0.0 // s- = (lambda - l+) s+ / (p l-)
		if p > 0 {
			sm = (lam - lp) / (p * lm)
		}
		if off := 2 * (1 + p) * lp * lm; !(off < lam*(1-1e-3)) {
			t.Fatalf("%s: the off-diagonal eigenvalue %g is not below %g", name, off, lam)
		}
		wantR := (sp + sm) * (sp + sm) / (sp*sp + sm*sm)
		wantS := math.Max(sp, sm) / (sp + sm)
		wantM := math.Min(sp, sm) / math.Max(sp, sm)
		// the eigenmatrix of the symmetrized operator, X = C^{1/2}(S*) = diag(sqrt(l+) s+, sqrt(l-) s-),
		// has another effective rank: the test tells S* from X
		xp, xm := math.Sqrt(lp)*sp, math.Sqrt(lm)*sm
		if xR := (xp + xm) * (xp + xm) / (xp*xp + xm*xm); p > 0 && relErr(xR, wantR) < 1e-2 {
			t.Fatalf("%s: effective rank of X %g too close to that of S* %g", name, xR, wantR)
		}
		lb, er, ts, me := bruteShape(newBrute(in, b))
		checkRel(t, name+" brute-force lambda_gen", lb, lam, 1e-12)
		checkRel(t, name+" brute-force effective rank", er, wantR, 1e-9)
		checkRel(t, name+" brute-force top share", ts, wantS, 1e-9)
		if math.Abs(me-wantM) > 1e-9 {
			t.Errorf("%s: brute-force min/max eigenvalue %g, want %g", name, me, wantM)
		}
		checkRel(t, name+" lambda_gen", rep.GeneralizedSharpness, lam, 1e-9)
		gotR, gotS, gotM := shapeOf(t, rep)
		checkRel(t, name+" effective rank", gotR, wantR, 1e-8)
		checkRel(t, name+" top share", gotS, wantS, 1e-8)
		if math.Abs(gotM-wantM) > 1e-8 {
			t.Errorf("%s: min/max eigenvalue %g, want %g", name, gotM, wantM)
		}
		// (25) is the maximum over the rank-one v v^T, v = (cos f, sin f) in the eigenbasis:
		// a = l+ cos^2 + l- sin^2, q = (c cos +- s sin)^2 for the two samples
		best := 0.0
		c, s := math.Sqrt(lp), math.Sqrt(lm)
		for k := 0; k < 100000; k++ {
			f := math.Pi * float64(k) / 100000
			a := lp*math.Cos(f)*math.Cos(f) + lm*math.Sin(f)*math.Sin(f)
			q1 := math.Pow(c*math.Cos(f)+s*math.Sin(f), 2)
			q2 := math.Pow(c*math.Cos(f)-s*math.Sin(f), 2)
			best = math.Max(best, (1-p)*a+p*(q1*q1+q2*q2)/2/a)
		}
		if rep.Bound25 < best*(1-1e-9) || rep.Bound25 > best*(1+1e-6) {
			t.Errorf("%s: bound25 %.12g, grid maximum %.12g", name, rep.Bound25, best)
		}
		if p > 0 && !(rep.Bound25 < lam*(1-1e-3)) {
			t.Errorf("%s: bound25 %.12g not below lambda_gen %.12g for a rank-two top eigenmatrix", name, rep.Bound25, lam)
		}
	}
}

// TestBound25ExtraStart: the start at the top eigenvector of S* can only raise (25), and the
// diagnostics say what it reached.
func TestBound25ExtraStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for trial := 0; trial < 8; trial++ {
		in := randDense(rng, problemSpec{n: 6, d: 5, k: 1 + trial%2, sub: 4})
		b := 1 + trial%3
		opt := Options{Seed: uint64(trial), Bound25Starts: 1 + trial%4, Bound25Random: trial % 3}.WithDefaults()
		rep, err := AnalyzeDense(in, b, opt)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := newDenseProblem(in, opt.RankTol)
		if err != nil {
			t.Fatal(err)
		}
		without, err := bound25(pr, rep.P, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		dg := rep.Diagnostics
		old := without.value * pr.scale
		best := dg.Bound25TopEigenmatrixValue > old*(1+bound25ExtraGain)
		if want := map[bool]float64{false: old, true: dg.Bound25TopEigenmatrixValue}[best]; rep.Bound25 != want || dg.Bound25BestFromTopEigenmatrix != best {
			t.Errorf("trial %d: bound25 %.15g, without the extra start %.15g, from it %.15g (best %v)", trial, rep.Bound25, old, dg.Bound25TopEigenmatrixValue, dg.Bound25BestFromTopEigenmatrix)
		}
		if !(dg.Bound25TopEigenmatrixValue > 0 && dg.Bound25TopEigenmatrixValue <= rep.Bracket[1]*(1+1e-12)) {
			t.Errorf("trial %d: (25) from the top eigenmatrix %g outside (0, hi = %g]", trial, dg.Bound25TopEigenmatrixValue, rep.Bracket[1])
		}
	}
}

// TestTopEigenmatrixShapeLanczos checks topEigenmatrixShape on matrices Q diag(mu) Q^T of size
// 300 (the Lanczos runs restart; no invariant subspace) with known spectra, one of them not PSD
// and one with a dense bottom (geometric from 1 down to 1e-6, as in a top eigenmatrix), whose
// smallest eigenvalue must come out to 1e-6 of itself.
func TestTopEigenmatrixShapeLanczos(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	const r = 300
	q := randOrtho(rng, r, r)
	for _, last := range []float64{1e-3, -0.05, 1e-6} {
		mu := make([]float64, r)
		mu[0], mu[r-1] = 1, last
		for a := 1; a < r-1; a++ {
			mu[a] = 0.1 + 0.3*rng.Float64()
			if last == 1e-6 {
				mu[a] = math.Pow(last, float64(a)/float64(r-1))
			}
		}
		s := make([]float64, r*r)
		for x := 0; x < r; x++ {
			for y := 0; y < r; y++ {
				for a := 0; a < r; a++ {
					s[x*r+y] += q[x*r+a] * mu[a] * q[y*r+a]
				}
			}
		}
		tr, fro := 0.0, 0.0
		for _, m := range mu {
			tr += m
			fro += m * m
		}
		sh, err := topEigenmatrixShape(s, r, 7)
		if err != nil {
			t.Fatal(err)
		}
		checkRel(t, "effective rank", sh.effRank, tr*tr/fro, 1e-12)
		checkRel(t, "top share", sh.topShare, 1/tr, 1e-10)
		if math.Abs(sh.minEigRel-last) > min(1e-8, 1e-6*math.Abs(last)) || sh.status != "converged" || sh.minStatus != "converged" {
			t.Errorf("min eigenvalue / max %.12g, want %g (statuses %s %s)", sh.minEigRel, last, sh.status, sh.minStatus)
		}
		dot := 0.0
		for x := 0; x < r; x++ {
			dot += sh.top[x] * q[x*r]
		}
		if math.Abs(math.Abs(dot)-1) > 1e-9 {
			t.Errorf("top eigenvector: |<u, q_1>| = %.12g", math.Abs(dot))
		}
	}
	if _, err := topEigenmatrixShape(make([]float64, 4), 2, 1); err == nil {
		t.Error("zero matrix accepted")
	}
}
