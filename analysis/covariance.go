package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// covResult is the covariance limit of Thm 5 for a regular minimum and the three limits of
// Cor. 1, all on range(H).
type covResult struct {
	sigma                  []float64 // r x r: lim Sigma_perp = eta p pinv(2C - eta D) S_g (basis coordinates)
	trace, loss, gradNorm2 float64   // E||P(w-w*)||^2, E[Ltilde] - L(w*), E||grad Ltilde||^2
	iterations             int
	residual               float64 // relative residual of the solve
	noiseTrace             float64 // trace(S_g)
}

// covariance solves (2C - eta D) Sigma = eta p S_g with S_g = (1/n) sum_i P g_i g_i^T P, by
// preconditioned conjugate gradients on the symmetric positive definite form
// (2I - eta A) Y = eta p C^{-1/2} S_g, Sigma = C^{-1/2} Y (2I - eta A is positive definite for
// eta < 2/lambda_gen). The preconditioner inverts the operator on the top Ritz vectors of A from
// the generalized sharpness (deflatePairs of them), so the iteration count depends on the
// eigenvalues of A below those, not on the distance to eta*.
// Then trace(Sigma), (1/2) trace(H Sigma) and trace(H^2 Sigma) are the limits of Cor. 1.
func covariance(pr *problem, p, eta float64, gh []float64, gen *genResult, maxIter int) (*covResult, error) {
	r, n := pr.r, pr.n
	o := newOperator(pr, p)
	// S_g = (1/n) Gh^T Gh for the n x r matrix Gh of projected gradients (one rank-n update)
	sg := make([]float64, r*r)
	blas64.Syrk(blas.Trans, 1/float64(n), blas64.General{Rows: n, Cols: r, Stride: r, Data: gh[:n*r]}, 0, blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: sg})
	mirrorUpper(sg, r)
	res := &covResult{}
	for a := 0; a < r; a++ {
		res.noiseTrace += sg[a*r+a]
	}
	dim := o.dim()
	rhs := make([]float64, dim)
	o.pack(rhs, sg, true)
	blas64.Scal(eta*p, vec(rhs))
	bn := blas64.Nrm2(vec(rhs))
	y := make([]float64, dim)
	res.sigma = make([]float64, r*r)
	if bn == 0 {
		return res, nil
	}
	op := func(dst, x []float64) error {
		if err := o.applyA(dst, x); err != nil {
			return fmt.Errorf("analysis: covariance limit: %w", err)
		}
		for i := range dst {
			dst[i] = 2*x[i] - eta*dst[i]
		}
		return nil
	}
	// preconditioner: 2I - eta A inverted exactly on the top Ritz vectors u_j of the generalized
	// sharpness' last Lanczos basis (orthonormal), 1/2 on their complement:
	// P = I/2 + sum_j (1/(2 - eta theta_j) - 1/2) u_j u_j^T, positive definite as theta_j < 2/eta.
	if shift := 2 - eta*gen.value; shift <= 0 {
		return nil, fmt.Errorf("analysis: eta = %g is not below eta* = %g", eta, 2/gen.value)
	}
	cs := make([]float64, len(gen.pairs))
	for j, rp := range gen.pairs {
		sh := 2 - eta*rp.Value
		if sh <= 0 {
			return nil, fmt.Errorf("analysis: eta = %g is not below 2/theta = %g for a Ritz value theta of pinv(C) D", eta, 2/rp.Value)
		}
		cs[j] = 1/sh - 0.5
	}
	prec := func(dst, x []float64) {
		for i := range dst {
			dst[i] = 0.5 * x[i]
		}
		for j, rp := range gen.pairs {
			u := vec(rp.Vector)
			blas64.Axpy(cs[j]*blas64.Dot(u, vec(x)), u, vec(dst))
		}
	}
	res0 := append([]float64(nil), rhs...)
	z := make([]float64, dim)
	prec(z, res0)
	d := append([]float64(nil), z...)
	ad := make([]float64, dim)
	rz := blas64.Dot(vec(res0), vec(z))
	tol := 1e-11 * bn
	for it := 0; it < maxIter; it++ {
		if blas64.Nrm2(vec(res0)) <= tol {
			break
		}
		res.iterations++
		if err := op(ad, d); err != nil {
			return nil, err
		}
		alpha := rz / blas64.Dot(vec(d), vec(ad))
		blas64.Axpy(alpha, vec(d), vec(y))
		blas64.Axpy(-alpha, vec(ad), vec(res0))
		prec(z, res0)
		rzNew := blas64.Dot(vec(res0), vec(z))
		beta := rzNew / rz
		rz = rzNew
		for i := range d {
			d[i] = z[i] + beta*d[i]
		}
	}
	// true residual
	if err := op(ad, y); err != nil {
		return nil, err
	}
	rn := 0.0
	for i := range ad {
		e := ad[i] - rhs[i]
		rn += e * e
	}
	res.residual = math.Sqrt(rn) / bn
	o.unpack(res.sigma, y, true)
	for a := 0; a < r; a++ {
		s := res.sigma[a*r+a]
		res.trace += s
		res.loss += 0.5 * pr.l[a] * s
		res.gradNorm2 += pr.l[a] * pr.l[a] * s
	}
	return res, nil
}
