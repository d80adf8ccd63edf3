package train

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// floatsDigest is FNV-1a over the IEEE bits of xs.
func floatsDigest(xs []float64) string {
	h := fnv.New64a()
	var b [8]byte
	for _, x := range xs {
		u := math.Float64bits(x)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		h.Write(b[:])
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// trajectoryCase is one pinned configuration of TestTrajectoryGolden.
type trajectoryCase struct {
	name string
	ds   *data.Dataset
	cfg  Config
}

func trajectoryCases(t *testing.T) []trajectoryCase {
	full := loadMNIST(t)
	small := subset(full, 48)
	dense := tinyData(40, 64, 4, 5)
	proc := func(epochs int) Procedure {
		return Procedure{MaxEpochs: epochs, ConvEpochs: 1 << 30, WarmupSteps: 50}
	}
	var cs []trajectoryCase
	for _, h := range []int{20, 100} {
		for _, b := range []int{1, 8, 64, 512} {
			epochs := map[int]int{1: 1, 8: 2, 64: 6, 512: 40}[b]
			if h == 100 {
				epochs = max(1, epochs/2)
			}
			cs = append(cs, trajectoryCase{fmt.Sprintf("MNIST/h%d/B%d", h, b), full,
				Config{Model: Model{Hidden: h, InitFactor: 2, InitSeed: 1}, LR: 0.02, Batch: b, Seed: 7, Procedure: proc(epochs)}})
		}
	}
	// Runs that stop by the convergence rule (B = n and B < n) and by divergence.
	conv := Procedure{MaxEpochs: 3000, ConvThreshold: 2e-2, ConvEpochs: 25, WarmupSteps: 20}
	cs = append(cs,
		trajectoryCase{"converge/B=n", small, Config{Model: Model{Hidden: 12, InitFactor: 1, InitSeed: 2}, LR: 0.1, Batch: 48, Procedure: conv}},
		trajectoryCase{"converge/B8-shuffle-mean", small, Config{Model: Model{Hidden: 12, InitFactor: 1, InitSeed: 2, Loss: LossMean}, LR: 0.2, Batch: 8, Seed: 3,
			Procedure: Procedure{MaxEpochs: 3000, ConvThreshold: 1e-2, ConvEpochs: 25, Sampling: sampling.Shuffle}}},
		trajectoryCase{"diverge/B=n", small, Config{Model: Model{Hidden: 12, InitFactor: 1, InitSeed: 2}, LR: 3, Batch: 48, Procedure: conv}},
		trajectoryCase{"mixture", small, Config{Model: Model{Hidden: 12, InitFactor: 1, InitSeed: 2}, LR: 0.05, Batch: 4, Seed: 9,
			Procedure: Procedure{MaxEpochs: 40, ConvEpochs: 1 << 30, Sampling: sampling.Mixture}}},
		trajectoryCase{"dense/B=n", dense, Config{Model: Model{Hidden: 9, InitFactor: 1, InitSeed: 4, Loss: LossHalfSum}, LR: 0.05, Batch: 40, Procedure: proc(200)}},
		trajectoryCase{"dense/B5", dense, Config{Model: Model{Hidden: 9, InitFactor: 1, InitSeed: 4}, LR: 0.02, Batch: 5, Seed: 1, Procedure: proc(30)}},
	)
	return cs
}

// TestTrajectoryGolden pins the training trajectory of the fused engine, bit for bit, to the
// one recorded in testdata/trajectory_golden.json: the status, the epochs and steps, every
// per-epoch full-batch loss (the convergence rule's input) and the final parameters, at h = 20
// and 100, every benchmarked batch size, runs that converge and diverge, and the mixture sampler.
// A faster kernel must reproduce these numbers exactly (every sum in the same order); regenerate
// with -update only for an intended change of the arithmetic, and say which runs it changes.
func TestTrajectoryGolden(t *testing.T) {
	got := map[string]map[string]string{}
	for _, tc := range trajectoryCases(t) {
		res, err := Train(context.Background(), tc.ds, tc.cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got[tc.name] = map[string]string{
			"status":     string(res.Status),
			"epochs":     fmt.Sprint(res.Epochs),
			"steps":      fmt.Sprint(res.Steps),
			"final_loss": fmt.Sprintf("%016x", math.Float64bits(res.FinalLoss)),
			"loss_curve": floatsDigest(res.LossCurve),
			"params":     floatsDigest(res.Params.Flat()),
		}
		t.Logf("%s: %s after %d epochs, final loss %.6g", tc.name, res.Status, res.Epochs, res.FinalLoss)
	}
	var want map[string]map[string]string
	golden(t, "trajectory_golden.json", got, &want)
	if len(want) != len(got) {
		t.Fatalf("%d golden trajectories, %d cases", len(want), len(got))
	}
	for name, w := range want {
		for field, v := range w {
			if got[name][field] != v {
				t.Errorf("%s: %s = %s, recorded %s", name, field, got[name][field], v)
			}
		}
	}
}
