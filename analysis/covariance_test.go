package analysis

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestCovarianceDirectSolve: the preconditioned conjugate-gradient solve of the covariance limit
// agrees with a direct solve of the same packed linear system (2I - eta A) Y =
// eta p C^{-1/2} S_g, its matrix built column by column from applications of A and solved by
// LU, on factored problems (full-rank and rank-deficient H, several batch sizes, eta up to
// 0.95 eta*, where the system is worst conditioned), to 1e-9: the solve stops at the relative
// residual 1e-11, and the three limits, weighted sums of the solution, agree to a few 1e-10
// (measured: up to 1.4e-10).
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
				const tol = 1e-9
				checkRel(t, "covariance trace", *rep.CovarianceTrace, tr, tol)
				checkRel(t, "expected loss", *rep.ExpectedLoss, loss, tol)
				checkRel(t, "expected grad norm^2", *rep.ExpectedGradNorm2, g2, tol)
			}
		}
	}
}
