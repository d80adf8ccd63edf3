package validate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// RestartOptions configures Restart. Zero values mean the defaults in the comments, except Eta
// and Batch, which are required.
type RestartOptions struct {
	Process string  // ProcessSGD (default) or ProcessMixture (ALG(p), p from Batch)
	Batch   int     // B
	Eta     float64 // constant step size (no warm-up)
	// Epochs of the stability test; an epoch is ceil(n/B) steps for both processes. Default 20.
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
	MaxLoss     float64 `json:"max_loss"`   // largest epoch loss seen (during the test window)
	FinalLoss   float64 `json:"final_loss"` // loss at the end of the run
	Reconverged bool    `json:"reconverged"`
	Epochs      int     `json:"epochs"` // epochs run in total
	Steps       int     `json:"steps"`
	// LossCurve holds the loss after every epoch.
	LossCurve []float64 `json:"loss_curve"`
}

// Restart runs SGD (or ALG(p)) on nt from its current parameters (w* plus a perturbation set by
// the caller) at a constant step size, and records whether the loss escapes. The batch of each
// SGD step is a uniform random size-B subset drawn without replacement, independently at every
// step; ALG(p) takes a single-sample step on a uniform index with probability
// p = (n-B)/(B(n-1)), a full-batch step otherwise. Randomness from PCG(Seed, 0x5eed). nt is
// updated in place. A cancelled ctx returns ctx.Err() between epochs.
func Restart(ctx context.Context, nt *Net, opt RestartOptions) (*RestartResult, error) {
	n := nt.ds.N
	if opt.Process == "" {
		opt.Process = ProcessSGD
	}
	if opt.Epochs == 0 {
		opt.Epochs = 20
	}
	if opt.DivergeLoss == 0 {
		opt.DivergeLoss = 1e6
	}
	switch {
	case opt.Process != ProcessSGD && opt.Process != ProcessMixture:
		return nil, fmt.Errorf("validate: process %q is neither %q nor %q", opt.Process, ProcessSGD, ProcessMixture)
	case opt.Batch < 1 || opt.Batch > n:
		return nil, fmt.Errorf("validate: batch %d is outside 1..%d", opt.Batch, n)
	case !(opt.Eta > 0) || math.IsInf(opt.Eta, 0):
		return nil, fmt.Errorf("validate: step size %v is not positive and finite", opt.Eta)
	case !(opt.EscapeLoss > 0):
		return nil, fmt.Errorf("validate: escape loss %v is not positive", opt.EscapeLoss)
	case opt.Epochs < 1 || opt.ReconvergeEpochs < 0:
		return nil, fmt.Errorf("validate: epochs %d, reconverge epochs %d", opt.Epochs, opt.ReconvergeEpochs)
	case opt.ReconvergeEpochs > 0 && (!(opt.ConvThreshold > 0) || opt.ConvEpochs < 1):
		return nil, fmt.Errorf("validate: reconvergence needs conv threshold > 0 and conv epochs >= 1")
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	p := pBatch(n, opt.Batch)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	all := append([]int(nil), perm...)
	one := make([]int, 1)
	spe := (n + opt.Batch - 1) / opt.Batch
	res := &RestartResult{}
	limit := opt.Epochs
	streak := 0
	for epoch := 1; epoch <= limit; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for s := 0; s < spe; s++ {
			var batch []int
			switch {
			case opt.Process == ProcessSGD:
				batch = sampleBatch(rng, perm, opt.Batch)
			case rng.Float64() < p:
				one[0] = rng.IntN(n)
				batch = one
			default:
				batch = all
			}
			nt.Step(batch, opt.Eta)
			res.Steps++
		}
		loss := nt.Loss()
		res.Epochs = epoch
		res.LossCurve = append(res.LossCurve, loss)
		res.FinalLoss = loss
		if epoch <= opt.Epochs {
			res.MaxLoss = math.Max(res.MaxLoss, loss)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > opt.DivergeLoss {
			res.Diverged = true
			if !res.Escaped {
				res.Escaped, res.EscapeEpoch = true, epoch
			}
			if math.IsNaN(loss) {
				res.MaxLoss = math.Inf(1)
			}
			break
		}
		if !res.Escaped && loss > opt.EscapeLoss {
			res.Escaped, res.EscapeEpoch = true, epoch
			limit = epoch + opt.ReconvergeEpochs
			if opt.ReconvergeEpochs == 0 {
				break
			}
		}
		if res.Escaped {
			if loss < opt.ConvThreshold {
				streak++
			} else {
				streak = 0
			}
			if streak >= opt.ConvEpochs {
				res.Reconverged = true
				break
			}
		}
	}
	return res, nil
}
