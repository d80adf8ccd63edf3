// Package validate checks the exact mean-square stability threshold eta* = 2 / lambda_gen
// (Mulayoff & Michaeli 2024, Thm 3; THEORY.md) against simulation, at eta = c eta* for c around 1.
//
// Linearized check: Linear is linearized SGD at a minimum in an eigenbasis of range(H) (factored:
// per-sample Hessians F_i^T F_i, never d x d). TopEigen finds the top eigenmatrix S of
// pinv(C) D by the power method; Growth runs many independent chains from y_0 ~ N(0, S) and
// estimates the growth rate of E||x_t||^2 (slope of the log chain mean over a window) with a
// bootstrap interval over chains; LinearBracket turns rates at several c into the observed
// transition, which must contain c = 1.
//
// Nonlinear check: Restart runs real SGD (or the mixture process ALG(p) of Prop. 2) on the
// network from w* plus a tiny perturbation and records whether the loss escapes. The training
// itself is package train's (TrainFrom, sampling "independent" or "mixture"); GramLinear takes
// train.GaussNewtonGram, and Direction maps basis coordinates back to parameters with
// train.JacobianTMul, so this package holds no copy of the network.
//
// Both are silent and seeded; experiments/validate drives them and writes records and Figure 4.
package validate
