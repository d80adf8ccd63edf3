package validate

import (
	"context"
	"fmt"
	"math"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/train"
)

// Direction maps basis coordinates y (length lin.R) of a Linear built by GramLinear from
// train.GaussNewtonGram(ds, p, loss), with its factor u (U_r, (n K) x r), back to parameters:
// x = V y with V = G^T U_r diag(s)^{-1/2}, G the stacked M^{1/2} J_i = sqrt(2c) J_i at p and
// s_a = n L_a the Gram eigenvalues. V has orthonormal columns spanning range(H), so
// ||x|| = ||y|| and x^T H x = sum_a L_a y_a^2.
func Direction(ds *data.Dataset, p train.Params, loss string, lin *Linear, u, y []float64) ([]float64, error) {
	n, k, r := ds.N, ds.K, lin.R
	if lin.N != n || lin.K != k || len(u) != n*k*r || len(y) != r {
		return nil, fmt.Errorf("validate: Direction: Linear is %d x %d with U of %d entries and y of %d, want n = %d, K = %d, %d and %d",
			lin.N, lin.K, len(u), len(y), n, k, n*k*r, r)
	}
	c, err := train.LossScale(loss, k)
	if err != nil {
		return nil, err
	}
	coef := make([]float64, n*k) // sqrt(2c) U_r diag(s)^{-1/2} y
	for x := range coef {
		s := 0.0
		for a := 0; a < r; a++ {
			s += u[x*r+a] * y[a] / math.Sqrt(float64(n)*lin.L[a])
		}
		coef[x] = s * math.Sqrt(2*c)
	}
	return train.JacobianTMul(ds, p, coef)
}

// RestartOptions configures Restart. Zero values mean the defaults in the comments, except Eta
// and Batch, which are required.
type RestartOptions struct {
	// Process is train's batch scheme (internal/sampling): "independent" (default), "shuffle" or
	// "mixture" (ALG(p), p from Batch).
	Process string
	Batch   int     // B
	Eta     float64 // constant step size (no warm-up)
	Loss    string  // loss option of train (default "sum")
	// Epochs of the stability test; an epoch is ceil(n/B) steps ("independent", "mixture") or
	// floor(n/B) ("shuffle"). Default 20.
	Epochs int
	// EscapeLoss: the run escaped when the full-batch loss (evaluated after every epoch) exceeds
	// it. Required (> 0).
	EscapeLoss float64
	// DivergeLoss: a loss above it or not finite ends the run (diverged, counts as escaped).
	// Default 1e6.
	DivergeLoss float64
	// After an escape, training continues at the same eta until the loss stayed below
	// ConvThreshold for ConvEpochs consecutive epochs (reconverged) or ReconvergeEpochs more epochs
	// passed. ReconvergeEpochs = 0: stop at the escape.
	ConvThreshold    float64
	ConvEpochs       int
	ReconvergeEpochs int
	Seed             uint64
}

// RestartResult is the outcome of one restart.
type RestartResult struct {
	Escaped     bool    `json:"escaped"`
	EscapeEpoch int     `json:"escape_epoch,omitempty"` // first epoch whose loss exceeded EscapeLoss
	Diverged    bool    `json:"diverged"`
	MaxLoss     float64 `json:"max_loss"`   // largest epoch loss of the test window (+Inf: not finite)
	FinalLoss   float64 `json:"final_loss"` // loss at the end of the run
	Reconverged bool    `json:"reconverged"`
	Epochs      int     `json:"epochs"` // epochs run in total
	Steps       int     `json:"steps"`
	// LossCurve holds the loss after every epoch.
	LossCurve []float64 `json:"loss_curve"`
	// Params are the parameters at the end of the run.
	Params train.Params `json:"-"`
}

// reconvergeSalt changes the sampling seed of the continuation after an escape, so that it does
// not replay the batches of the test window.
const reconvergeSalt = 0x7265636f_6e766572 // "reconver"

// Restart runs SGD (or ALG(p)) with train.TrainFrom from start (w* plus a perturbation set by
// the caller) at a constant step size on the fused engine, and records whether the loss escapes.
// SGD draws every batch as a uniform random size-B subset, independently at every step (train's
// sampling "independent"); ALG(p) is train's sampling "mixture", p = (n-B)/(B(n-1)). The test
// window is one run of Epochs epochs that stops when the loss exceeds EscapeLoss (train's
// DivergeLoss); after an escape, a second run of at most ReconvergeEpochs epochs (seed
// Seed ^ reconvergeSalt) continues until train's convergence rule holds. A cancelled ctx
// returns ctx.Err() between epochs.
func Restart(ctx context.Context, ds *data.Dataset, start train.Params, opt RestartOptions) (*RestartResult, error) {
	var err error
	if opt.Process, err = scheme(opt.Process); err != nil {
		return nil, err
	}
	if opt.Epochs == 0 {
		opt.Epochs = 20
	}
	if opt.DivergeLoss == 0 {
		opt.DivergeLoss = 1e6
	}
	switch {
	case !(opt.EscapeLoss > 0):
		return nil, fmt.Errorf("validate: escape loss %v is not positive", opt.EscapeLoss)
	case opt.Epochs < 1 || opt.ReconvergeEpochs < 0:
		return nil, fmt.Errorf("validate: epochs %d, reconverge epochs %d", opt.Epochs, opt.ReconvergeEpochs)
	case opt.ReconvergeEpochs > 0 && (!(opt.ConvThreshold > 0) || opt.ConvEpochs < 1):
		return nil, fmt.Errorf("validate: reconvergence needs conv threshold > 0 and conv epochs >= 1")
	}
	// test window: no convergence stop (ConvEpochs beyond the window), escape = "diverged"
	cfg := train.Config{Model: train.Model{Hidden: start.Hidden, Loss: opt.Loss}, LR: opt.Eta, Batch: opt.Batch, Seed: opt.Seed, Procedure: train.Procedure{WarmupSteps: -1, MaxEpochs: opt.Epochs, ConvEpochs: opt.Epochs + 1, Sampling: opt.Process, DivergeLoss: math.Min(opt.EscapeLoss, opt.DivergeLoss), Engine: train.EngineFused}}
	r, err := train.TrainFrom(ctx, ds, cfg, start, nil)
	if err != nil {
		return nil, fmt.Errorf("validate: restart: %w", err)
	}
	res := &RestartResult{Epochs: r.Epochs, Steps: r.Steps, FinalLoss: r.FinalLoss, Params: r.Params,
		LossCurve: append([]float64(nil), r.LossCurve...)}
	for _, l := range r.LossCurve {
		if math.IsNaN(l) {
			l = math.Inf(1)
		}
		res.MaxLoss = math.Max(res.MaxLoss, l)
	}
	if r.Status != train.Diverged {
		return res, nil
	}
	res.Escaped, res.EscapeEpoch = true, r.Epochs
	if !(r.FinalLoss <= opt.DivergeLoss) {
		res.Diverged = true
		return res, nil
	}
	if opt.ReconvergeEpochs == 0 {
		return res, nil
	}
	cfg.MaxEpochs, cfg.ConvThreshold, cfg.ConvEpochs = opt.ReconvergeEpochs, opt.ConvThreshold, opt.ConvEpochs
	cfg.DivergeLoss, cfg.Seed = opt.DivergeLoss, opt.Seed^reconvergeSalt
	r, err = train.TrainFrom(ctx, ds, cfg, r.Params, nil)
	if err != nil {
		return nil, fmt.Errorf("validate: restart after the escape: %w", err)
	}
	res.Epochs += r.Epochs
	res.Steps += r.Steps
	res.FinalLoss, res.Params = r.FinalLoss, r.Params
	res.LossCurve = append(res.LossCurve, r.LossCurve...)
	res.Reconverged = r.Status == train.Converged
	res.Diverged = r.Status == train.Diverged
	return res, nil
}
