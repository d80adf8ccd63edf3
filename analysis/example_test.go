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
