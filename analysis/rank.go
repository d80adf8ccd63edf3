package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// eigenmatrixShape describes the PSD top eigenmatrix S* of T = pinv(C) D (Thm 6; THEORY.md,
// Additions, effective rank), with eigenvalues mu_1 >= ... >= mu_r:
//
//	effRank   = (tr S*)^2 / ||S*||_F^2   (1 for rank one, q for q equal eigenvalues)
//	topShare  = mu_1 / tr S*
//	minEigRel = mu_r / mu_1              (>= 0 for PSD; a tiny negative value is rounding)
//
// top is a unit eigenvector of S* for mu_1, in the eigenbasis of H (a vector of range(H)).
type eigenmatrixShape struct {
	effRank, topShare, minEigRel float64
	top                          []float64
	applications                 int           // products with S* or its inverse (both Lanczos runs)
	status, minStatus            linalg.Status // how the Lanczos runs for mu_1 and for mu_r ended
}

// Lanczos tolerances of topEigenmatrixShape (relative residuals): mu_1 and its eigenvector to
// 1e-10; mu_r, a PSD check, to 1e-8 of 1/mu_r (Lanczos on the inverse of a positive definite
// S*) or of mu_1 - mu_r (about mu_1; see smallestEigenvalue).
const (
	eigenmatrixTopTol = 1e-10
	eigenmatrixMinTol = 1e-8
)

// topEigenmatrixShape computes the shape of the r x r top eigenmatrix s of T (in the eigenbasis
// of H, as genResult.s: S* = C^{-1/2}(X) for the eigenmatrix X of C^{-1/2} D C^{-1/2}, sign
// fixed by tr S* >= 0; symmetric, and only its upper triangle is read). The trace and the
// Frobenius norm are exact sums over the entries; mu_1 and its eigenvector come from Lanczos on
// S* to the relative residual eigenmatrixTopTol, mu_r from smallestEigenvalue (Lanczos on the
// inverse of S* when it is positive definite, else on mu_1 I - S*) to eigenmatrixMinTol, each
// run with at most min(r, 100) basis vectors and 300 products (r^2 flops each, or two
// triangular solves). That is cheaper than one eigendecomposition of S* at r = 2048 (5.5 s on
// the project's 2-core machine at load 6-7), and exact for small r (an invariant Krylov space).
// A Ritz value lies inside the spectrum, so an unconverged run (status IterationLimit) gives
// mu_1 from below and mu_r from above (a negative value still proves that S* is not PSD). seed
// drives the Lanczos starting vectors.
func topEigenmatrixShape(s []float64, r int, seed uint64) (eigenmatrixShape, error) {
	tr, fro := 0.0, 0.0
	for a := 0; a < r; a++ {
		tr += s[a*r+a]
	}
	for _, v := range s[:r*r] {
		fro += v * v
	}
	if !(tr > 0) || math.IsInf(fro, 0) {
		return eigenmatrixShape{}, fmt.Errorf("analysis: top eigenmatrix: trace %g, squared Frobenius norm %g: not a nonzero PSD matrix", tr, fro)
	}
	sym := blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: s[:r*r]}
	count := 0
	apply := func(dst, x []float64) error {
		count++
		blas64.Symv(1, sym, vec(x), 0, vec(dst))
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a))
	x0 := make([]float64, r)
	for a := range x0 {
		x0[a] = rng.NormFloat64()
	}
	opt := linalg.LanczosOptions{Tol: eigenmatrixTopTol, MaxBasis: min(r, 100), MaxApplications: 300}
	top, st1, err := linalg.LanczosTop(r, apply, x0, opt)
	if err != nil {
		return eigenmatrixShape{}, fmt.Errorf("analysis: top eigenmatrix, largest eigenvalue: %w", err)
	}
	mu1 := top.Value
	if !(mu1 > 0) {
		return eigenmatrixShape{}, fmt.Errorf("analysis: top eigenmatrix: largest eigenvalue %g <= 0 with trace %g", mu1, tr)
	}
	opt.Tol = eigenmatrixMinTol
	muR, st2, err := smallestEigenvalue(s, r, mu1, x0, opt, &count)
	if err != nil {
		return eigenmatrixShape{}, fmt.Errorf("analysis: top eigenmatrix, smallest eigenvalue: %w", err)
	}
	res := eigenmatrixShape{
		effRank:      tr * tr / fro,
		topShare:     mu1 / tr,
		minEigRel:    muR / mu1,
		top:          top.Vector,
		applications: count,
		status:       st1,
		minStatus:    st2,
	}
	return res, nil
}

// smallestEigenvalue returns mu_r, the smallest eigenvalue of the symmetric r x r s (upper
// triangle read) whose largest is mu1, with how its Lanczos run (options opt, from x0) ended;
// products counts the products with s or its inverse. Where s is numerically positive definite
// (a Cholesky factorization s = L L^T, r^3/3 flops), mu_r = 1 / lambda_max(s^{-1}) by Lanczos on
// x -> L^{-T} L^{-1} x: the top of the inverse spectrum is sparse where the bottom of the
// spectrum is dense. (On the r = 2048 matrix of BenchmarkTopEigenmatrixShape, G G^T for a
// square Gaussian G, mu_r / mu_1 = 5.271245426e-08 by the dense eigensolver: this gives
// 5.271245425e-08 after 75 products, converged; Lanczos on mu1 I - s, the way before, stopped
// at its limit of 300 products at 4.43e-06.) Otherwise (mu_r at rounding level or below zero)
// it is mu1 - theta for the top eigenvalue theta of mu1 I - s (at the limit an upper estimate
// of mu_r, still a proof of indefiniteness when negative).
func smallestEigenvalue(s []float64, r int, mu1 float64, x0 []float64, opt linalg.LanczosOptions, products *int) (float64, linalg.Status, error) {
	l := append([]float64(nil), s[:r*r]...)
	mirrorUpper(l, r) // the Cholesky factorization reads the lower triangle
	if linalg.PositiveDefinite(r, l) {
		tri := blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: r, Stride: r, Data: l}
		inv, st, err := linalg.LanczosTop(r, func(dst, x []float64) error {
			*products++
			copy(dst, x)
			blas64.Trsv(blas.NoTrans, tri, vec(dst))
			blas64.Trsv(blas.Trans, tri, vec(dst))
			return nil
		}, x0, opt)
		if err != nil {
			return 0, st, err
		}
		return 1 / inv.Value, st, nil
	}
	sym := blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: s[:r*r]}
	low, st, err := linalg.LanczosTop(r, func(dst, x []float64) error {
		*products++
		copy(dst, x)
		blas64.Symv(-1, sym, vec(x), mu1, vec(dst))
		return nil
	}, x0, opt)
	return mu1 - low.Value, st, err
}
