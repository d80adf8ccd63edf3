package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// TestTrainFromInit: starting from the configuration's own initial point gives Train's run bit
// for bit, and start is not modified.
func TestTrainFromInit(t *testing.T) {
	ds := tinyData(12, 7, 3, 4)
	for _, eng := range []string{EngineFused, EngineGorgonia} {
		cfg := Config{Model: Model{Hidden: 5, InitSeed: 9}, LR: 0.05, Batch: 3, Seed: 2, Procedure: Procedure{MaxEpochs: 7, WarmupSteps: 5, Engine: eng}}
		ref, err := Train(context.Background(), ds, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := InitParams(ds.D, cfg.Hidden, ds.K, DefaultInitFactor, cfg.InitSeed)
		keep := start.Flat()
		got, err := TrainFrom(context.Background(), ds, cfg, start, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := relDiff(got.Params.Flat(), ref.Params.Flat()); d != 0 {
			t.Errorf("%s: TrainFrom(init) differs from Train by %g", eng, d)
		}
		if d := relDiff(start.Flat(), keep); d != 0 {
			t.Errorf("%s: TrainFrom modified its start", eng)
		}
		if relDiff(got.Params.Flat(), keep) == 0 {
			t.Errorf("%s: no step was taken", eng)
		}
	}
}

// TestTrainFromContinues: full-batch GD (deterministic batches) for 3 + 4 epochs from the end of
// the first part equals one run of 7 epochs bit for bit.
func TestTrainFromContinues(t *testing.T) {
	ds := tinyData(10, 6, 3, 7)
	for _, eng := range []string{EngineFused, EngineGorgonia} {
		cfg := Config{Model: Model{Hidden: 4}, LR: 0.1, Batch: ds.N, Procedure: Procedure{WarmupSteps: -1, ConvThreshold: 1e-300, MaxEpochs: 7, Engine: eng}}
		long, err := Train(context.Background(), ds, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxEpochs = 3
		first, err := Train(context.Background(), ds, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxEpochs = 4
		second, err := TrainFrom(context.Background(), ds, cfg, first.Params, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := relDiff(second.Params.Flat(), long.Params.Flat()); d != 0 || second.FinalLoss != long.FinalLoss {
			t.Errorf("%s: 3 + 4 epochs differ from 7 by %g (loss %v vs %v)", eng, d, second.FinalLoss, long.FinalLoss)
		}
		if first.FinalLoss == long.FinalLoss {
			t.Errorf("%s: the loss did not change between epochs 3 and 7", eng)
		}
	}
}

// step applies w -= eta (1/|batch|) sum_{i in batch} g_i with the gradients of
// PerSampleCurvature (an independent implementation of the gradient).
func referenceStep(t *testing.T, cfgLoss string, p Params, batch []int, eta float64) Params {
	t.Helper()
	ds := refData
	cv, err := PerSampleCurvature(ds, p, cfgLoss)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Flat()
	for _, i := range batch {
		for q, g := range cv.Gradients[i] {
			w[q] -= eta / float64(len(batch)) * g
		}
	}
	out, err := ParamsFromFlat(w, ds.D, p.Hidden, ds.K)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var refData = tinyData(9, 6, 3, 11)

// TestTrainFromStep: one full-batch step from a given point equals the step computed from
// PerSampleCurvature's gradients.
func TestTrainFromStep(t *testing.T) {
	ds := refData
	start := InitParams(ds.D, 4, ds.K, 2, 5)
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	for _, loss := range []string{LossSum, LossHalfMean} {
		want := referenceStep(t, loss, start, all, 0.3).Flat()
		for _, eng := range []string{EngineFused, EngineGorgonia} {
			res, err := TrainFrom(context.Background(), ds, Config{Model: Model{Hidden: 4, Loss: loss}, LR: 0.3, Batch: ds.N, Procedure: Procedure{WarmupSteps: -1, MaxEpochs: 1, Engine: eng}}, start, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := relDiff(res.Params.Flat(), want); d > 1e-13 || res.Steps != 1 {
				t.Errorf("%s %s: one step differs from the reference by %g (%d steps)", loss, eng, d, res.Steps)
			}
		}
	}
}

func TestTrainFromErrors(t *testing.T) {
	ds := refData
	good := InitParams(ds.D, 4, ds.K, 1, 1)
	cfg := Config{Model: Model{Hidden: 4}, LR: 0.1, Batch: 2, Procedure: Procedure{MaxEpochs: 1}}
	for _, tc := range []struct {
		cfg   Config
		start Params
		want  string
	}{
		{Config{LR: 0.1, Batch: 2, Procedure: Procedure{MaxEpochs: 1}}, good, fmt.Sprintf("hidden = %d, but the start parameters have 4", DefaultHidden)},
		{cfg, InitParams(ds.D+1, 4, ds.K, 1, 1), "start: train: parameters have shapes"},
		{cfg, Params{}, "start: train: parameters have shapes"},
		{Config{Model: Model{Hidden: 4}, LR: -1, Batch: 2}, good, "lr = -1"},
	} {
		_, err := TrainFrom(context.Background(), ds, tc.cfg, tc.start, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

// TestMixtureEpoch: an epoch of ALG(p) has ceil(n/B) steps, as for independent batches.
func TestMixtureEpoch(t *testing.T) {
	if cfg := (Config{LR: 1, Batch: 2, Procedure: Procedure{Sampling: sampling.Mixture}}); cfg.StepsPerEpoch(9) != 5 {
		t.Errorf("mixture epoch has %d steps, want ceil(9/2) = 5", cfg.StepsPerEpoch(9))
	}
}

// TestMixtureZeroIsGD: ALG(p) at B = n (p = 0) is full-batch GD bit for bit.
func TestMixtureZeroIsGD(t *testing.T) {
	ds := subset(loadMNIST(t), 40)
	cfg := Config{Model: Model{Hidden: 6}, LR: 0.05, Batch: ds.N, Seed: 3, Procedure: Procedure{MaxEpochs: 12, WarmupSteps: 4}}
	gd, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sampling = sampling.Mixture
	mix, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(mix.Params.Flat(), gd.Params.Flat()); d != 0 || mix.Steps != gd.Steps {
		t.Errorf("ALG(0) differs from GD by %g (%d vs %d steps)", d, mix.Steps, gd.Steps)
	}
	for e := range gd.LossCurve {
		if mix.LossCurve[e] != gd.LossCurve[e] {
			t.Fatalf("epoch %d: loss %v, GD %v", e+1, mix.LossCurve[e], gd.LossCurve[e])
		}
	}
}

// TestMixtureSteps replays ALG(p)'s documented draws (PCG(Seed, sampleStream): u < p gives a
// single-sample step on IntN(n), otherwise a full-batch step) with reference steps from
// PerSampleCurvature's gradients, warm-up included.
func TestMixtureSteps(t *testing.T) {
	ds := refData
	start := InitParams(ds.D, 3, ds.K, 1.5, 2)
	cfg := Config{Model: Model{Hidden: 3}, LR: 0.2, Batch: 2, Seed: 5, Procedure: Procedure{Sampling: sampling.Mixture, WarmupSteps: 3, MaxEpochs: 2}}
	res, err := TrainFrom(context.Background(), ds, cfg, start, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, sampleStream))
	p := sampling.P(ds.N, cfg.Batch)
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	w := start
	singles := 0
	for s := 0; s < res.Steps; s++ {
		batch := all
		if rng.Float64() < p {
			batch = []int{rng.IntN(ds.N)}
			singles++
		}
		w = referenceStep(t, LossSum, w, batch, cfg.StepLR(s, ds.N))
	}
	if res.Steps != 2*5 || singles == 0 || singles == res.Steps {
		t.Fatalf("%d steps, %d single-sample: the test needs both kinds", res.Steps, singles)
	}
	if d := relDiff(res.Params.Flat(), w.Flat()); d > 1e-12 {
		t.Errorf("ALG(p) differs from the replayed reference by %g", d)
	}
}

func TestMixtureGorgoniaRejected(t *testing.T) {
	err := Config{LR: 1, Batch: 2, Procedure: Procedure{Sampling: sampling.Mixture, Engine: EngineGorgonia}}.Validate(10)
	if err == nil || !strings.Contains(err.Error(), `sampling "mixture" needs engine "fused"`) {
		t.Errorf("error %v", err)
	}
}

// TestGaussNewtonGram checks the closed-form Gram matrix and JacobianTMul against
// PerSampleCurvature's Jacobians.
func TestGaussNewtonGram(t *testing.T) {
	ds := refData
	for _, loss := range []string{LossSum, LossMean} {
		p := InitParams(ds.D, 5, ds.K, 1, 3)
		cv, err := PerSampleCurvature(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		g, err := GaussNewtonGram(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		if diff := relDiff(cv.Gram, g); diff != 0 {
			t.Errorf("%s: PerSampleCurvature's Gram matrix differs from GaussNewtonGram's by %g", loss, diff)
		}
		k, nk, d, m := ds.K, ds.N*ds.K, cv.D, cv.OutputHessian[0]
		row := func(x int) []float64 { return cv.Jacobians[x/k][(x%k)*d : (x%k+1)*d] }
		for x := 0; x < nk; x++ {
			for y := 0; y < nk; y++ {
				if want := m * dot(row(x), row(y)); math.Abs(g[x*nk+y]-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("%s: Gram[%d,%d] = %v, want %v", loss, x, y, g[x*nk+y], want)
				}
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		v := make([]float64, nk)
		want := make([]float64, d)
		for x := range v {
			v[x] = rng.NormFloat64()
			for q, j := range row(x) {
				want[q] += v[x] * j
			}
		}
		got, err := JacobianTMul(ds, p, v)
		if err != nil {
			t.Fatal(err)
		}
		if diff := relDiff(got, want); diff > 1e-13 {
			t.Errorf("%s: JacobianTMul differs from J^T v by %g", loss, diff)
		}
	}
	if _, err := JacobianTMul(ds, InitParams(ds.D, 5, ds.K, 1, 3), make([]float64, 3)); err == nil {
		t.Error("JacobianTMul accepted a short v")
	}
}
