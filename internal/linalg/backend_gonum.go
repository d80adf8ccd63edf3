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

// eigSym calls gonum's Dsyev (tridiagonal QR) and transposes the eigenvector columns into rows.
func eigSym(n int, a, w []float64, vectors bool) bool {
	job := lapack.EVNone
	if vectors {
		job = lapack.EVCompute
	}
	s := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: a}
	work := []float64{0}
	lapack64.Syev(job, s, w, work, -1)
	work = make([]float64, int(work[0]))
	if !lapack64.Syev(job, s, w, work, len(work)) {
		return false
	}
	if vectors {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
			}
		}
	}
	return true
}

// FastTriangular reports whether the backend's triangular matrix product (Trmm) runs at the rate
// of its general one, so that a product with a triangular factor is worth half the flops. Not
// gonum's: its pure-Go Trmm is single-threaded and unblocked (1.5-2.4x the time of the full product
// in an application of the analysis' D at rank 2048).
const FastTriangular = false
