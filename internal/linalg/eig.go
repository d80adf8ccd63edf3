package linalg

import (
	"fmt"
	"math"
)

// Backend names the linear-algebra backend compiled in: "openblas/KERNELS" (OpenBLAS + LAPACKE
// through cgo, build tag `openblas`, with the name of OpenBLAS's kernel set in use, e.g.
// "openblas/SkylakeX") or "gonum" (pure Go).
func Backend() string { return backend() }

// EigSym computes the eigenvalues of the symmetric n x n matrix a (row-major, both triangles
// stored; only the upper triangle is read) into w in ascending order. If vectors is true, a is
// overwritten with orthonormal eigenvectors stored as rows: a[j*n:(j+1)*n] is the eigenvector of
// w[j]. If vectors is false, the contents of a are destroyed.
//
// It panics if len(a) < n*n or len(w) < n, and returns an error if the LAPACK routine fails to
// converge or a contains NaN or Inf.
func EigSym(n int, a, w []float64, vectors bool) error {
	if n < 0 || len(a) < n*n || len(w) < n {
		panic(fmt.Sprintf("linalg: EigSym shape mismatch: n=%d len(a)=%d len(w)=%d", n, len(a), len(w)))
	}
	if n == 0 {
		return nil
	}
	for _, v := range a[:n*n] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("linalg: EigSym: matrix contains NaN or Inf (if it was computed from finite numbers, they overflowed float64)")
		}
	}
	if !eigSym(n, a[:n*n], w[:n], vectors) {
		return fmt.Errorf("linalg: symmetric eigensolver (%s) did not converge (n=%d)", backend(), n)
	}
	return nil
}

// PositiveDefinite reports whether the symmetric n x n matrix a (row-major; only the lower
// triangle is read) is numerically positive definite: whether its Cholesky factorization
// a = L L^T runs to the end with positive pivots. a is overwritten (its lower triangle with L
// when it is positive definite). It panics if len(a) < n*n.
func PositiveDefinite(n int, a []float64) bool {
	if n < 0 || len(a) < n*n {
		panic(fmt.Sprintf("linalg: PositiveDefinite shape mismatch: n=%d len(a)=%d", n, len(a)))
	}
	if n == 0 {
		return true
	}
	return cholesky(n, a[:n*n])
}
