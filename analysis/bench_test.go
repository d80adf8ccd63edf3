package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// syntheticNetwork returns the Gauss-Newton curvature of the paper's network shape
// f(x) = W2 relu(W1 x + b1) + b2 (784 inputs, h hidden units, 4 outputs, d = 789 h + 4) at random
// weights (PyTorch's default scale), on n synthetic MNIST-like inputs: about 19% of the pixels
// non-zero, drawn from a common blob (so the inputs are correlated, as MNIST's are), values in
// (0, 1]. M = 2I (the "sum" loss).
func syntheticNetwork(n, h int, seed uint64) *Factored {
	const px, k = 784, 4
	rng := rand.New(rand.NewPCG(seed, 7))
	d := h*px + h + k*h + k
	prob := make([]float64, px)
	for c := range prob {
		x, y := float64(c%28)-13.5, float64(c/28)-13.5
		prob[c] = 0.7 * math.Exp(-(x*x+y*y)/(2*7*7))
	}
	u := func(s float64) float64 { return s * (2*rng.Float64() - 1) }
	w1 := make([]float64, h*px)
	b1 := make([]float64, h)
	w2 := make([]float64, k*h)
	for i := range w1 {
		w1[i] = u(1 / math.Sqrt(px))
	}
	for i := range b1 {
		b1[i] = u(1 / math.Sqrt(px))
	}
	for i := range w2 {
		w2[i] = u(1 / math.Sqrt(float64(h)))
	}
	f := &Factored{N: n, K: k, D: d, OutputHessian: make([]float64, k*k)}
	for a := 0; a < k; a++ {
		f.OutputHessian[a*k+a] = 2
	}
	x := make([]float64, px)
	z := make([]float64, h)
	for i := 0; i < n; i++ {
		for c := range x {
			x[c] = 0
			if rng.Float64() < prob[c] {
				x[c] = 0.2 + 0.8*rng.Float64()
			}
		}
		for j := 0; j < h; j++ {
			s := b1[j]
			for c, v := range x {
				s += w1[j*px+c] * v
			}
			z[j] = s
		}
		jac := make([]float64, k*d)
		for o := 0; o < k; o++ {
			row := jac[o*d : (o+1)*d]
			for j := 0; j < h; j++ {
				if z[j] <= 0 {
					continue
				}
				g := w2[o*h+j]
				for c, v := range x {
					row[j*px+c] = g * v
				}
				row[h*px+j] = g
				row[h*px+h+o*h+j] = z[j]
			}
			row[h*px+h+k*h+o] = 1
		}
		f.Factors = append(f.Factors, jac)
	}
	return f
}

// syntheticGradients returns per-sample gradients g_i = J_i^T M e_i of the loss at a point with
// small random residuals e_i (scale 0.01), as a trainer hands over at an approximate minimum;
// their mean is not zero, so the analysis is run with CenterGradients.
func syntheticGradients(f *Factored, seed uint64) [][]float64 {
	g, _ := syntheticOutputGradients(f, seed)
	return g
}

// syntheticOutputGradients returns gradients g_i = J_i^T q_i of a squared loss, q_i = M e_i for
// small random residuals e_i, with their output gradients q (n x k).
func syntheticOutputGradients(f *Factored, seed uint64) ([][]float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	k, d := f.K, f.D
	g := make([][]float64, f.N)
	q := make([]float64, f.N*k)
	e := make([]float64, k)
	for i, j := range f.Factors {
		for a := range e {
			e[a] = 0.01 * rng.NormFloat64()
		}
		me := q[i*k : (i+1)*k]
		blas64.Gemv(blas.NoTrans, 1, gen(k, k, f.OutputHessian), vec(e), 0, vec(me))
		g[i] = make([]float64, d)
		blas64.Gemv(blas.Trans, 1, gen(k, d, j), vec(me), 0, vec(g[i]))
	}
	return g, q
}

// BenchmarkAnalyzeFactored times the full analysis of one minimum at the paper's size
// (n = 512, k = 4, d = 15,784 for h = 20 and 78,904 for h = 100), batch size 8: every quantity
// of AnalyzeFactored, and with gradients the covariance limit of Thm 5 / Cor. 1 at
// eta = 0.9 eta* (AddCovariance; eta* from the same analysis). gram=given hands the analysis
// what the trainer has in closed form: the Gram matrix G G^T (Factored.Gram, formed before the
// timing, as train.GaussNewtonGram does) and the output gradients q_i of g_i = J_i^T q_i
// (Factored.OutputGradients); gram=factors lets it multiply G G^T out of the Jacobians and
// project the gradients themselves.
func BenchmarkAnalyzeFactored(b *testing.B) {
	for _, h := range []int{20, 100} {
		for _, given := range []bool{false, true} {
			name := fmt.Sprintf("h=%d/gram=factors", h)
			if given {
				name = fmt.Sprintf("h=%d/gram=given", h)
			}
			b.Run(name, func(b *testing.B) { benchAnalyzeFactored(b, h, given) })
		}
	}
}

func benchAnalyzeFactored(b *testing.B, h int, given bool) {
	f := syntheticNetwork(512, h, 1)
	g, q := syntheticOutputGradients(f, 2)
	f.Gradients = g
	if given {
		f.Gram, f.OutputGradients = gramOf(b, f), q
	}
	var rep *Report
	for b.Loop() {
		var err error
		rep, err = AnalyzeFactored(f, 8, Options{CenterGradients: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.AddCovariance(0.9 * 2 / rep.Bracket[1]); err != nil {
			b.Fatal(err)
		}
	}
	dg := rep.Diagnostics
	b.ReportMetric(float64(dg.Rank), "rank")
	b.ReportMetric(float64(dg.Applications), "applications")
	b.ReportMetric(float64(dg.SingleApplications), "single_applications")
	b.ReportMetric(dg.BracketRelWidth, "bracket_width")
	b.ReportMetric(*rep.TopEigenmatrixEffectiveRank, "r_eff")
	b.ReportMetric(float64(dg.Bound25TopEigenmatrixIterations), "b25_top_iters")
	b.ReportMetric(float64(dg.Bound25Iterations), "b25_iters")
	b.ReportMetric(float64(dg.CovarianceIterations), "cov_iters")
	b.ReportMetric(float64(dg.CovarianceApplications), "cov_applications")
	b.ReportMetric(float64(dg.CovarianceSingleApplications), "cov_single_applications")
	for _, st := range []string{"basis", "generalized_sharpness", "top_eigenmatrix", "bound25", "nonuniformity", "covariance"} {
		b.ReportMetric(rep.Seconds[st], st+"_s")
	}
	b.Logf("%s: gen %.10g bracket %v lmax %.6g b15 %.6g b16 %.6g b25 %.6g nonunif %.6g cov trace %.16g loss %.16g grad2 %.16g diag %+v seconds %v",
		dg.Backend, rep.GeneralizedSharpness, rep.Bracket, rep.Sharpness, rep.Bound15, rep.Bound16, rep.Bound25, rep.Nonuniformity,
		*rep.CovarianceTrace, *rep.ExpectedLoss, *rep.ExpectedGradNorm2, dg, rep.Seconds)
}

// BenchmarkGemm2048 measures the machine's 2048 x 2048 matrix product rate (GFLOP/s) with the
// backend in use, to put the analysis timings in context (the machine may be shared).
func BenchmarkGemm2048(b *testing.B) {
	const n = 2048
	a := gaussianSquare(n, 1)
	c := make([]float64, n*n)
	for b.Loop() {
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(n, n, a), gen(n, n, a), 0, gen(n, n, c))
	}
	b.ReportMetric(2*n*n*n/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
}

// BenchmarkGemm2048Single is BenchmarkGemm2048 in single precision (the first Lanczos phase of
// the generalized sharpness).
func BenchmarkGemm2048Single(b *testing.B) {
	const n = 2048
	a64 := gaussianSquare(n, 1)
	a := make([]float32, n*n)
	for i, v := range a64 {
		a[i] = float32(v)
	}
	c := make([]float32, n*n)
	g := blas32.General{Rows: n, Cols: n, Stride: n, Data: a}
	for b.Loop() {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, g, g, 0, blas32.General{Rows: n, Cols: n, Stride: n, Data: c})
	}
	b.ReportMetric(2*n*n*n/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
}

// gaussianSquare returns an n x n matrix of independent standard normal entries.
func gaussianSquare(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, seed))
	a := make([]float64, n*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	return a
}

// BenchmarkTopEigenmatrixShape times the effective rank, top share and smallest eigenvalue of
// an r x r top eigenmatrix at the paper's largest rank r = nk = 2048 (two Lanczos runs on a
// random PSD matrix with a spread spectrum, the hard case for the smallest eigenvalue).
func BenchmarkTopEigenmatrixShape(b *testing.B) {
	const r = 2048
	g := gaussianSquare(r, 5)
	s := make([]float64, r*r)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(r, r, g), gen(r, r, g), 0, gen(r, r, s))
	for b.Loop() {
		sh, err := topEigenmatrixShape(s, r, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sh.applications), "products")
		b.ReportMetric(sh.minEigRel, "min_eig_rel")
	}
}

// BenchmarkAnalyzeFactoredBatches compares one batch size (B = 8) with eight
// (1, 2, 4, 8, 16, 32, 64, n) in one AnalyzeFactoredBatches call, and with eight separate
// AnalyzeFactored calls (the basis recomputed each time). Synthetic factors of the network's
// shape, h = 20.
func BenchmarkAnalyzeFactoredBatches(b *testing.B) {
	for _, n := range []int{128, 512} {
		f := syntheticNetwork(n, 20, 1)
		batches := []int{1, 2, 4, 8, 16, 32, 64, n}
		for _, mode := range []string{"one", "eight", "eight-separate"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				apps := 0
				for b.Loop() {
					var reps []*Report
					var err error
					switch mode {
					case "one":
						reps, err = AnalyzeFactoredBatches(f, []int{8}, Options{})
					case "eight":
						reps, err = AnalyzeFactoredBatches(f, batches, Options{})
					default:
						for _, bs := range batches {
							rep, aerr := AnalyzeFactored(f, bs, Options{})
							if aerr != nil {
								b.Fatal(aerr)
							}
							reps = append(reps, rep)
						}
					}
					if err != nil {
						b.Fatal(err)
					}
					apps = 0
					for _, r := range reps {
						apps += r.Diagnostics.Applications
					}
				}
				b.ReportMetric(float64(apps), "applications")
			})
		}
	}
}

// BenchmarkFactoredBasis times the eigenbasis of range(H) alone (newFactoredProblem) at the
// paper's size, with the Gram matrix multiplied out of the Jacobians (gram=factors) and handed
// over (gram=given: the check on a probe vector and the eigendecomposition).
func BenchmarkFactoredBasis(b *testing.B) {
	for _, h := range []int{20, 100} {
		f := syntheticNetwork(512, h, 1)
		gram := gramOf(b, f)
		for _, given := range []bool{false, true} {
			name := fmt.Sprintf("h=%d/gram=factors", h)
			g := *f
			if given {
				name = fmt.Sprintf("h=%d/gram=given", h)
				g.Gram = gram
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if _, err := newFactoredProblem(&g, Options{}.WithDefaults(), pathAuto); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSandwich times one application of D's sandwich (1/n) sum_i Hh_i S Hh_i at the
// paper's size (n = 512, k = 4, rank 2048, h = 20), the unit of work of the generalized sharpness
// and of the covariance solve, in double and in single precision.
func BenchmarkSandwich(b *testing.B) {
	f := syntheticNetwork(512, 20, 1)
	f.Gram = gramOf(b, f)
	pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathAuto)
	if err != nil {
		b.Fatal(err)
	}
	c := pr.curv.(*factCurv)
	r := pr.r
	rng := rand.New(rand.NewPCG(3, 3))
	s := randSymmetric(rng, r)
	dst := make([]float64, r*r)
	for _, single := range []bool{false, true} {
		name, apply := "double", c.sandwich
		if single {
			name, apply = "single", func(_, s []float64) error { _, err := c.sandwich32(s); return err }
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := apply(dst, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
