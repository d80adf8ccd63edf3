// Package train trains the paper's network with plain SGD and returns what the stability analysis
// needs at the minimum it reaches (Mulayoff & Michaeli 2024, Sec. 4 and App. J).
//
// # Model and loss
//
// The network is f(x) = W2 relu(W1 x + b1) + b2 with x in R^D (D = 784 for MNIST), h hidden ReLU
// units and K outputs (K = 4). Its parameters form one flat vector of length d = h*D + h + K*h + K
// (789 h + 4 for MNIST) in the order W1 (h x D, row-major), b1 (h), W2 (K x h, row-major), b2 (K);
// [Params] holds the four blocks in this layout. The full-batch loss is L(w) = (1/n) sum_i l_i(w)
// with the per-sample quadratic loss l_i = c ||f(x_i) - y_i||^2 on one-hot targets, where
//
//	Loss "sum"       c = 1        (the default)      output Hessian M = 2 I
//	Loss "half_sum"  c = 1/2                         M = I
//	Loss "mean"      c = 1/K      (PyTorch MSELoss)  M = (2/K) I
//	Loss "half_mean" c = 1/(2K)                      M = (1/K) I
//
// # Training
//
// [Train] runs SGD w_{t+1} = w_t - eta_t (1/B) sum_{i in batch_t} grad l_i(w_t) from PyTorch's
// default initialization of nn.Linear (every weight and bias uniform in +-1/sqrt(fan_in)) times
// Config.InitFactor, seeded by Config.InitSeed so that every run of a sweep starts from the same
// point. Batches are uniform random size-B subsets drawn independently every step (the model of
// THEORY.md: p = (n-B)/(B(n-1))), or consecutive slices of a fresh permutation every epoch
// (Sampling "shuffle"). The step size grows linearly, eta_t = eta min(1, (t+1)/W), over W steps
// (Config.WarmupSteps, or Config.WarmupEpochs epochs: 100 by default).
// After every epoch the full-batch loss is evaluated; the run has converged when it stayed below
// ConvThreshold for ConvEpochs consecutive epochs (the paper: 1e-6 for 200 epochs), diverged when
// it became NaN, Inf or larger than DivergeLoss, and otherwise stops at MaxEpochs. [TrainMany]
// trains many configurations with one worker per core. Same configuration and seeds give
// bit-identical parameters, whatever the number of workers.
//
// With Config.SharpnessEvery = N > 0 the run records its sharpness path ([SharpnessPath]): the
// top eigenvalue of the Gauss-Newton matrix (1/n) sum_i J_i^T M J_i at epoch 0, every N epochs and
// at the last epoch, by a few Lanczos steps on Gauss-Newton products (internal/linalg), each
// warm-started from the previous checkpoint's Ritz vector ([DefaultSharpnessOptions]). It reads a
// copy of the parameters between epochs and has its own random start vector, so the training is
// bit for bit the same with and without it.
//
// [TrainFrom] starts a run from given parameters instead (restarts at a minimum, continuing a
// run). Sampling "mixture" runs the process ALG(p) of THEORY.md Prop. 2 instead of SGD: every
// step is a single-sample step on a uniform random index with probability
// p = (n-B)/(B(n-1)), a full-batch step otherwise; it has SGD's mean-square
// threshold at batch size B. Only the fused engine implements it (the gorgonia graph has one
// batch size; Validate rejects the combination). To stop a run when its loss exceeds a level,
// set DivergeLoss to that level (status "diverged").
//
// Two engines compute the steps. "gorgonia" builds the model and its gradient as a gorgonia
// expression graph (the trainer of record, float64, TapeMachine). "fused" (the default) does the
// same arithmetic in hand-written loops over the nonzero pixels (about 20% of MNIST's), in
// both the forward product and the weight gradient (kernels.go: AVX2 kernels on amd64, generated
// by gen_kernels.go, that round exactly like the portable Go loops; every sum in a fixed order,
// so the trajectory does not depend on the kernel set). At B = n the per-epoch loss and the next
// step share one forward pass. On dense inputs it multiplies large batches with blas64.Gemm
// (OpenBLAS under the build tag `openblas`, through internal/linalg). The tests check that both
// engines give the same parameters after 10,000 steps to 1e-12 relative. Results are
// bit-identical run to run for one build; different builds (GOARCH, GOAMD64 >= v3, which fuses
// multiply-adds) may differ in the last bits.
//
// # Curvature at the minimum
//
// [GaussNewtonGram] is the nK x nK Gram matrix of the stacked M^{1/2} J_i in closed form and
// [JacobianTMul] the product sum_i J_i^T v_i, both without forming the Jacobians.
// [PerSampleCurvature] returns, for every sample, the Jacobian J_i = df(x_i)/dw (K x d), the loss's
// output Hessian M, the gradient g_i = grad l_i = J_i^T M (f(x_i) - y_i), and the relative size of
// the residual that separates the exact Hessian from its Gauss-Newton part
// H_GN = (1/n) sum_i J_i^T M J_i. [HVP] gives exact Hessian-vector products by the R-operator
// (Pearlmutter 1994); [HessianSharpness] runs Lanczos on them for lambda_max of the exact
// full-batch Hessian. ReLU'(0) is taken as 0 here and in the fused engine (as in PyTorch);
// gorgonia's Rectify uses 1. The two differ only when a pre-activation is exactly 0. ReLU has zero
// second derivative.
package train
