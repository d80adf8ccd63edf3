//go:build openblas

package linalg

/*
#cgo pkg-config: openblas lapacke
#include <lapacke.h>
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

func init() { blas64.Use(netlib.Implementation{}) }

// eigSym calls LAPACKE_dsyevd in column-major order. A symmetric matrix is its own transpose, so
// the row-major upper triangle is the column-major lower triangle, and the column-major
// eigenvector columns are the rows of the row-major result.
func eigSym(n int, a, w []float64, vectors bool) bool {
	jobz := C.char('N')
	if vectors {
		jobz = 'V'
	}
	info := C.LAPACKE_dsyevd(C.LAPACK_COL_MAJOR, jobz, C.char('L'), C.lapack_int(n),
		(*C.double)(&a[0]), C.lapack_int(n), (*C.double)(&w[0]))
	return info == 0
}
