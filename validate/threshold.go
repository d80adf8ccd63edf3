package validate

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func gen(rows, cols int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

// applyD sets dst = D(S) = (1-p) H S H + p (1/N) sum_i Hh_i S Hh_i for a symmetric R x R S
// (THEORY.md, Thm 3), with Hh_i = F_i^T F_i: W = F S, Y_i = (W_i F_i^T) F_i, sum = F^T Y.
// w and y are (N K) x R work buffers.
func (l *Linear) applyD(dst, s []float64, p float64, w, y []float64) {
	n, k, r := l.N, l.K, l.R
	nk := n * k
	for i := range dst[:r*r] {
		dst[i] = 0
	}
	if p > 0 {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(nk, r, l.F), gen(r, r, s), 0, gen(nk, r, w))
		z := make([]float64, k*k)
		for i := 0; i < n; i++ {
			fi := gen(k, r, l.block(i))
			blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(k, r, w[i*k*r:(i+1)*k*r]), fi, 0, gen(k, k, z))
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(k, k, z), fi, 0, gen(k, r, y[i*k*r:(i+1)*k*r]))
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, p/float64(n), gen(nk, r, l.F), gen(nk, r, y), 0, gen(r, r, dst))
	}
	for a := 0; a < r; a++ {
		for b := 0; b < r; b++ {
			dst[a*r+b] += (1 - p) * l.L[a] * l.L[b] * s[a*r+b]
		}
	}
	for a := 0; a < r; a++ { // symmetrize rounding
		for b := a + 1; b < r; b++ {
			m := (dst[a*r+b] + dst[b*r+a]) / 2
			dst[a*r+b], dst[b*r+a] = m, m
		}
	}
}

// Top is the top eigenpair of T = pinv(C) D (Thm 3, Thm 6) in the basis of a Linear.
type Top struct {
	// Lambda is the generalized sharpness lambda_gen (a Rayleigh quotient <S, D S> / <S, C S>,
	// hence a lower bound that converges to lambda_gen); EtaStar = 2 / Lambda.
	Lambda, EtaStar float64
	// S is the top eigenmatrix (R x R, symmetric PSD, trace 1).
	S []float64
	// Iterations of the power method, and Converged: whether the relative change of Lambda fell
	// below the tolerance. When it is false the iteration limit was reached first: Lambda is
	// still a lower bound on lambda_gen, but S is not the top eigenmatrix and 2 / Lambda
	// overestimates eta*; callers must flag such a result.
	Iterations int
	Converged  bool
}

// TopEigen runs the power method on T = pinv(C) D, C(S)_ab = (L_a + L_b)/2 S_ab, from the
// positive definite start diag(L) + L_1 e_1 e_1^T. T preserves the PSD cone and its top
// eigenvalue is also the largest in modulus (Thm 6), so the iterates stay PSD and converge to the
// top eigenmatrix. Stops when the Rayleigh quotient changes by less than tol (relative; Converged)
// or after maxIter applications (not Converged: the result reports it). Cost per iteration:
// about 4 N K R^2 flops. This power method is the validation's own computation of the top
// eigenmatrix, independent of package analysis's Lanczos and certificate, which it checks.
func (l *Linear) TopEigen(p float64, tol float64, maxIter int) (*Top, error) {
	l.check()
	if !(p >= 0 && p <= 1) {
		return nil, fmt.Errorf("validate: p = %v is outside [0, 1]", p)
	}
	if tol <= 0 {
		tol = 1e-10
	}
	if maxIter <= 0 {
		maxIter = 5000
	}
	r := l.R
	s := make([]float64, r*r)
	for a := 0; a < r; a++ {
		s[a*r+a] = l.L[a]
	}
	s[0] += l.L[0]
	ds := make([]float64, r*r)
	w := make([]float64, l.N*l.K*r)
	y := make([]float64, l.N*l.K*r)
	top := &Top{}
	prev := math.Inf(1)
	for it := 1; it <= maxIter; it++ {
		l.applyD(ds, s, p, w, y)
		num, den, tr := 0.0, 0.0, 0.0
		for a := 0; a < r; a++ {
			for b := 0; b < r; b++ {
				c := (l.L[a] + l.L[b]) / 2
				num += s[a*r+b] * ds[a*r+b]
				den += s[a*r+b] * c * s[a*r+b]
				ds[a*r+b] /= c // T(S) = pinv(C) D(S)
			}
			tr += ds[a*r+a]
		}
		if !(tr > 0) {
			return nil, fmt.Errorf("validate: power method on pinv(C) D lost positivity (trace %v)", tr)
		}
		lam := num / den
		for i := range s {
			s[i] = ds[i] / tr
		}
		top.Iterations = it
		top.Lambda = lam
		if math.Abs(lam-prev) <= tol*lam {
			top.Converged = true
			break
		}
		prev = lam
	}
	top.S = s
	top.EtaStar = 2 / top.Lambda
	return top, nil
}

// MeanSquareCurve is the exact counterpart of Growth for small problems: it returns
// log(tr Sigma_t / tr Sigma_0) for t = 0..steps, Sigma_{t+1} = Q(Sigma_t),
// Q(S) = S - eta (H S + S H) + eta^2 D(S) (Thm 2; tr Sigma_t = E||x_t||^2), Sigma_0 = s0.
// Cost 4 N K R^2 per step.
func (l *Linear) MeanSquareCurve(p, eta float64, s0 []float64, steps int) []float64 {
	l.check()
	r := l.R
	s := append([]float64(nil), s0...)
	ds := make([]float64, r*r)
	w := make([]float64, l.N*l.K*r)
	y := make([]float64, l.N*l.K*r)
	curve := make([]float64, steps+1)
	trOld := 0.0
	for a := 0; a < r; a++ {
		trOld += s[a*r+a]
	}
	for t := 1; t <= steps; t++ {
		l.applyD(ds, s, p, w, y)
		tr := 0.0
		for a := 0; a < r; a++ {
			for b := 0; b < r; b++ {
				ds[a*r+b] = s[a*r+b] - eta*(l.L[a]+l.L[b])*s[a*r+b] + eta*eta*ds[a*r+b]
			}
			tr += ds[a*r+a]
		}
		curve[t] = curve[t-1] + math.Log(tr/trOld)
		for i := range s {
			s[i] = ds[i] / tr
		}
		trOld = 1
	}
	return curve
}
