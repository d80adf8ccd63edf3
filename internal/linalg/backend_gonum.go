//go:build !openblas

package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// backend names the backend.
func backend() string { return "gonum" }

// eigSym calls gonum's Dsyev (tridiagonal QR) for the eigenvalues alone, and for eigenvectors
// its copy syevVectors, which applies the QR sweeps' rotations row by row on all cores (bit for
// bit the same results, about 5x faster at n = 2048); it transposes the eigenvector columns
// into rows.
func eigSym(n int, a, w []float64, vectors bool) bool {
	if !vectors {
		s := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: a}
		work := []float64{0}
		lapack64.Syev(lapack.EVNone, s, w, work, -1)
		work = make([]float64, int(work[0]))
		return lapack64.Syev(lapack.EVNone, s, w, work, len(work))
	}
	if !syevVectors(n, a, w) {
		return false
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
		}
	}
	return true
}

// nativeLevel3 makes SyrkTrans and TrmmRightUpper call the backend's own Syrk and Trmm:
// gonum's pure-Go Syrk and Trmm run on one core, unblocked (its Trmm took 1.5-2.4x the time of the
// full product in an application of the analysis' D at rank 2048), so the recursive versions are used.
const nativeLevel3 = false

// cholesky calls gonum's Dpotrf (blocked; its products run on all cores).
func cholesky(n int, a []float64) bool {
	_, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: n, Stride: n, Data: a})
	return ok
}
