package linalg

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type of the vectors of [Lanczos] and of the basis operations ([Dots],
// [AddCombination]): float64, or float32 for an operator applied in single precision, whose
// basis then takes half the memory and half the passes' traffic (the dot products are still
// summed in float64).
type Float interface{ float32 | float64 }

// Status is how an iterative computation ended.
type Status string

// Statuses of the iterative computations (their JSON spelling in the analysis diagnostics).
const (
	Converged      Status = "converged"       // the stopping rule was met
	IterationLimit Status = "iteration_limit" // the budget of iterations ran out first
)

// Lanczos finds the largest eigenvalue of a symmetric operator A on R^dim by the Lanczos method
// with full reorthogonalization (classical Gram-Schmidt, repeated once when it cancelled much:
// "twice is enough") and explicit restarts from the current Ritz vector when the basis holds
// maxBasis vectors ([Lanczos.Start] again, see [LanczosTop]). The vectors are of type T (Float);
// the tridiagonal matrix and the Ritz values are float64. The top Ritz pair (theta, x) of
// the tridiagonal matrix T_m = Q_m^T A Q_m has residual ||A x - theta x|| = beta_m |y_m|
// (y the eigenvector of T_m, beta_m the next off-diagonal); an invariant Krylov space
// (beta_m <= 1e-14 max |alpha|, or m = dim) makes the Ritz values exact.
type Lanczos[T Float] struct {
	dim      int
	apply    func(dst, x []T) error // dst = A x
	maxBasis int

	q      [][]T // the basis vectors q_0, ..., q_{m-1} (allocated as the basis grows, kept across restarts)
	alpha  []float64
	beta   []float64
	m      int // vectors in the basis
	w      []T
	h      []float64
	applys int // total operator applications
	broke  bool
}

// Ritz is the top Ritz pair of a Lanczos basis.
type Ritz[T Float] struct {
	Value    float64
	Residual float64 // ||A x - Value x||, the Lanczos estimate beta_m |y_m| (0 when invariant)
	Vector   []T     // unit Ritz vector x (when asked for)
	// Image is A x from the Lanczos relation A Q_m = Q_m T_m + w e_m^T (w = beta_m q_{m+1}):
	// A x = Value x + y_m w, exact up to rounding (of order eps ||A|| sqrt(m)) without another
	// application of A (with Vector).
	Image []T
	// Converged: Residual <= tol |Value| for the tolerance of the run.
	Converged bool
}

// NewLanczos returns a Lanczos iteration for the operator apply (dst = A x, A symmetric on
// R^dim) keeping at most maxBasis vectors (clamped to 1..dim). An error of apply stops the
// iteration and is returned by [Lanczos.Run] with context.
func NewLanczos[T Float](dim int, apply func(dst, x []T) error, maxBasis int) *Lanczos[T] {
	if dim < 1 {
		panic(fmt.Sprintf("linalg: Lanczos on dimension %d", dim))
	}
	maxBasis = max(1, min(maxBasis, dim))
	return &Lanczos[T]{dim: dim, apply: apply, maxBasis: maxBasis, w: make([]T, dim), h: make([]float64, maxBasis+2)}
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }

// Start resets the basis to x0 / ||x0||. It panics if len(x0) != dim and returns an error if
// x0 is zero or not finite.
func (l *Lanczos[T]) Start(x0 []T) error {
	if len(x0) != l.dim {
		panic(fmt.Sprintf("linalg: Lanczos start vector of length %d, want %d", len(x0), l.dim))
	}
	nrm := nrm2(x0)
	if !(nrm > 0) || math.IsInf(nrm, 0) {
		return fmt.Errorf("linalg: Lanczos start vector has norm %v", nrm)
	}
	if len(l.q) == 0 {
		l.q = append(l.q, make([]T, l.dim))
	}
	scaledCopy(l.q[0], x0, 1/nrm)
	l.m = 1
	l.alpha = l.alpha[:0]
	l.beta = l.beta[:0]
	l.broke = false
	return nil
}

// Full reports whether the basis cannot grow (a restart is needed to continue).
func (l *Lanczos[T]) Full() bool { return l.broke || len(l.alpha) == l.m }

// Invariant reports whether the Krylov space became invariant (the Ritz values are exact).
func (l *Lanczos[T]) Invariant() bool { return l.broke }

// Applications returns the number of operator applications so far, restarts included.
func (l *Lanczos[T]) Applications() int { return l.applys }

// Run extends the Krylov basis until the top Ritz pair has residual <= tol |value|, the basis is
// full or budget operator applications are spent, and returns the top Ritz pair with its vector.
func (l *Lanczos[T]) Run(tol float64, budget int) (Ritz[T], error) {
	if l.m == 0 {
		return Ritz[T]{}, errors.New("linalg: Lanczos run before Start")
	}
	for {
		if l.broke || len(l.alpha) == l.m || budget <= 0 {
			return l.ritz(tol, true)
		}
		j := l.m - 1
		qj := l.q[j]
		if err := l.apply(l.w, qj); err != nil {
			return Ritz[T]{}, fmt.Errorf("linalg: Lanczos, application %d of the operator: %w", l.applys+1, err)
		}
		l.applys++
		budget--
		// Orthogonalization: the three-term recurrence first (w minus its projections on q_{j-1}
		// and q_j; alpha_j is the second), then classical Gram-Schmidt against the whole basis,
		// repeated once when it cancelled much ("twice is enough"): one pass over the whole basis
		// in general, where Gram-Schmidt from the start cancels most of w in its first pass and
		// needs two. The recurrence's subtraction and the first Gram-Schmidt pass's dot products
		// share one pass over w (subtractDots), since the passes over these long vectors, not
		// their arithmetic, are what the orthogonalization costs.
		local := l.q[max(0, j-1) : j+1]
		h0 := l.h[:len(local)]
		Dots(h0, local, l.w)
		a := h0[len(h0)-1]
		l.alpha = append(l.alpha, a)
		for i := range h0 {
			h0[i] = -h0[i]
		}
		qs := l.q[:l.m]
		h := l.h[len(local) : len(local)+len(qs)]
		before := subtractDots(l.w, local, h0, h, qs)
		var b float64
		for pass := 1; pass < 3; pass++ {
			if pass > 1 {
				Dots(h, qs, l.w)
			}
			for i := range h {
				h[i] = -h[i]
			}
			b = AddCombination(l.w, qs, h)
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
			if len(l.q) == l.m {
				l.q = append(l.q, make([]T, l.dim))
			}
			scaledCopy(l.q[l.m], l.w, 1/b)
			l.m++
		}
		rz, err := l.ritz(tol, false)
		if err != nil {
			return rz, err
		}
		if rz.Converged {
			return l.ritz(tol, true)
		}
	}
}

// residual is ||A x - theta x|| = beta_m |y_m| for the Ritz pair with coordinates y (an
// eigenvector of T_m); 0 when the Krylov space is invariant.
func (l *Lanczos[T]) residual(y []float64) float64 {
	if l.broke {
		return 0
	}
	return math.Abs(l.beta[len(y)-1] * y[len(y)-1])
}

// combine returns Q_m y = sum_i y_i q_i for the coordinates y (length m) in the basis.
func (l *Lanczos[T]) combine(y []float64) []T {
	x := make([]T, l.dim)
	AddCombination(x, l.q[:len(y)], y)
	return x
}

// basisChunk is the length of the pieces into which Dots and AddCombination cut float64 vectors:
// a piece of the vector (16 kB) stays in L1 while the pieces of all the other vectors stream
// past it, so that an operation with a whole basis reads each basis vector once and the vector
// itself once (a dot or axpy call per basis vector reads the vector every time). Float32
// vectors are cut into pieces of basisChunk32 (32 kB), and their dot products are float64 sums
// of the (exact) float64 products, by gonum's assembly Dsdot in every backend: 1.6x faster than
// Dot's loop on float64 vectors, where the same loop in Go on float32 vectors is 2x slower than
// Dot. (OpenBLAS 0.3.21's Dsdot is faster still, but sums blocks of 32 products in float32:
// relative errors of 1e-7, TestBasisOperations32.)
const (
	basisChunk   = 2048
	basisChunk32 = 8192
)

// chunkOf is the piece length of the basis operations on vectors of type T.
func chunkOf[T Float]() int {
	var z T
	if _, ok := any(z).(float32); ok {
		return basisChunk32
	}
	return basisChunk
}

// basisMinParallel is the smallest dimension at which Dots and AddCombination use all cores.
const basisMinParallel = 1 << 16

// forChunks calls do(c0, c1) on ranges of the indices 0, ..., chunks(dim, chunk)-1 of the pieces
// of length chunk that together cover them once, on all cores when dim >= basisMinParallel.
func forChunks(dim, chunk int, do func(c0, c1 int)) {
	nc := chunks(dim, chunk)
	workers := 1
	if dim >= basisMinParallel {
		workers = max(1, min(runtime.GOMAXPROCS(0), nc))
	}
	Parallel(workers, func(w int) int { return w * nc / workers }, do)
}

func chunks(dim, chunk int) int { return (dim + chunk - 1) / chunk }

// Dots sets out_i = <u_i, x> for the vectors u (each at least as long as x), summed chunk by
// chunk and then over the chunks in order (the same sums on any number of cores), by chunks
// that stay in L1 and on all cores for long vectors.
func Dots[T Float](out []float64, u [][]T, x []T) {
	dim, m, ch := len(x), len(u), chunkOf[T]()
	nc := chunks(dim, ch)
	part := make([]float64, nc*m)
	forChunks(dim, ch, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			lo, hi := c*ch, min((c+1)*ch, dim)
			xc := x[lo:hi]
			for i, q := range u {
				part[c*m+i] = dot(q[lo:hi], xc)
			}
		}
	})
	for i := range out[:m] {
		s := 0.0
		for c := 0; c < nc; c++ {
			s += part[c*m+i]
		}
		out[i] = s
	}
}

// subtractDots sets x = x + sum_i coef_i u_i as [AddCombination] does, and then out_j = <v_j, x>
// for the new x as [Dots] does (the same sums, bit for bit), in one pass over x: chunk by chunk,
// the combination and then the dot products of the chunk while it is in L1. It returns ||x||
// after the combination, as AddCombination does.
func subtractDots[T Float](x []T, u [][]T, coef []float64, out []float64, v [][]T) float64 {
	dim, m, ch := len(x), len(v), chunkOf[T]()
	nc := chunks(dim, ch)
	part := make([]float64, nc*(m+1)) // per chunk: the m dot products, then the sum of squares
	forChunks(dim, ch, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			lo, hi := c*ch, min((c+1)*ch, dim)
			xc := x[lo:hi]
			addChunk(xc, u, coef, lo, hi)
			p := part[c*(m+1) : (c+1)*(m+1)]
			p[m] = dot(xc, xc)
			for i, q := range v {
				p[i] = dot(q[lo:hi], xc)
			}
		}
	})
	for i := range out[:m] {
		s := 0.0
		for c := 0; c < nc; c++ {
			s += part[c*(m+1)+i]
		}
		out[i] = s
	}
	ss := 0.0
	for c := 0; c < nc; c++ {
		ss += part[c*(m+1)+m]
	}
	if math.IsInf(ss, 0) || ss < 1e-280 {
		return nrm2(x)
	}
	return math.Sqrt(ss)
}

// scaledCopy sets dst = s src (len(dst) >= len(src); each entry the float64 product rounded
// to T), on all cores for long vectors: for float64 the same products as a copy followed by
// blas64.Scal, in one pass instead of two.
func scaledCopy[T Float](dst, src []T, s float64) {
	ch := chunkOf[T]()
	forChunks(len(src), ch, func(c0, c1 int) {
		lo, hi := c0*ch, min(c1*ch, len(src))
		d := dst[lo:hi]
		for i, v := range src[lo:hi] {
			d[i] = T(float64(v) * s)
		}
	})
}

// addChunk sets xc = xc + sum_i coef_i u_i[lo:hi] (xc = x[lo:hi]), in the order i = 0, 1, ...
// at every entry, in the arithmetic of T (the coefficients rounded to T).
func addChunk[T Float](xc []T, u [][]T, coef []float64, lo, hi int) {
	m := len(u)
	i := 0
	for ; i+4 <= m; i += 4 {
		q0, q1, q2, q3 := u[i][lo:hi], u[i+1][lo:hi], u[i+2][lo:hi], u[i+3][lo:hi]
		q0, q1, q2, q3 = q0[:len(xc)], q1[:len(xc)], q2[:len(xc)], q3[:len(xc)]
		a0, a1, a2, a3 := T(coef[i]), T(coef[i+1]), T(coef[i+2]), T(coef[i+3])
		for j, v := range xc {
			v += a0 * q0[j]
			v += a1 * q1[j]
			v += a2 * q2[j]
			v += a3 * q3[j]
			xc[j] = v
		}
	}
	for ; i < m; i++ {
		q, a := u[i][lo:hi], T(coef[i])
		q = q[:len(xc)]
		for j, v := range xc {
			xc[j] = v + a*q[j]
		}
	}
}

// AddCombination sets x = x + sum_i coef_i u_i for the vectors u (each at least as long as x;
// in the order i = 0, 1, ... at every entry, as one axpy per vector would) by chunks, on all
// cores for long vectors, and returns ||x||.
func AddCombination[T Float](x []T, u [][]T, coef []float64) float64 {
	dim, ch := len(x), chunkOf[T]()
	nc := chunks(dim, ch)
	part := make([]float64, nc)
	forChunks(dim, ch, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			lo, hi := c*ch, min((c+1)*ch, dim)
			xc := x[lo:hi]
			addChunk(xc, u, coef, lo, hi)
			part[c] = dot(xc, xc)
		}
	})
	ss := 0.0
	for _, v := range part {
		ss += v
	}
	if math.IsInf(ss, 0) || ss < 1e-280 {
		return nrm2(x) // the sum of squares over- or underflowed: scaled norm
	}
	return math.Sqrt(ss)
}

// dot is <a, b> (len(b) >= len(a)) summed in float64: [Dot] for float64, gonum's Dsdot for
// float32 (see basisChunk).
func dot[T Float](a, b []T) float64 {
	switch a := any(a).(type) {
	case []float64:
		return Dot(a, any(b).([]float64))
	case []float32:
		return gonum.Implementation{}.Dsdot(len(a), a, 1, any(b).([]float32), 1)
	}
	panic("linalg: unreachable")
}

// nrm2 is ||x||: the backend's scaled Nrm2 for float64, the root of the float64 sum of squares
// for float32 (which cannot overflow).
func nrm2[T Float](x []T) float64 {
	switch x := any(x).(type) {
	case []float64:
		return blas64.Nrm2(vec(x))
	case []float32:
		return math.Sqrt(gonum.Implementation{}.Dsdot(len(x), x, 1, x, 1))
	}
	panic("linalg: unreachable")
}

// Dot returns <a, b> (len(b) >= len(a)) in Go with four partial sums: for loops that several
// goroutines run at once (the BLAS backend's dot may start threads of its own).
func Dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	for ; j < len(a); j++ {
		s0 += a[j] * b[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// tridiagonal eigendecomposes T_m: the unit eigenvectors as the rows of t, the eigenvalues ev
// ascending.
func (l *Lanczos[T]) tridiagonal() (t, ev []float64, err error) {
	m := len(l.alpha)
	t = make([]float64, m*m)
	for i := 0; i < m; i++ {
		t[i*m+i] = l.alpha[i]
		if i+1 < m {
			t[i*m+i+1] = l.beta[i]
			t[(i+1)*m+i] = l.beta[i]
		}
	}
	ev = make([]float64, m)
	if err := EigSym(m, t, ev, true); err != nil {
		return nil, nil, fmt.Errorf("linalg: Lanczos, eigenproblem of the %d x %d tridiagonal matrix after %d applications: %w", m, m, l.applys, err)
	}
	return t, ev, nil
}

// ritz computes the top Ritz pair of the current tridiagonal matrix (and the vector if wanted).
func (l *Lanczos[T]) ritz(tol float64, wantVector bool) (Ritz[T], error) {
	m := len(l.alpha)
	if m == 0 {
		return Ritz[T]{}, nil
	}
	t, ev, err := l.tridiagonal()
	if err != nil {
		return Ritz[T]{}, err
	}
	y := t[(m-1)*m : m*m]
	res := Ritz[T]{Value: ev[m-1], Residual: l.residual(y)}
	res.Converged = res.Residual <= tol*math.Abs(res.Value)
	if wantVector {
		res.Vector = l.combine(y)
		res.Image = image(res.Vector, l.w, res.Value, y[m-1])
	}
	return res, nil
}

// image returns value x + c w (the Ritz vector's image from the Lanczos relation, c = y_m): for
// float64 by the backend's Scal and Axpy, for float32 in float32.
func image[T Float](x, w []T, value, c float64) []T {
	ax := make([]T, len(x))
	switch ax := any(ax).(type) {
	case []float64:
		copy(ax, any(x).([]float64))
		blas64.Scal(value, vec(ax))
		blas64.Axpy(c, vec(any(w).([]float64)), vec(ax))
	case []float32:
		x, w := any(x).([]float32), any(w).([]float32)
		v, c := float32(value), float32(c)
		for i := range ax {
			ax[i] = v*x[i] + c*w[i]
		}
	}
	return ax
}

// LanczosOptions configures [LanczosTop]. Tol and MaxApplications are required (> 0).
type LanczosOptions struct {
	// Tol: stop when the top Ritz pair has ||A x - theta x|| <= Tol |theta|.
	Tol float64
	// MaxBasis is the largest basis kept before a restart (0: min(dim, 300)).
	MaxBasis int
	// MaxApplications caps the operator applications over all restarts.
	MaxApplications int
}

// LanczosTop returns the top Ritz pair of the symmetric operator apply on R^dim by [Lanczos]
// started from x0, restarted from the current Ritz vector whenever the basis is full, until the
// pair converges (or the Krylov space is invariant: status Converged) or opt.MaxApplications
// applications are spent (status IterationLimit, with the last pair). Errors of the operator or
// of the tridiagonal eigenproblems are returned with context.
func LanczosTop[T Float](dim int, apply func(dst, x []T) error, x0 []T, opt LanczosOptions) (Ritz[T], Status, error) {
	if !(opt.Tol > 0) || opt.MaxApplications < 1 {
		panic(fmt.Sprintf("linalg: LanczosTop needs Tol > 0 and MaxApplications >= 1 (got %v, %d)", opt.Tol, opt.MaxApplications))
	}
	if opt.MaxBasis == 0 {
		opt.MaxBasis = min(dim, 300)
	}
	lz := NewLanczos(dim, apply, opt.MaxBasis)
	if err := lz.Start(x0); err != nil {
		return Ritz[T]{}, IterationLimit, err
	}
	for {
		rz, err := lz.Run(opt.Tol, opt.MaxApplications-lz.applys)
		if err != nil {
			return rz, IterationLimit, err
		}
		if rz.Converged || lz.broke {
			return rz, Converged, nil
		}
		if lz.applys >= opt.MaxApplications {
			return rz, IterationLimit, nil
		}
		if err := lz.Start(rz.Vector); err != nil {
			return rz, IterationLimit, err
		}
	}
}

// RitzPair is an eigenpair estimate of the operator from the current Lanczos basis.
type RitzPair[T Float] struct {
	Value    float64
	Residual float64 // ||A x - Value x|| = beta_m |y_m|
	Vector   []T     // unit Ritz vector
}

// TopPairs returns the pairs among the k top Ritz pairs of the current basis whose residual
// (the Lanczos estimate) is at most tol |Value|, largest value first: their vectors are
// orthonormal (to the basis' orthogonality). The vectors are combined in one pass over the
// basis, and only for the pairs returned. It returns nil before the first step.
func (l *Lanczos[T]) TopPairs(k int, tol float64) ([]RitzPair[T], error) {
	m := len(l.alpha)
	if m == 0 || k < 1 {
		return nil, nil
	}
	t, ev, err := l.tridiagonal()
	if err != nil {
		return nil, err
	}
	var pairs []RitzPair[T]
	var ys [][]float64
	for j := m - 1; j >= max(0, m-k); j-- {
		y := t[j*m : (j+1)*m]
		if res := l.residual(y); res <= tol*math.Abs(ev[j]) {
			pairs = append(pairs, RitzPair[T]{Value: ev[j], Residual: res, Vector: make([]T, l.dim)})
			ys = append(ys, y)
		}
	}
	ch := chunkOf[T]()
	forChunks(l.dim, ch, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			lo, hi := c*ch, min((c+1)*ch, l.dim)
			for i, y := range ys {
				addChunk(pairs[i].Vector[lo:hi], l.q[:m], y, lo, hi)
			}
		}
	})
	return pairs, nil
}
