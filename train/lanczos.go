package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// lanczosOptions control lanczosTop; zero values mean the defaults.
type lanczosOptions struct {
	Tol     float64 // relative residual ||A y - theta y|| <= Tol |theta|; default 1e-8
	MaxIter int     // default min(n, 300)
	Seed    uint64  // start vector: uniform(-1, 1) entries from PCG(Seed, lanczosStream)
}

const lanczosStream = 0x6c616e63_7a6f7321

// lanczosTop returns the largest eigenvalue of the symmetric n x n operator mul (dst = A v) by the
// Lanczos iteration with full reorthogonalization. The residual norm of the top Ritz pair is
// beta_m |s_m| (the last component of its eigenvector in the Krylov basis times the next
// off-diagonal); the iteration stops when it is at most Tol |theta|, or when the Krylov space is
// invariant (beta = 0), and fails when MaxIter is reached first.
func lanczosTop(n int, mul func(dst, v []float64), opt lanczosOptions) (float64, error) {
	if opt.Tol == 0 {
		opt.Tol = 1e-8
	}
	if opt.MaxIter == 0 {
		opt.MaxIter = min(n, 300)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, lanczosStream))
	q := make([]float64, n)
	for i := range q {
		q[i] = 2*rng.Float64() - 1
	}
	scale(q, 1/math.Sqrt(dot(q, q)))
	var basis [][]float64
	var alpha, beta []float64
	w := make([]float64, n)
	theta := math.NaN()
	for it := 0; it < opt.MaxIter; it++ {
		basis = append(basis, q)
		mul(w, q)
		a := dot(w, q)
		alpha = append(alpha, a)
		// full reorthogonalization (twice is enough)
		for pass := 0; pass < 2; pass++ {
			for _, b := range basis {
				axpyScalar(w, -dot(w, b), b)
			}
		}
		bnext := math.Sqrt(dot(w, w))
		m := len(alpha)
		t := mat.NewSymDense(m, nil)
		for i := 0; i < m; i++ {
			t.SetSym(i, i, alpha[i])
			if i+1 < m {
				t.SetSym(i, i+1, beta[i])
			}
		}
		var eig mat.EigenSym
		if !eig.Factorize(t, true) {
			return math.NaN(), errors.New("lanczos: tridiagonal eigenproblem did not converge")
		}
		vals := eig.Values(nil)
		var vecs mat.Dense
		eig.VectorsTo(&vecs)
		theta = vals[m-1]
		resid := bnext * math.Abs(vecs.At(m-1, m-1))
		if math.IsNaN(theta) {
			return theta, errors.New("lanczos: NaN (operator returned non-finite values)")
		}
		if resid <= opt.Tol*math.Abs(theta) || bnext <= 1e-14*math.Abs(theta) || m == n {
			return theta, nil
		}
		beta = append(beta, bnext)
		q = make([]float64, n)
		for i := range w {
			q[i] = w[i] / bnext
		}
	}
	return theta, fmt.Errorf("lanczos: no convergence in %d iterations (last estimate %g)", opt.MaxIter, theta)
}

func scale(v []float64, s float64) {
	for i := range v {
		v[i] *= s
	}
}

func axpyScalar(dst []float64, s float64, x []float64) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += s * x[i]
	}
}
