package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// SyrkTrans sets the upper triangle of c to alpha a^T a + beta c (a is k x n, c is n x n): the
// symmetric rank-k update of blas64.Syrk(blas.Trans, ...). TrmmRightUpper sets b = b u for the
// upper triangular (non-unit) u: blas64.Trmm(blas.Right, blas.NoTrans, 1, u, b). SyrkTrans32 and
// TrmmRightUpper32 are the same in single precision. With OpenBLAS they call it; in pure Go they
// are recursive block versions whose off-diagonal blocks are general products (gonum's Gemm runs
// on all cores; its Syrk and Trmm on one), which makes them as fast per flop as Gemm, so that
// both do half the flops of the general product in the same time as it. They round differently
// from gonum's Syrk and Trmm (other sums in other orders) but agree to rounding.
func SyrkTrans(alpha float64, a blas64.General, beta float64, c blas64.Symmetric) {
	if c.Uplo != blas.Upper || a.Cols != c.N {
		panic("linalg: SyrkTrans needs an upper triangle c with c.N = a.Cols")
	}
	if nativeLevel3 {
		blas64.Syrk(blas.Trans, alpha, a, beta, c)
		return
	}
	syrkRec(level3Of64(blas64.Implementation()), c.N, a.Rows, alpha, a.Data, a.Stride, beta, c.Data, c.Stride)
}

// SyrkTrans32 is SyrkTrans in single precision.
func SyrkTrans32(alpha float32, a blas32.General, beta float32, c blas32.Symmetric) {
	if c.Uplo != blas.Upper || a.Cols != c.N {
		panic("linalg: SyrkTrans32 needs an upper triangle c with c.N = a.Cols")
	}
	if nativeLevel3 {
		blas32.Syrk(blas.Trans, alpha, a, beta, c)
		return
	}
	syrkRec(level3Of32(blas32.Implementation()), c.N, a.Rows, alpha, a.Data, a.Stride, beta, c.Data, c.Stride)
}

// TrmmRightUpper sets b = b u (u upper triangular, non-unit diagonal).
func TrmmRightUpper(u blas64.Triangular, b blas64.General) {
	if u.Uplo != blas.Upper || u.Diag != blas.NonUnit || u.N != b.Cols {
		panic("linalg: TrmmRightUpper needs an upper non-unit u with u.N = b.Cols")
	}
	if nativeLevel3 {
		blas64.Trmm(blas.Right, blas.NoTrans, 1, u, b)
		return
	}
	trmmRec(level3Of64(blas64.Implementation()), b.Rows, b.Cols, u.Data, u.Stride, b.Data, b.Stride)
}

// TrmmRightUpper32 is TrmmRightUpper in single precision.
func TrmmRightUpper32(u blas32.Triangular, b blas32.General) {
	if u.Uplo != blas.Upper || u.Diag != blas.NonUnit || u.N != b.Cols {
		panic("linalg: TrmmRightUpper32 needs an upper non-unit u with u.N = b.Cols")
	}
	if nativeLevel3 {
		blas32.Trmm(blas.Right, blas.NoTrans, 1, u, b)
		return
	}
	trmmRec(level3Of32(blas32.Implementation()), b.Rows, b.Cols, u.Data, u.Stride, b.Data, b.Stride)
}

// level3 is the part of a BLAS implementation the recursive products use, over float32 or
// float64 (blas.Float64Level3 and blas.Float32Level3 have these methods under other names).
type level3[T float32 | float64] struct {
	gemm func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)
	syrk func(ul blas.Uplo, t blas.Transpose, n, k int, alpha T, a []T, lda int, beta T, c []T, ldc int)
	trmm func(s blas.Side, ul blas.Uplo, tA blas.Transpose, d blas.Diag, m, n int, alpha T, a []T, lda int, b []T, ldb int)
}

// recursiveLeaf is the order below which the recursive products call the implementation's own
// Syrk or Trmm.
const recursiveLeaf = 128

// syrkRec sets the upper triangle of the n x n c to alpha a^T a + beta c for the k x n a:
//
//	[C11 C12; . C22] = alpha [A1^T A1, A1^T A2; ., A2^T A2] + beta C
//
// with A = [A1 A2] split by columns, C12 by one general product and C11, C22 recursively.
func syrkRec[T float32 | float64](l level3[T], n, k int, alpha T, a []T, lda int, beta T, c []T, ldc int) {
	if n <= recursiveLeaf || k == 0 {
		l.syrk(blas.Upper, blas.Trans, n, k, alpha, a, lda, beta, c, ldc)
		return
	}
	h := n / 2
	syrkRec(l, h, k, alpha, a, lda, beta, c, ldc)
	l.gemm(blas.Trans, blas.NoTrans, h, n-h, k, alpha, a, lda, a[h:], lda, beta, c[h:], ldc)
	syrkRec(l, n-h, k, alpha, a[h:], lda, beta, c[h*ldc+h:], ldc)
}

// trmmRec sets the m x n b to b u for the upper triangular (non-unit) n x n u:
//
//	[B1 B2] [U11 U12; 0 U22] = [B1 U11, B1 U12 + B2 U22]
//
// B2 first (it needs the B1 of entry), then B1, each recursively.
func trmmRec[T float32 | float64](l level3[T], m, n int, u []T, ldu int, b []T, ldb int) {
	if n <= recursiveLeaf || m == 0 {
		l.trmm(blas.Right, blas.Upper, blas.NoTrans, blas.NonUnit, m, n, 1, u, ldu, b, ldb)
		return
	}
	h := n / 2
	trmmRec(l, m, n-h, u[h*ldu+h:], ldu, b[h:], ldb)
	l.gemm(blas.NoTrans, blas.NoTrans, m, n-h, h, 1, b, ldb, u[h:], ldu, 1, b[h:], ldb)
	trmmRec(l, m, h, u, ldu, b, ldb)
}

func level3Of64(bi blas.Float64Level3) level3[float64] {
	return level3[float64]{gemm: bi.Dgemm, syrk: bi.Dsyrk, trmm: bi.Dtrmm}
}

func level3Of32(bi blas.Float32Level3) level3[float32] {
	return level3[float32]{gemm: bi.Sgemm, syrk: bi.Ssyrk, trmm: bi.Strmm}
}
