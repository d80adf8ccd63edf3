// Package linalg selects the dense linear-algebra backend of the project and provides the one
// LAPACK routine gonum lacks in a fast form, the symmetric eigendecomposition with vectors
// ([EigSym]), and the project's one Lanczos iteration for the top eigenpair of a symmetric
// operator ([Lanczos], [LanczosTop]; typed [Status] "converged" / "iteration_limit"), used by the
// analysis (generalized sharpness, nonuniformity) and by the trainer (Gauss-Newton and Hessian
// sharpness). Numerical failures are errors with context; only misuse (shapes) panics.
//
// Built with the tag `openblas` (the Makefile sets it when pkg-config finds openblas and lapacke),
// importing this package switches gonum's blas64 to OpenBLAS through gonum.org/v1/netlib/blas/netlib
// and makes [EigSym] call LAPACKE_dsyevd (divide and conquer) through cgo. Without the tag,
// everything is pure-Go gonum: blas64 keeps its native implementation and [EigSym] calls gonum's
// Dsyev, with vectors a copy of it that spreads its work over the cores (bit for bit gonum's
// results). Both give the same numbers up to rounding; only the speed differs (about 15x for a
// 2048 x 2048 product, about 20x for a 2048 x 2048 eigendecomposition with vectors: 1.5 s against
// 27-33 s measured at load 2-5).
//
// [SyrkTrans] and [TrmmRightUpper] (and their float32 versions) are the symmetric rank-k update
// and the triangular product the analysis needs: OpenBLAS's, or in pure Go recursive blocks of
// gonum's general product, which runs on all cores where gonum's Syrk and Trmm run on one.
//
// Use it for its side effect and call blas64 as usual:
//
//	import (
//		"gonum.org/v1/gonum/blas/blas64"
//		_ "github.com/sgdstability/sgdstab/internal/linalg"
//	)
//
// OpenBLAS picks its kernels for the processor when the library loads, and falls back to generic
// SSE3 kernels ("Prescott") on a model it does not know, 5-6x slower on the AVX-512 machines
// here. The openblas build then selects the kernels the processor supports (SkylakeX, Haswell or
// Sandybridge) at start-up, unless OPENBLAS_CORETYPE is set.
//
// [Backend] names the backend in use, with OpenBLAS's kernel set.
package linalg
