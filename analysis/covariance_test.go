package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// TestCovarianceDirectSolve: the preconditioned conjugate-gradient solve of the covariance limit
// agrees with a direct solve of the same packed linear system (2I - eta A) Y =
// eta p C^{-1/2} S_g, its matrix built column by column from double-precision applications of
// A and solved by LU, on factored problems (full-rank and rank-deficient H, several batch sizes,
// eta up to 0.95 eta*, where the system is worst conditioned), to 1e-9: the solve stops at the
// relative residual 1e-11, and the three limits, weighted sums of the solution, agree to a few
// 1e-10 (measured: up to 1.4e-10). Both ways of solving are checked: every step in double
// precision, and the mixed-precision steps (single-precision sandwich, double-precision true
// residuals) that factored input of rank >= singleMinRank takes, here forced on the small
// problems; the mixed solve must report single-precision steps, at most 4 double-precision
// applications and the double-precision residual <= 1e-11.
func TestCovarianceDirectSolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	for _, spec := range []factoredSpec{
		{n: 12, k: 2, d: 40, sub: 14, dead: 4, mRank: 2},
		{n: 10, k: 3, d: 50, sub: 30, mRank: 3},
	} {
		f := randFactored(rng, spec)
		for _, b := range []int{1, 3} {
			for _, c := range []float64{0.3, 0.95} {
				rep, err := AnalyzeFactored(f, b, Options{})
				if err != nil {
					t.Fatal(err)
				}
				eta := c * 2 / rep.Bracket[1]
				pr := rep.pr
				r, n, sc := pr.r, pr.n, pr.scale
				gh := make([]float64, n*r)
				pr.space.project(gh, f.Gradients)
				sg := make([]float64, r*r)
				for i := 0; i < n; i++ {
					for a := 0; a < r; a++ {
						for bb := 0; bb < r; bb++ {
							sg[a*r+bb] += gh[i*r+a] * gh[i*r+bb] / (sc * sc * float64(n))
						}
					}
				}
				o := newOperator(pr, rep.P)
				dim, es := o.dim(), eta*sc
				m := mat.NewDense(dim, dim, nil)
				e, ae := make([]float64, dim), make([]float64, dim)
				for k := 0; k < dim; k++ {
					clear(e)
					e[k] = 1
					if err := o.applyA(ae, e); err != nil {
						t.Fatal(err)
					}
					for x := 0; x < dim; x++ {
						m.Set(x, k, e[x]*2-es*ae[x])
					}
				}
				rhs := make([]float64, dim)
				o.pack(rhs, sg, true)
				for x := range rhs {
					rhs[x] *= es * rep.P
				}
				var y mat.VecDense
				if err := y.SolveVec(m, mat.NewVecDense(dim, rhs)); err != nil {
					t.Fatal(err)
				}
				sigma := make([]float64, r*r)
				o.unpack(sigma, y.RawVector().Data, true)
				tr, loss, g2 := 0.0, 0.0, 0.0
				for a := 0; a < r; a++ {
					tr += sigma[a*r+a]
					loss += 0.5 * pr.l[a] * sigma[a*r+a] * sc
					g2 += pr.l[a] * pr.l[a] * sigma[a*r+a] * sc * sc
				}
				const tol = 1e-9
				for _, path := range []struct {
					name       string
					singleFrom int
				}{{"double", math.MaxInt}, {"mixed", 1}} {
					if err := rep.addCovariance(eta, path.singleFrom); err != nil {
						t.Fatal(err)
					}
					dg := rep.Diagnostics
					checkRel(t, path.name+": covariance trace", *rep.CovarianceTrace, tr, tol)
					checkRel(t, path.name+": expected loss", *rep.ExpectedLoss, loss, tol)
					checkRel(t, path.name+": expected grad norm^2", *rep.ExpectedGradNorm2, g2, tol)
					if !(dg.CovarianceResidual <= covTol) {
						t.Errorf("%s: residual %.3g > %.3g", path.name, dg.CovarianceResidual, covTol)
					}
					single := dg.CovarianceSingleApplications
					if path.name == "double" && (single != 0 || dg.CovarianceApplications != dg.CovarianceIterations+1) {
						t.Errorf("double: %d single and %d double applications in %d steps", single, dg.CovarianceApplications, dg.CovarianceIterations)
					}
					if path.name == "mixed" && (single != dg.CovarianceIterations || single == 0 || dg.CovarianceApplications > 4) {
						t.Errorf("mixed: %d single and %d double applications in %d steps", single, dg.CovarianceApplications, dg.CovarianceIterations)
					}
				}
			}
		}
	}
}

// TestMixedCG: mixedCG with a single-precision operator (K and x rounded to float32, the
// product in float32) and double-precision true residuals solves K y = b, K symmetric positive
// definite with eigenvalues in [0.1, 2] (the range of 2I - eta A up to eta = 0.95 eta*), to the
// accuracy of a double-precision solve: against an LU solve, ||y - y_LU|| <= 20 * 1e-11 ||y_LU||
// (condition number 20 times the residual tolerance), with the residual reported as
// ||b - K y|| / ||b|| recomputed here, using 2-4 double-precision applications. The control: the
// same solve with the float32 operator taken for exact (no double-precision residual) misses
// y_LU by more than 1e-8, so the tolerance tells the two apart; and a solve cut off after 3
// steps reports its true (large) residual.
func TestMixedCG(t *testing.T) {
	const n = 300
	rng := rand.New(rand.NewPCG(21, 22))
	qm := mat.NewDense(n, n, randOrtho(rng, n, n))
	lam := make([]float64, n)
	for i := range lam {
		lam[i] = 0.1 * math.Pow(20, float64(i)/(n-1))
	}
	var km mat.Dense
	km.Mul(qm, mat.NewDiagDense(n, lam))
	km.Mul(&km, qm.T())
	kd := km.RawMatrix().Data
	symmetrizeInto(kd, kd, n)
	k32 := make([]float32, n*n)
	for i, v := range kd {
		k32[i] = float32(v)
	}
	apply := func(dst, x []float64) (float64, error) {
		blas64.Gemv(blas.NoTrans, 1, gen(n, n, kd), vec(x), 0, vec(dst))
		return blas64.Dot(vec(x), vec(dst)), nil
	}
	x32, d32 := make([]float32, n), make([]float32, n)
	apply32 := func(dst, x []float64) (float64, error) {
		for i, v := range x {
			x32[i] = float32(v)
		}
		blas32.Gemv(blas.NoTrans, 1, blas32.General{Rows: n, Cols: n, Stride: n, Data: k32}, blas32.Vector{N: n, Inc: 1, Data: x32}, 0, blas32.Vector{N: n, Inc: 1, Data: d32})
		for i, v := range d32 {
			dst[i] = float64(v)
		}
		return blas64.Dot(vec(x), vec(dst)), nil
	}
	jacobi := func(dst, x []float64) float64 {
		for i, v := range x {
			dst[i] = v / kd[i*n+i]
		}
		return blas64.Dot(vec(x), vec(dst))
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	var want mat.VecDense
	if err := want.SolveVec(&km, mat.NewVecDense(n, b)); err != nil {
		t.Fatal(err)
	}
	relTo := func(y []float64) float64 {
		var e mat.VecDense
		e.SubVec(mat.NewVecDense(n, y), &want)
		return mat.Norm(&e, 2) / mat.Norm(&want, 2)
	}
	residual := func(y []float64) float64 {
		var r mat.VecDense
		r.MulVec(&km, mat.NewVecDense(n, y))
		r.SubVec(mat.NewVecDense(n, b), &r)
		return mat.Norm(&r, 2) / blas64.Nrm2(vec(b))
	}
	y := make([]float64, n)
	st, err := mixedCG(apply, apply32, jacobi, b, y, covTol, 600)
	if err != nil {
		t.Fatal(err)
	}
	if e := relTo(y); !(e <= 20*covTol) {
		t.Errorf("mixed: error %.3g against LU, want <= %.3g", e, 20*covTol)
	}
	if rr := residual(y); !(rr <= covTol) || math.Abs(rr-st.residual) > 1e-3*rr {
		t.Errorf("mixed: residual %.3g, reported %.3g, want both <= %.3g and equal", rr, st.residual, covTol)
	}
	if st.single != st.iterations || st.double < 2 || st.double > 4 {
		t.Errorf("mixed: %d single and %d double applications in %d steps", st.single, st.double, st.iterations)
	}
	t.Logf("mixed: %+v, error %.3g", st, relTo(y))
	// control: the float32 operator taken for exact
	yc := make([]float64, n)
	stc, err := mixedCG(apply32, nil, jacobi, b, yc, covTol, 600)
	if err != nil {
		t.Fatal(err)
	}
	if e := relTo(yc); !(e > 1e-8) {
		t.Errorf("control: single precision throughout is within %.3g of LU: the test cannot tell it from a double-precision solve", e)
	}
	t.Logf("control: %+v, error %.3g", stc, relTo(yc))
	// cut off: the reported residual is the true one
	stx, err := mixedCG(apply, apply32, jacobi, b, yc, covTol, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rr := residual(yc); stx.iterations != 3 || !(rr > covTol) || math.Abs(rr-stx.residual) > 1e-6*rr {
		t.Errorf("cut off after %d steps: residual %.3g, reported %.3g", stx.iterations, rr, stx.residual)
	}
}

// TestCovPreconditioner: the preconditioner's two-sweep form agrees with
// P = U diag(1/(2 - eta theta)) U^T + (I - U U^T) J^{-1} (I - U U^T) written out, with J
// recomputed here from its definition (2 - eta D(E_ab)_ab / c_ab, the sum of (H_i)_aa (H_i)_bb
// from H_i = B_i^T B_i in the basis), on random vectors, to 1e-12, and returns <x, P x>; the
// top Ritz pair (converged) is deflated.
func TestCovPreconditioner(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	f := randFactored(rng, factoredSpec{n: 12, k: 2, d: 40, sub: 14, dead: 4, mRank: 2})
	rep, err := AnalyzeFactored(f, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pr, p := rep.pr, rep.P
	eta := 0.9 * 2 / rep.gen.value
	o := newOperator(pr, p)
	prec, err := covPreconditioner(pr, o, p, eta, rep.gen)
	if err != nil {
		t.Fatal(err)
	}
	r, n, k, l := pr.r, pr.n, pr.curv.(*factCurv).k, pr.l
	bm := pr.curv.(*factCurv).b
	hd := make([]float64, n*r) // (H_i)_aa
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			for a := 0; a < r; a++ {
				v := bm[(i*k+c)*r+a]
				hd[i*r+a] += v * v
			}
		}
	}
	dim := o.dim()
	jinv := make([]float64, dim)
	x := 0
	for a := 0; a < r; a++ {
		for b := a; b < r; b++ {
			s := 0.0
			for i := 0; i < n; i++ {
				s += hd[i*r+a] * hd[i*r+b] / float64(n)
			}
			jinv[x] = 1 / (2 - eta*((1-p)*l[a]*l[b]+p*s)/((l[a]+l[b])/2))
			x++
		}
	}
	var pairs []linalg.RitzPair[float64]
	for _, rp := range rep.gen.pairs {
		if rp.Residual <= covPairResidual*rp.Value {
			pairs = append(pairs, rp)
		}
	}
	if len(pairs) == 0 || pairs[0].Value != rep.gen.pairs[0].Value {
		t.Fatalf("deflated pairs %v: want the top one among them", pairs)
	}
	proj := func(v []float64) { // v = (I - U U^T) v
		for _, rp := range pairs {
			blas64.Axpy(-blas64.Dot(vec(rp.Vector), vec(v)), vec(rp.Vector), vec(v))
		}
	}
	for trial := 0; trial < 3; trial++ {
		xv := make([]float64, dim)
		for i := range xv {
			xv[i] = rng.NormFloat64()
		}
		want := append([]float64(nil), xv...)
		proj(want)
		for i := range want {
			want[i] *= jinv[i]
		}
		proj(want)
		for _, rp := range pairs {
			blas64.Axpy(blas64.Dot(vec(rp.Vector), vec(xv))/(2-eta*rp.Value), vec(rp.Vector), vec(want))
		}
		got := make([]float64, dim)
		xpx := prec(got, xv)
		diff := 0.0
		for i := range got {
			diff = math.Max(diff, math.Abs(got[i]-want[i]))
		}
		if s := blas64.Nrm2(vec(want)); !(diff <= 1e-12*s) {
			t.Errorf("P x differs by %.3g (|P x| = %.3g)", diff, s)
		}
		checkRel(t, "<x, P x>", xpx, blas64.Dot(vec(xv), vec(want)), 1e-12)
	}
}
