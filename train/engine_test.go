package train

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

var (
	mnistOnce sync.Once
	mnist     *data.Dataset
	mnistErr  error
)

// loadMNIST returns the default 512-image subset (shared by the tests).
func loadMNIST(t testing.TB) *data.Dataset {
	t.Helper()
	mnistOnce.Do(func() { mnist, mnistErr = data.Load(data.DefaultSelection()) })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnist
}

// loadSparseMNIST returns loadMNIST's subset, its inputs in sparse form and the loss scale c of
// the summed loss: what the tests that build fused engines directly start from.
func loadSparseMNIST(t testing.TB) (*data.Dataset, *sparseX, float64) {
	t.Helper()
	ds := loadMNIST(t)
	c, _ := LossScale(LossSum, ds.K)
	return ds, newSparseX(ds), c
}

// subset returns the first m samples of ds.
func subset(ds *data.Dataset, m int) *data.Dataset {
	s := *ds
	s.N = m
	s.X, s.Y = ds.X[:m*ds.D], ds.Y[:m*ds.K]
	s.Labels, s.Class, s.Source = ds.Labels[:m], ds.Class[:m], ds.Source[:m]
	return &s
}

func relDiff(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num / den)
}

// TestFusedMatchesGorgonia trains the same configuration with both engines for 10,000 SGD steps
// and compares the parameters.
func TestFusedMatchesGorgonia(t *testing.T) {
	full := loadMNIST(t)
	// MNIST at small batches; the larger batches, where gorgonia's cost grows with B x D, on a
	// synthetic data set with D = 64 inputs (67% nonzero) to keep the test fast.
	small := tinyData(32, 64, 4, 9)
	cases := []struct {
		name  string
		ds    *data.Dataset
		batch int
		lr    float64
		loss  string
		samp  string
	}{
		{"MNIST-B1", full, 1, 0.01, LossSum, sampling.Independent},
		{"MNIST-B8-shuffle-mean", full, 8, 0.02, LossMean, sampling.Shuffle},
		{"B=n=32", small, 32, 0.05, LossHalfSum, sampling.Independent},
		{"B=n=24-gemm", subset(small, 24), 24, 0.05, LossHalfSum, sampling.Independent},
		{"B20of32-gemm", small, 20, 0.05, LossSum, sampling.Independent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := tc.ds
			if strings.HasSuffix(tc.name, "-gemm") {
				gemmMinOverride = 16
				defer func() { gemmMinOverride = 0 }()
			}
			steps := 10000
			cfg := Config{Model: Model{Hidden: 8, Loss: tc.loss, InitFactor: 1, InitSeed: 3}, LR: tc.lr, Batch: tc.batch, Seed: 11, Procedure: Procedure{Sampling: tc.samp, WarmupSteps: 500, ConvEpochs: 1 << 30}}
			cfg.MaxEpochs = (steps + cfg.StepsPerEpoch(ds.N) - 1) / cfg.StepsPerEpoch(ds.N)
			var ps [2]Params
			for e, eng := range []string{EngineFused, EngineGorgonia} {
				cfg.Engine = eng
				res, err := Train(context.Background(), ds, cfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Steps < steps || res.Status != EpochLimit {
					t.Fatalf("%s: %d steps, status %s", eng, res.Steps, res.Status)
				}
				ps[e] = res.Params
				t.Logf("%s: %d steps, final loss %.3g, %.2fs", eng, res.Steps, res.FinalLoss, res.Seconds)
			}
			init := InitParams(ds.D, cfg.Hidden, ds.K, cfg.InitFactor, cfg.InitSeed).Flat()
			if moved := relDiff(ps[0].Flat(), init); moved < 1e-3 {
				t.Fatalf("parameters moved only %.3g relative: the comparison would be vacuous", moved)
			}
			if d := relDiff(ps[0].Flat(), ps[1].Flat()); !(d <= 1e-12) {
				t.Fatalf("fused and gorgonia parameters differ by %.3g relative after %d steps", d, steps)
			} else {
				t.Logf("relative difference %.3g", d)
			}
		})
	}
}
