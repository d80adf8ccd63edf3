package analysis_test

import (
	"fmt"

	"github.com/sgdstability/sgdstab/analysis"
)

// Two samples in one dimension with curvatures 1 and 3, batch size 1: H = 2, p = 1, and
// lambda_gen = D / C = (1/2)(1^2 + 3^2) / 2 = 2.5, so SGD is mean-square stable up to
// eta* = 0.8, below GD's threshold 2 / 2 = 1.
func ExampleAnalyzeDense() {
	in := &analysis.Dense{N: 2, D: 1, Hessians: [][]float64{{1}, {3}}}
	rep, err := analysis.AnalyzeDense(in, 1, analysis.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("p %.3g, sharpness %.6g, GD threshold %.6g\n", rep.P, rep.Sharpness, rep.GDThreshold)
	fmt.Printf("generalized sharpness %.6g in [%.6g, %.6g], eta* %.6g\n", rep.GeneralizedSharpness, rep.Bracket[0], rep.Bracket[1], rep.EtaStar)
	fmt.Printf("bounds (15) %.6g (16) %.6g (25) %.6g, non-uniformity %.6g\n", rep.Bound15, rep.Bound16, rep.Bound25, rep.Nonuniformity)
	// Output:
	// p 1, sharpness 2, GD threshold 1
	// generalized sharpness 2.5 in [2.5, 2.5], eta* 0.8
	// bounds (15) 2.5 (16) 2.5 (25) 2.5, non-uniformity 1
}

// The same curvature in factored form H_i = J_i^T M J_i (J_i = [1] and [sqrt 3], M = [1]),
// with batch size 2 = n: p = 0 and GD's threshold is recovered.
func ExampleAnalyzeFactored() {
	in := &analysis.Factored{N: 2, K: 1, D: 1, Factors: [][]float64{{1}, {1.7320508075688772}}, OutputHessian: []float64{1}}
	rep, err := analysis.AnalyzeFactored(in, 2, analysis.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("p %.3g, eta* %.6g, GD threshold %.6g\n", rep.P, rep.EtaStar, rep.GDThreshold)
	// Output:
	// p 0, eta* 1, GD threshold 1
}

// Per-sample output Hessians (cross-entropy): H_i = J_i^T M_i J_i with
// M_i = diag(s_i) - s_i s_i^T for softmax outputs s_i, PSD of rank k - 1. Two outputs, one
// parameter per output: with s_i = (q, 1-q), M_i = q(1-q) [[1, -1], [-1, 1]], and J_i = [[1], [0]]
// gives H_i = q(1-q). Samples with q = 1/2 and q = 0.1: H_1 = 0.25, H_2 = 0.09, H = 0.17, and at
// B = 1 lambda_gen = (0.25^2 + 0.09^2)/2 / 0.17 = 0.2076...
func ExampleAnalyzeFactored_perSample() {
	ce := func(q float64) []float64 {
		v := q * (1 - q)
		return []float64{v, -v, -v, v}
	}
	in := &analysis.Factored{N: 2, K: 2, D: 1,
		Factors:        [][]float64{{1, 0}, {1, 0}},
		OutputHessians: [][]float64{ce(0.5), ce(0.1)}}
	rep, err := analysis.AnalyzeFactored(in, 1, analysis.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("sharpness %.6g, generalized sharpness %.6g, eta* %.6g\n", rep.Sharpness, rep.GeneralizedSharpness, rep.EtaStar)
	// Output:
	// sharpness 0.17, generalized sharpness 0.207647, eta* 9.63173
}

// Every batch size at once: the basis is computed once. Three samples with curvatures 1, 2, 6
// (H = 3): lambda_gen = (1 - p) 3 + p (1 + 4 + 36)/3/3 falls from 41/9 at B = 1 to
// lambda_max(H) = 3 at B = n (Prop. 1), so eta* rises to GD's threshold 2/3.
func ExampleAnalyzeFactoredBatches() {
	in := &analysis.Factored{N: 3, K: 1, D: 1, Factors: [][]float64{{1}, {1.4142135623730951}, {2.449489742783178}}, OutputHessian: []float64{1}}
	reps, err := analysis.AnalyzeFactoredBatches(in, []int{1, 2, 3}, analysis.Options{})
	if err != nil {
		panic(err)
	}
	for _, rep := range reps {
		fmt.Printf("B %d: p %.3g, lambda_gen %.6g, eta* %.6g (GD %.6g)\n", rep.Diagnostics.Batch, rep.P, rep.GeneralizedSharpness, rep.EtaStar, rep.GDThreshold)
	}
	// Output:
	// B 1: p 1, lambda_gen 4.55556, eta* 0.439024 (GD 0.666667)
	// B 2: p 0.25, lambda_gen 3.38889, eta* 0.590164 (GD 0.666667)
	// B 3: p 0, lambda_gen 3, eta* 0.666667 (GD 0.666667)
}
