package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// covResult is the covariance limit of Thm 5 for a regular minimum and the three limits of
// Cor. 1, all on range(H).
type covResult struct {
	sigma                  []float64 // r x r: lim Sigma_perp = eta p pinv(2C - eta D) S_g (basis coordinates)
	trace, loss, gradNorm2 float64   // E||P(w-w*)||^2, E[Ltilde] - L(w*), E||grad Ltilde||^2
	cg                     cgStats
	noiseTrace             float64 // trace(S_g)
}

// covTol is the relative residual ||b - K y|| / ||b|| (K applied in double precision) at which
// the covariance solve stops.
const covTol = 1e-11

// covReliable is the drop of the recursive residual, relative to the largest one since the
// last true residual, at which the mixed-precision solve replaces it by the true residual
// b - K y (one double-precision application). The single-precision products (relative error
// about 1e-6) make the recursive residual drift from the true one by about 1e-6 times that
// largest residual, so at a drop of 1e-4 it is still accurate to about 1 % and the replacement
// disturbs the iteration little: three double-precision applications on the way to covTol
// (at about 1e-4, 1e-8 and the end). Measured at the paper's size, h = 20: 15 single-precision
// steps + 3 double-precision applications at 1e-4, in both builds, as many steps as the
// double-precision solve (15 + 1 applications); at 3e-6 (one replacement halfway), 16 + 2 with
// OpenBLAS but 19 + 2 in pure Go, whose rounding disturbed the steps after the replacement more
// (the Polak-Ribiere form of beta after a replacement did not help: 16 + 2 and 23 + 2).
const covReliable = 1e-4

// covPairResidual selects the Ritz pairs (theta, u) of A that the covariance preconditioner
// deflates: those with ||A u - theta u|| <= covPairResidual theta (converged ones; at the
// paper's size only the top pair, residual 1e-8 relative, while the next five are at 2-70 %
// and saved no step with the diagonal preconditioner, for 4 more vector reads per step each).
const covPairResidual = 1e-2

// covariance solves (2C - eta D) Sigma = eta p S_g with S_g = (1/n) sum_i P g_i g_i^T P (Thm 5),
// by preconditioned conjugate gradients on the symmetric positive definite form
// K Y = (2I - eta A) Y = eta p C^{-1/2} S_g, Sigma = C^{-1/2} Y (K is positive definite for
// eta < 2/lambda_gen); then trace(Sigma), (1/2) trace(H Sigma) and trace(H^2 Sigma) are the
// limits of Cor. 1.
//
// The preconditioner (covPreconditioner) inverts K exactly on the top Ritz vectors of A from the
// generalized sharpness and approximately (its diagonal) on their complement. For curvature
// with a single-precision sandwich and rank r >= singleFrom, the iterations apply K with D's
// large products in single precision and the recursive residual is replaced by the true one,
// computed in double precision, whenever it has dropped by covReliable (mixedCG); the solve
// ends only when a double-precision residual is below covTol, so the accuracy is that of the
// double-precision solve. maxIter caps the iterations.
func covariance(pr *problem, p, eta float64, gh []float64, gen *genResult, maxIter, singleFrom int) (*covResult, error) {
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
	y := make([]float64, dim)
	res.sigma = make([]float64, r*r)
	if blas64.Nrm2(vec(rhs)) == 0 {
		return res, nil
	}
	if shift := 2 - eta*gen.value; shift <= 0 {
		return nil, fmt.Errorf("analysis: eta = %g is not below eta* = %g", eta, 2/gen.value)
	}
	opK := func(o *operator) cgOperator {
		return func(dst, x []float64) (float64, error) {
			if err := o.applyA(dst, x); err != nil {
				return 0, fmt.Errorf("analysis: covariance limit: %w", err)
			}
			xkx := 0.0
			for i, v := range x {
				kx := 2*v - eta*dst[i]
				dst[i] = kx
				xkx += v * kx
			}
			return xkx, nil
		}
	}
	var k32 cgOperator
	if c32, ok := pr.curv.(singleSandwich); ok && r >= singleFrom {
		o32 := *o // the same cm12 and work space: the two are never applied at once
		o32.single = c32
		k32 = opK(&o32)
	}
	prec, err := covPreconditioner(pr, o, p, eta, gen)
	if err != nil {
		return nil, err
	}
	if res.cg, err = mixedCG(opK(o), k32, prec, rhs, y, covTol, maxIter); err != nil {
		return nil, err
	}
	o.unpack(res.sigma, y, true)
	for a := 0; a < r; a++ {
		s := res.sigma[a*r+a]
		res.trace += s
		res.loss += 0.5 * pr.l[a] * s
		res.gradNorm2 += pr.l[a] * pr.l[a] * s
	}
	return res, nil
}

// covPreconditioner returns the preconditioner of K = 2I - eta A for the covariance solve,
//
//	P = U diag(1/(2 - eta theta_j)) U^T + (I - U U^T) J^{-1} (I - U U^T),
//
// symmetric positive definite, with U the converged top Ritz vectors u_j of A (orthonormal,
// values theta_j < 2/eta; see covPairResidual) from the generalized sharpness' last Lanczos
// basis, and J an approximation of K's diagonal: at the packed coordinate (a, b), the diagonal
// of A is D(E_ab)_ab / c_ab with c_ab = (l_a + l_b)/2 and
// D(E_ab)_ab = (1-p) l_a l_b + p (1/n) sum_i [(H_i)_aa (H_i)_bb + (H_i)_ab^2] (a != b;
// (1/n) sum_i (H_i)_aa^2 for a = b); J keeps the first term of the sum, one rank-n product of
// the diagonals (H_i)_aa, and is exact for a = b. With W = J^{-1} U and M = U^T W (precomputed),
// c = U^T x and e = diag(1/(2 - eta theta)) c - (W^T x - M c),
//
//	P x = J^{-1} x - W c + U e,
//
// two sweeps over the vectors. (Measured at the paper's size, in double precision: 15 steps
// to the residual 1e-11 with the exact diagonal and with this one, the top pair deflated, 14
// with all six pairs; with J = 2I, 18 and 16, the latter the preconditioner before.)
func covPreconditioner(pr *problem, o *operator, p, eta float64, gr *genResult) (cgPreconditioner, error) {
	r, n, l := pr.r, pr.n, pr.l
	q := make([]float64, n*r)
	pr.curv.diagonals(q)
	qq := make([]float64, r*r)
	blas64.Syrk(blas.Trans, 1/float64(n), gen(n, r, q), 0, blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: qq})
	dim := o.dim()
	jinv := make([]float64, dim)
	x := 0
	for a := 0; a < r; a++ {
		for b := a; b < r; b++ {
			d := (1-p)*l[a]*l[b] + p*qq[a*r+b]
			k := 2 - eta*d/((l[a]+l[b])/2)
			if !(k > 0) {
				// the diagonal of the positive definite K is positive; an approximation that is
				// not falls back to the scale of K's identity part
				k = 2
			}
			jinv[x] = 1 / k
			x++
		}
	}
	var u, w [][]float64
	var cs []float64
	for _, rp := range gr.pairs {
		sh := 2 - eta*rp.Value
		if sh <= 0 {
			return nil, fmt.Errorf("analysis: eta = %g is not below 2/theta = %g for a Ritz value theta of pinv(C) D", eta, 2/rp.Value)
		}
		if rp.Residual <= covPairResidual*rp.Value {
			wj := make([]float64, dim)
			for i, v := range rp.Vector {
				wj[i] = jinv[i] * v
			}
			u, w, cs = append(u, rp.Vector), append(w, wj), append(cs, 1/sh)
		}
	}
	m := len(u)
	mm := make([]float64, m*m) // M = U^T W
	for j := range u {
		linalg.Dots(mm[j*m:(j+1)*m], w, u[j])
	}
	c, e := make([]float64, m), make([]float64, m)
	return func(dst, x []float64) float64 {
		linalg.Dots(c, u, x)
		linalg.Dots(e, w, x)
		for j := range e {
			mc := 0.0
			for i, v := range c {
				mc += mm[j*m+i] * v
			}
			e[j] = cs[j]*c[j] - (e[j] - mc)
		}
		xpx := 0.0
		for i0 := 0; i0 < len(x); i0 += vecChunk {
			i1 := min(i0+vecChunk, len(x))
			dc, xc := dst[i0:i1], x[i0:i1]
			for i, v := range jinv[i0:i1] {
				dc[i] = v * xc[i]
			}
			for j := range u {
				blas64.Axpy(-c[j], vec(w[j][i0:i1]), vec(dc))
				blas64.Axpy(e[j], vec(u[j][i0:i1]), vec(dc))
			}
			xpx += blas64.Dot(vec(xc), vec(dc))
		}
		return xpx
	}, nil
}

// vecChunk is the length of the pieces in which the preconditioner sweeps several vectors at
// once (so that a piece of each stays in cache).
const vecChunk = 4096

// cgOperator sets dst = K x and returns <x, K x>.
type cgOperator func(dst, x []float64) (float64, error)

// cgPreconditioner sets dst = P x and returns <x, P x>.
type cgPreconditioner func(dst, x []float64) float64

// cgStats describes a mixedCG solve.
type cgStats struct {
	iterations int     // conjugate-gradient steps
	double     int     // applications of K in double precision (true residuals)
	single     int     // applications of K with single-precision products
	residual   float64 // ||b - K y|| / ||b||, K in double precision
}

// mixedCG solves K y = b for a symmetric positive definite K by preconditioned conjugate
// gradients (prec: a symmetric positive definite approximation of K^{-1}), from y = 0 (y is
// overwritten), until the true relative residual ||b - K y|| / ||b||, with K applied in double
// precision (k), is at most tol, or maxIter steps.
//
// Without k32 the steps apply k, and the true residual is computed when the recursive one r
// falls below tol. With k32 (K with single-precision products, relative error about 1e-6) the
// steps apply k32, and r is replaced by the true residual b - K y (reliable updates, Sleijpen
// and van der Vorst 1996; the search direction is kept, so the Krylov space built so far is not
// lost) whenever it has dropped to covReliable times its largest norm rmax since the last
// replacement, or when ||r|| + eps rmax <= tol, where eps = ||r - (b - K y)|| / rmax is the drift
// measured at the last replacement (the predicted distance of r from the true residual).
// Either way the solve ends on a true residual; if one is above tol although the prediction
// was below it, the steps go on from the true residual (at most covRecheck times; after that
// the residual is reported as it is).
func mixedCG(k, k32 cgOperator, prec cgPreconditioner, b, y []float64, tol float64, maxIter int) (cgStats, error) {
	var st cgStats
	dim := len(b)
	clear(y)
	bn := blas64.Nrm2(vec(b))
	if bn == 0 {
		return st, nil
	}
	tol *= bn
	r := append([]float64(nil), b...)
	z := make([]float64, dim)
	rz := prec(z, r)
	d := append([]float64(nil), z...)
	kd := make([]float64, dim)
	rn := bn
	isTrue := true // r is the true residual of y
	rmax := rn     // largest norm of r since the last true residual
	eps := 0.0     // drift of r per unit of rmax, measured at the last true residual
	rechecks := 0
	for !(isTrue && rn <= tol) && st.iterations < maxIter {
		st.iterations++
		step := k
		if k32 != nil {
			step = k32
			st.single++
		} else {
			st.double++
		}
		dkd, err := step(kd, d)
		if err != nil {
			return st, err
		}
		alpha := rz / dkd
		// y += alpha d, r -= alpha K d, and ||r||, in one sweep
		rn = 0
		for i, v := range d {
			y[i] += alpha * v
			ri := r[i] - alpha*kd[i]
			r[i] = ri
			rn += ri * ri
		}
		rn = math.Sqrt(rn)
		isTrue = false
		rmax = math.Max(rmax, rn)
		if predicted := rn+eps*rmax <= tol; predicted || (k32 != nil && rn <= covReliable*rmax) {
			gap, err := trueResidual(k, r, b, y, kd, &st)
			if err != nil {
				return st, err
			}
			if k32 != nil {
				eps = gap / rmax
			}
			isTrue = true
			rn = blas64.Nrm2(vec(r))
			rmax = rn
			if rn <= tol {
				break
			}
			if predicted {
				if rechecks++; rechecks > covRecheck {
					break
				}
			}
		}
		rzNew := prec(z, r)
		beta := rzNew / rz
		rz = rzNew
		for i, v := range z {
			d[i] = v + beta*d[i]
		}
	}
	if !isTrue {
		if _, err := trueResidual(k, r, b, y, kd, &st); err != nil {
			return st, err
		}
		rn = blas64.Nrm2(vec(r))
	}
	st.residual = rn / bn
	return st, nil
}

// covRecheck is the number of times mixedCG goes on after a true residual above tol where the
// recursive one predicted it below.
const covRecheck = 3

// trueResidual replaces r by b - K y (K = k, in double precision; work: a vector of len(b)) and
// returns ||r_old - r_new||.
func trueResidual(k cgOperator, r, b, y, work []float64, st *cgStats) (float64, error) {
	st.double++
	if _, err := k(work, y); err != nil {
		return 0, err
	}
	gap := 0.0
	for i, v := range b {
		t := v - work[i]
		gap += (t - r[i]) * (t - r[i])
		r[i] = t
	}
	return math.Sqrt(gap), nil
}
