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
	applications                 int           // products with S* (both Lanczos runs)
	status, minStatus            linalg.Status // how the Lanczos runs for mu_1 and for mu_r ended
}

// Lanczos tolerances of topEigenmatrixShape (relative residuals): mu_1 and its eigenvector to
// 1e-10; mu_r, a PSD check, to 1e-8 of mu_1 - mu_r (about mu_1).
const (
	eigenmatrixTopTol = 1e-10
	eigenmatrixMinTol = 1e-8
)

// topEigenmatrixShape computes the shape of the r x r top eigenmatrix s of T (in the eigenbasis
// of H, as genResult.s: S* = C^{-1/2}(X) for the eigenmatrix X of C^{-1/2} D C^{-1/2}, sign
// fixed by tr S* >= 0). The trace and the Frobenius norm are exact sums over the entries; mu_1
// and its eigenvector come from Lanczos on S*, mu_r = mu_1 - theta from Lanczos on mu_1 I - S*
// (theta its top eigenvalue), to the relative residuals eigenmatrixTopTol and
// eigenmatrixMinTol, each with at most min(r, 100) basis vectors and 300 products with S*
// (r^2 flops each). That is cheaper than one eigendecomposition of S* at r = 2048 (5.5 s on the
// project's 2-core machine at load 6-7), and exact for small r (an invariant Krylov space). A
// Ritz value lies inside the spectrum, so an unconverged run (status IterationLimit) gives mu_1
// from below and mu_r from above; mu_r, at the end of a spectrum that is dense near zero, often
// does not converge at r = 2048 and is then an upper estimate (a negative value still proves
// that S* is not PSD). seed drives the Lanczos starting vectors.
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
	m := make([]float64, r*r)
	symmetrizeInto(m, s, r)
	sym := blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: m}
	shift, count := 0.0, 0 // apply: dst = (shift I - S*) x when shift > 0, S* x otherwise
	apply := func(dst, x []float64) error {
		count++
		if shift > 0 {
			copy(dst, x)
			blas64.Symv(-1, sym, vec(x), shift, vec(dst))
		} else {
			blas64.Symv(1, sym, vec(x), 0, vec(dst))
		}
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
	shift, opt.Tol = mu1, eigenmatrixMinTol
	low, st2, err := linalg.LanczosTop(r, apply, x0, opt)
	if err != nil {
		return eigenmatrixShape{}, fmt.Errorf("analysis: top eigenmatrix, smallest eigenvalue: %w", err)
	}
	res := eigenmatrixShape{
		effRank:      tr * tr / fro,
		topShare:     mu1 / tr,
		minEigRel:    (mu1 - low.Value) / mu1,
		top:          top.Vector,
		applications: count,
		status:       st1,
		minStatus:    st2,
	}
	return res, nil
}
