package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestDiagA checks diagA against the diagonal of A itself, <e_k, A e_k> for every unit packed
// vector e_k (one application of A each), on a dense and a factored problem: equal on the
// diagonal pairs (a, a), and below it by exactly p (1/n) sum_i Hh_i[a,b]^2 / C_ab on the others
// (the term diagA leaves out; Hh_i formed densely here).
func TestDiagA(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	dense, err := newDenseProblem(randDense(rng, problemSpec{n: 7, d: 9, k: 2, sub: 6}), 1e-10)
	if err != nil {
		t.Fatal(err)
	}
	fact, err := newFactoredProblem(randFactored(rng, factoredSpec{n: 6, k: 2, d: 20, sub: 8, dead: 3, mRank: 2}), Options{}.WithDefaults(), pathAuto)
	if err != nil {
		t.Fatal(err)
	}
	for name, pr := range map[string]*problem{"dense": dense, "factored": fact} {
		r, n := pr.r, pr.n
		hh := make([][]float64, n) // Hh_i, r x r
		switch c := pr.curv.(type) {
		case *denseCurv:
			hh = c.h
		case *factCurv:
			for i := range hh {
				hh[i] = make([]float64, r*r)
				for a := 0; a < r; a++ {
					for b := 0; b < r; b++ {
						for x := 0; x < c.k; x++ {
							hh[i][a*r+b] += c.b[(i*c.k+x)*r+a] * c.b[(i*c.k+x)*r+b]
						}
					}
				}
			}
		}
		for _, p := range []float64{0, 0.3, 1} {
			o := newOperator(pr, p)
			got := o.diagA()
			e, ae := make([]float64, o.dim()), make([]float64, o.dim())
			k := 0
			for a := 0; a < r; a++ {
				for b := a; b < r; b++ {
					clear(e)
					e[k] = 1
					if err := o.applyA(ae, e); err != nil {
						t.Fatal(err)
					}
					want := ae[k]
					if a != b {
						s := 0.0
						for _, h := range hh {
							s += h[a*r+b] * h[a*r+b] / float64(n)
						}
						want -= p * s / ((pr.l[a] + pr.l[b]) / 2)
					}
					if math.Abs(got[k]-want) > 1e-12*ae[k] || got[k] > ae[k]*(1+1e-12) {
						t.Errorf("%s, p = %g, (%d,%d): diagA %.16g, want %.16g (A's diagonal %.16g)", name, p, a, b, got[k], want, ae[k])
					}
					k++
				}
			}
		}
	}
}

// TestCovarianceDirectSolve: the preconditioned conjugate-gradient solve of the covariance limit
// agrees to 1e-10 with a direct solve of the same packed linear system (2I - eta A) Y =
// eta p C^{-1/2} S_g, its matrix built column by column from applications of A and solved by
// LU, on factored problems (full-rank and rank-deficient H, several batch sizes, eta up to
// 0.95 eta*, where the system is worst conditioned).
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
				if err := rep.AddCovariance(eta); err != nil {
					t.Fatal(err)
				}
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
				checkRel(t, "covariance trace", *rep.CovarianceTrace, tr, 1e-10)
				checkRel(t, "expected loss", *rep.ExpectedLoss, loss, 1e-10)
				checkRel(t, "expected grad norm^2", *rep.ExpectedGradNorm2, g2, 1e-10)
			}
		}
	}
}
