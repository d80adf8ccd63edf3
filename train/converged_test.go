package train

import (
	"context"
	"math"
	"testing"
)

// TestConvergedRunCurvature trains a small real run to convergence by the paper's rule and checks
// the curvature at its minimum: the mean gradient vanishes, the exact Hessian is its Gauss-Newton
// part up to a small residual, and the sharpness obeys the necessary stability condition
// lambda_max(H) <= 2/eta (Thm 1: the mean of SGD follows GD).
func TestConvergedRunCurvature(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	cfg := Config{Model: Model{Hidden: 8, InitFactor: 1}, LR: 0.03, Batch: 2, Seed: 3}
	res, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Converged || res.FinalLoss >= 1e-6 {
		t.Fatalf("status %s after %d epochs, loss %g", res.Status, res.Epochs, res.FinalLoss)
	}
	cv, err := PerSampleCurvature(ds, res.Params, LossSum)
	if err != nil {
		t.Fatal(err)
	}
	g := fullGradient(cv)
	var gn, gi float64
	for q := range g {
		gn += g[q] * g[q]
	}
	for _, v := range cv.Gradients[0] {
		gi += v * v
	}
	hs, err := HessianSharpness(ds, res.Params, LossSum)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converged in %d epochs: loss %.3g, |grad L| %.3g, |g_0| %.3g, lambda_max(H) %.6g, lambda_max(H_GN) %.6g, 2/eta %.4g, residual rel %.3g",
		res.Epochs, res.FinalLoss, math.Sqrt(gn), math.Sqrt(gi), hs, cv.GNSharpness, 2/cfg.LR, cv.ResidualRel)
	if math.Sqrt(gn) > 1e-2 {
		t.Fatalf("mean gradient %g at a minimum", math.Sqrt(gn))
	}
	if cv.ResidualRel > 1e-2 || math.Abs(hs-cv.GNSharpness) > 1e-2*hs {
		t.Fatalf("residual %g, sharpness %g vs Gauss-Newton %g", cv.ResidualRel, hs, cv.GNSharpness)
	}
	if hs > 2/cfg.LR*(1+1e-6) {
		t.Fatalf("SGD converged at sharpness %g > 2/eta = %g", hs, 2/cfg.LR)
	}
}
