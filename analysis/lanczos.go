package analysis

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// lanczos finds the largest eigenvalue of a symmetric operator on R^dim by the Lanczos method
// with full reorthogonalization (classical Gram-Schmidt, repeated once if needed) and explicit restarts from the
// current Ritz vector when the basis holds maxBasis vectors.
type lanczos struct {
	dim      int
	apply    func(dst, x []float64) // dst = A x
	maxBasis int

	q      []float64 // maxBasis x dim
	alpha  []float64
	beta   []float64
	m      int // vectors in the basis
	w      []float64
	h      []float64
	applys int // total operator applications
	broke  bool
}

type ritz struct {
	value    float64
	resid    float64 // ||A x - value x|| (Lanczos estimate beta_m |y_m|)
	vector   []float64
	converge bool
}

func newLanczos(dim int, apply func(dst, x []float64), maxBasis int) *lanczos {
	if maxBasis > dim {
		maxBasis = dim
	}
	if maxBasis < 1 {
		maxBasis = 1
	}
	return &lanczos{dim: dim, apply: apply, maxBasis: maxBasis,
		q: make([]float64, maxBasis*dim), w: make([]float64, dim), h: make([]float64, maxBasis)}
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }

// start resets the basis to x0 / ||x0||.
func (l *lanczos) start(x0 []float64) {
	nrm := blas64.Nrm2(vec(x0))
	q0 := l.q[:l.dim]
	copy(q0, x0)
	blas64.Scal(1/nrm, vec(q0))
	l.m = 1
	l.alpha = l.alpha[:0]
	l.beta = l.beta[:0]
	l.broke = false
}

// full reports whether the basis cannot grow (restart needed to continue).
func (l *lanczos) full() bool { return l.broke || len(l.alpha) == l.m }

// run extends the Krylov basis until the top Ritz pair has residual <= tol * |value|, the basis is
// full or the budget of operator applications is spent, and returns the top Ritz pair.
func (l *lanczos) run(tol float64, budget int) ritz {
	for {
		if l.broke || len(l.alpha) == l.m || budget <= 0 {
			return l.ritz(tol, true)
		}
		j := l.m - 1
		qj := l.q[j*l.dim : (j+1)*l.dim]
		l.apply(l.w, qj)
		l.applys++
		budget--
		a := blas64.Dot(vec(l.w), vec(qj))
		l.alpha = append(l.alpha, a)
		// reorthogonalize against the whole basis, twice
		qb := blas64.General{Rows: l.m, Cols: l.dim, Stride: l.dim, Data: l.q[:l.m*l.dim]}
		// classical Gram-Schmidt, repeated when it cancelled much ("twice is enough")
		before := blas64.Nrm2(vec(l.w))
		var b float64
		for pass := 0; pass < 2; pass++ {
			h := vec(l.h[:l.m])
			blas64.Gemv(blas.NoTrans, 1, qb, vec(l.w), 0, h)
			blas64.Gemv(blas.Trans, -1, qb, h, 1, vec(l.w))
			b = blas64.Nrm2(vec(l.w))
			if b > 0.7*before {
				break
			}
			before = b
		}
		l.beta = append(l.beta, b)
		scale := math.Abs(a)
		for _, x := range l.alpha {
			scale = math.Max(scale, math.Abs(x))
		}
		if b <= 1e-14*scale || l.m == l.dim {
			l.broke = true // invariant subspace: the Ritz values are exact
			return l.ritz(tol, true)
		}
		if l.m < l.maxBasis {
			next := l.q[l.m*l.dim : (l.m+1)*l.dim]
			copy(next, l.w)
			blas64.Scal(1/b, vec(next))
			l.m++
		}
		if rz := l.ritz(tol, false); rz.converge {
			return l.ritz(tol, true)
		}
	}
}

// ritz computes the top Ritz pair of the current tridiagonal matrix (and the vector if wanted).
func (l *lanczos) ritz(tol float64, wantVector bool) ritz {
	m := len(l.alpha)
	if m == 0 {
		return ritz{}
	}
	t := make([]float64, m*m)
	for i := 0; i < m; i++ {
		t[i*m+i] = l.alpha[i]
		if i+1 < m {
			t[i*m+i+1] = l.beta[i]
			t[(i+1)*m+i] = l.beta[i]
		}
	}
	ev := make([]float64, m)
	if err := linalg.EigSym(m, t, ev, true); err != nil {
		panic(err)
	}
	y := t[(m-1)*m : m*m]
	res := ritz{value: ev[m-1], resid: math.Abs(l.beta[m-1] * y[m-1])}
	if l.broke {
		res.resid = 0
	}
	res.converge = res.resid <= tol*math.Abs(res.value)
	if wantVector {
		x := make([]float64, l.dim)
		blas64.Gemv(blas.Trans, 1, blas64.General{Rows: m, Cols: l.dim, Stride: l.dim, Data: l.q[:m*l.dim]}, vec(y), 0, vec(x))
		res.vector = x
	}
	return res
}
