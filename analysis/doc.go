// Package analysis computes the exact mean-square stability threshold of SGD at a minimum and
// everything around it (Mulayoff & Michaeli, "Exact Mean Square Linear Stability Analysis for
// SGD", COLT 2024), from per-sample curvature. Equation numbers refer to the paper and to
// ../shared/THEORY.md, which restates every formula.
//
// # Inputs
//
// [Dense] holds explicit per-sample Hessians H_i (small problems, tests); [Factored] holds
// Gauss-Newton factors H_i = J_i^T M J_i of a network with k outputs, and is analysed without
// ever forming a d x d matrix. Both take optional per-sample gradients g_i (nil: interpolating
// minimum). [Options] tunes tolerances; its zero value is the default.
//
//	rep, err := analysis.AnalyzeFactored(f, batch, analysis.Options{Eta: lr})
//
// # Quantities ([Report])
//
//   - P: p = (n - B) / (B (n - 1)) (batches without replacement; internal/sampling.P).
//   - Sharpness: lambda_max(H), H = (1/n) sum_i H_i; GDThreshold = 2 / lambda_max(H) (Thm 1);
//     TopEigenvector: v_max.
//   - GeneralizedSharpness: lambda_gen = lambda_max(pinv(C) D) with C = (1/2) H kronsum H and
//     D = (1-p) H kron H + p (1/n) sum_i H_i kron H_i (Thm 3, 4); EtaStar = 2 / lambda_gen.
//     Bracket is a certified [lo, hi] of relative width <= Options.RelWidth (1e-6): lo is a
//     Rayleigh quotient of the symmetric operator C^{-1/2} D C^{-1/2}, hi a Collatz-Wielandt
//     bound T(S) <= hi S for a positive definite S (T = pinv(C) D preserves the PSD cone, Thm 6).
//     Diagnostics.Status is "converged" when the width was reached, "iteration_limit" when
//     Options.MaxApplications ran out first (the bracket is still certified, only wider).
//   - TopEigenmatrixEffectiveRank, TopEigenmatrixTopShare, TopEigenmatrixMinEigRel: the shape
//     of the PSD top eigenmatrix S* of pinv(C) D (Thm 6; THEORY.md, effective rank),
//     (tr S*)^2 / ||S*||_F^2, mu_1 / tr S* and mu_r / mu_1 (eigenvalues on range(H); tr and
//     ||.||_F exact, mu_1 by Lanczos on S*, mu_r by Lanczos on its inverse when S* is positive
//     definite, else on mu_1 I - S*). S* = C^{-1/2}(X) for the top eigenmatrix X
//     of the symmetrized operator. (25) equals lambda_gen exactly when S* can be taken rank one.
//   - Bound15, Bound16, Bound25: the lower bounds (15), (16), (25) of Prop. 3; (25) by ascent
//     from many starts (every eigenvector of H and every H_i's top eigenvector screened, at most
//     1024 of those by a cheap lower bound of (25) when n is larger; v_max always ascended;
//     f(v_max) itself when r = 1), and one more ascent from the top eigenvector of S*
//     (Diagnostics.Bound25TopEigenmatrixValue, Bound25BestFromTopEigenmatrix). Chain (26): lambda_max <= (15) <= (25) <= lambda_gen, (16) <= lambda_gen.
//     (25) is never clipped: it is a Rayleigh quotient of (D, C) at a rank-one PSD matrix, a
//     certified lower bound, so a value above the bracket's lower end becomes the lower end
//     (Diagnostics.BracketLowerFromBound25, and lambda_gen is at least (25)); a value above the
//     upper end (beyond a relative 1e-12 of rounding) is an error: the ascent and the
//     certificate disagree.
//   - Nonuniformity: sqrt(lambda_max((1/n) sum_i H_i^2 - H^2)) (Wu, Ma and E 2018), by Lanczos;
//     Diagnostics.NonuniformityStatus is "converged" or "iteration_limit".
//   - With Options.Eta (0 < eta < eta*) and gradients, the covariance limit of Thm 5,
//     lim Sigma_perp = eta p pinv(2C - eta D) S_g, and the three limits of Cor. 1:
//     CovarianceTrace = lim E||P(w - w*)||^2, ExpectedLoss = lim E[Ltilde] - L(w*),
//     ExpectedGradNorm2 = lim E||grad Ltilde||^2 ([Report.AddCovariance] adds them later).
//
// # Method
//
// Everything lives on range(H) (THEORY.md, "Structure worth exploiting"). The analysis works in
// an orthonormal eigenbasis of range(H) (rank r; eigenvalues below Options.RankTol * lambda_max
// count as zero), where H is diagonal and C acts entrywise. For factored input the basis comes
// from the eigendecomposition of the nk x nk Gram matrix of the stacked G_i = M^{1/2} J_i when
// d >= nk: if G G^T = U diag(s^2) U^T, the factors in the basis are B = U_r diag(s); when d < nk
// from that of the d x d matrix n H = G^T G = V diag(s^2) V^T, with B = G V_r (the same nonzero
// eigenvalues; the smaller matrix is decomposed, and [MemoryEstimate] counts it). A caller that
// has G G^T in closed form (the trainer: train.GaussNewtonGram) hands it over in Factored.Gram,
// checked against the factors on a random probe, instead of having it multiplied out; likewise
// the output gradients q_i of g_i = J_i^T q_i (Factored.OutputGradients), from which the
// covariance limit projects the gradients onto the basis as B_i^T M^{1/2+} q_i without a pass
// over the d parameters. One
// application of D then costs about 2 n k r^2 flops (a triangular matrix product, from
// S = U + U^T, and two symmetric rank-k updates; in pure Go both are recursive blocks of gonum's
// parallel general product, internal/linalg's TrmmRightUpper and SyrkTrans). Lanczos with full reorthogonalization on
// C^{-1/2} D C^{-1/2} (symmetric, PSD) gives the top eigenpair; its residual tolerance is
// tightened until the Collatz-Wielandt upper bound, checked by Cholesky factorizations of
// mu S - T(S) for S from one power step past the Ritz vector, meets the target width. For factored input
// a first Lanczos run with D's large products in single precision chooses the start vector
// (Diagnostics.SingleApplications); the value and both ends of the bracket come from
// double-precision applications only. At p = 0 (B = n) lambda_gen = lambda_max(H) in closed
// form (App. I). The covariance limit is a conjugate-gradient solve of (2I - eta A) Y =
// eta p C^{-1/2} S_g, preconditioned by the inverse on the converged top Ritz vectors of the
// generalized sharpness' last Lanczos basis and by an approximate diagonal on their complement;
// for factored input of rank >= 256 its steps use D's single-precision products, and the
// residual is recomputed in double precision whenever it has dropped by 1e-4 and at the end
// (reliable updates), so the final relative residual, at most 1e-11, is that of a
// double-precision solve (Diagnostics.CovarianceApplications, CovarianceSingleApplications).
// Inputs are normalized
// internally (results do not depend on the scale of H up to rounding, from 1e-200 to 1e200).
//
// Numerical failures (an eigensolver that does not converge, non-finite intermediate values)
// are returned as errors naming the stage; only misuse (inconsistent shapes) panics. Fast linear
// algebra and the Lanczos iteration come from internal/linalg (OpenBLAS + LAPACKE with the
// build tag `openblas`, pure Go otherwise).
package analysis
