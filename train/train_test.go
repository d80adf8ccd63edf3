package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

func TestValidate(t *testing.T) {
	ok := Config{LR: 0.01, Batch: 8}
	if err := ok.Validate(512); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.LR = 0 }, "lr is not set"},
		{func(c *Config) { c.LR = -0.1 }, "lr = -0.1"},
		{func(c *Config) { c.LR = math.NaN() }, "lr = NaN"},
		{func(c *Config) { c.LR = math.Inf(1) }, "lr = +Inf"},
		{func(c *Config) { c.Batch = 0 }, "batch is not set"},
		{func(c *Config) { c.Batch = -3 }, "batch = -3"},
		{func(c *Config) { c.Batch = 513 }, "batch = 513"},
		{func(c *Config) { c.Hidden = -1 }, "hidden = -1"},
		{func(c *Config) { c.InitFactor = math.NaN() }, "init_factor = NaN"},
		{func(c *Config) { c.InitFactor = math.Inf(-1) }, "init_factor = -Inf"},
		{func(c *Config) { c.Loss = "l1" }, `unknown loss "l1"`},
		{func(c *Config) { c.Sampling = "cyclic" }, `unknown sampling "cyclic"`},
		{func(c *Config) { c.Engine = "torch" }, `unknown engine "torch"`},
		{func(c *Config) { c.ConvThreshold = -1 }, "conv_threshold"},
		{func(c *Config) { c.ConvEpochs = -1 }, "conv_epochs"},
		{func(c *Config) { c.MaxEpochs = -5 }, "max_epochs"},
		{func(c *Config) { c.DivergeLoss = -5 }, "diverge_loss"},
	} {
		c := ok
		tc.mod(&c)
		err := c.Validate(512)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", c, err, tc.want)
		}
		// Train refuses it before any work.
		if _, err := Train(context.Background(), tinyData(512, 3, 2, 1), c, nil); err == nil {
			t.Errorf("Train accepted %+v", c)
		}
	}
	d := Config{LR: 0.1, Batch: 2}.WithDefaults()
	if d.Hidden != DefaultHidden || d.InitFactor != DefaultInitFactor || d.Loss != LossSum || d.WarmupSteps != 0 || d.WarmupEpochs != DefaultWarmupEpochs ||
		d.ConvThreshold != 1e-6 || d.ConvEpochs != 200 || d.MaxEpochs != DefaultMaxEpochs || d.Sampling != sampling.Independent ||
		d.Engine != EngineFused || d.DivergeLoss != DefaultDivergeLoss || d.LR != 0.1 || d.Batch != 2 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestScheduleAndEpochs(t *testing.T) {
	c := Config{LR: 0.1, Batch: 3, Procedure: Procedure{WarmupSteps: 4}}
	for step, want := range []float64{0.025, 0.05, 0.075, 0.1, 0.1, 0.1} {
		if got := c.StepLR(step, 10); math.Abs(got-want) > 1e-15*want {
			t.Fatalf("step %d: lr %g, want %g", step, got, want)
		}
	}
	c.WarmupSteps = -1
	if c.StepLR(0, 10) != 0.1 || c.WarmupLength(10) != 0 {
		t.Fatal("no warm-up: first step not at full lr")
	}
	// In epochs: 1.5 epochs of ceil(10/3) = 4 steps is 6 steps; the default is 100 epochs.
	c = Config{LR: 0.1, Batch: 3, Procedure: Procedure{WarmupEpochs: 1.5}}
	if w := c.WarmupLength(10); w != 6 || math.Abs(c.StepLR(2, 10)-0.05) > 1e-16 {
		t.Fatalf("warm-up of 1.5 epochs: %d steps, lr(2) %g", w, c.StepLR(2, 10))
	}
	if w := (Config{LR: 0.1, Batch: 1}).WarmupLength(512); w != int(DefaultWarmupEpochs)*512 {
		t.Fatalf("default warm-up at B = 1: %d steps", w)
	}
	if w := (Config{LR: 0.1, Batch: 512}).WarmupLength(512); w != int(DefaultWarmupEpochs) {
		t.Fatalf("default warm-up at B = n: %d steps", w)
	}
	if err := (Config{LR: 0.1, Batch: 1, Procedure: Procedure{WarmupSteps: 5, WarmupEpochs: 2}}).Validate(10); err == nil {
		t.Fatal("both warm-up lengths accepted")
	}
	if got := c.StepsPerEpoch(10); got != 4 {
		t.Fatalf("independent: %d steps per epoch for n=10, B=3, want 4", got)
	}
	c.Sampling = sampling.Shuffle
	if got := c.StepsPerEpoch(10); got != 3 {
		t.Fatalf("shuffle: %d steps per epoch for n=10, B=3, want 3", got)
	}
}

func TestInitParams(t *testing.T) {
	const d, h, k, f = 784, 50, 4, 3.0
	p := InitParams(d, h, k, f, 42)
	if err := p.Check(d, k); err != nil {
		t.Fatal(err)
	}
	check := func(name string, v []float64, fanIn int) {
		bound := f / math.Sqrt(float64(fanIn))
		var s, s2, mx float64
		for _, x := range v {
			s += x
			s2 += x * x
			mx = max(mx, math.Abs(x))
		}
		n := float64(len(v))
		mean, varc := s/n, s2/n
		// uniform(-b, b): mean 0, variance b^2/3; tolerances ~5 standard errors
		if mx > bound || mx < 0.9*bound && len(v) > 100 {
			t.Errorf("%s: max |w| = %g, bound %g", name, mx, bound)
		}
		if math.Abs(mean) > 5*bound/math.Sqrt(3*n) || math.Abs(varc-bound*bound/3) > 5*bound*bound*0.3/math.Sqrt(n) {
			t.Errorf("%s: mean %g variance %g, want 0 and %g", name, mean, varc, bound*bound/3)
		}
	}
	check("w1", p.W1, d)
	check("b1", p.B1, d)
	check("w2", p.W2, h)
	q := InitParams(d, h, k, f, 42)
	r := InitParams(d, h, k, f, 43)
	if relDiff(p.Flat(), q.Flat()) != 0 || relDiff(p.Flat(), r.Flat()) == 0 {
		t.Fatal("initialization not determined by its seed")
	}
	back, err := ParamsFromFlat(p.Flat(), d, h, k)
	if err != nil || relDiff(back.Flat(), p.Flat()) != 0 || back.W1[3*d+5] != p.W1[3*d+5] {
		t.Fatal("flat round trip")
	}
}

// TestSamplerUniform checks that independent batches are duplicate-free uniform subsets (each
// sample in a fraction B/n of the batches, each pair in B(B-1)/(n(n-1))) and that shuffling covers
// each sample once per epoch.
func TestSamplerUniform(t *testing.T) {
	const n, b, steps = 10, 3, 60000
	s := newSampler(n, Config{Batch: b, Seed: 5}.WithDefaults())
	count := make([]float64, n)
	pair := make([]float64, n*n)
	for it := 0; it < steps; it++ {
		batch := s.Next()
		seen := map[int]bool{}
		for _, i := range batch {
			if seen[i] {
				t.Fatalf("duplicate %d in batch %v", i, batch)
			}
			seen[i] = true
			count[i]++
			for _, j := range batch {
				if i < j {
					pair[i*n+j]++
				}
			}
		}
	}
	p1, p2 := float64(b)/n, float64(b*(b-1))/(n*(n-1))
	for i := 0; i < n; i++ {
		if f := count[i] / steps; math.Abs(f-p1) > 5*math.Sqrt(p1*(1-p1)/steps) {
			t.Fatalf("sample %d in %.4f of batches, want %.4f", i, f, p1)
		}
		for j := i + 1; j < n; j++ {
			if f := pair[i*n+j] / steps; math.Abs(f-p2) > 5*math.Sqrt(p2*(1-p2)/steps) {
				t.Fatalf("pair %d,%d in %.4f of batches, want %.4f", i, j, f, p2)
			}
		}
	}
	sh := newSampler(n, Config{Batch: b, Seed: 5, Procedure: Procedure{Sampling: sampling.Shuffle}}.WithDefaults())
	for ep := 0; ep < 5; ep++ {
		seen := map[int]bool{}
		for k := 0; k < n/b; k++ {
			for _, i := range sh.Next() {
				if seen[i] {
					t.Fatalf("epoch %d: sample %d twice", ep, i)
				}
				seen[i] = true
			}
		}
	}
}

// TestDeterminism: the same configurations give bit-identical parameters with one worker or two,
// and different seeds give different ones.
func TestDeterminism(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	var cfgs []Config
	for _, b := range []int{1, 7, 64} {
		for _, seed := range []uint64{1, 2} {
			cfgs = append(cfgs, Config{Model: Model{Hidden: 6}, LR: 0.02, Batch: b, Seed: seed, Procedure: Procedure{MaxEpochs: 30, WarmupSteps: 50}})
		}
	}
	cfgs = append(cfgs, Config{Model: Model{Hidden: 6}, LR: 0.02, Batch: 5, Procedure: Procedure{Sampling: sampling.Shuffle, MaxEpochs: 30}})
	one, err := TrainMany(context.Background(), ds, cfgs, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	two, err := TrainMany(context.Background(), ds, cfgs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfgs {
		single, err := Train(context.Background(), ds, cfgs[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := one[i].Params.Flat(), two[i].Params.Flat(), single.Params.Flat()
		for q := range a {
			if a[q] != b[q] || a[q] != c[q] {
				t.Fatalf("config %d: parameter %d differs: %v %v %v", i, q, a[q], b[q], c[q])
			}
		}
		if one[i].Config != cfgs[i].WithDefaults() {
			t.Fatalf("results out of order")
		}
	}
	if relDiff(one[0].Params.Flat(), one[1].Params.Flat()) == 0 {
		t.Fatal("different seeds gave the same parameters")
	}
}

func TestStatuses(t *testing.T) {
	ds := subset(loadMNIST(t), 32)
	ctx := context.Background()
	conv, err := Train(ctx, ds, Config{Model: Model{Hidden: 16, InitFactor: 1}, LR: 0.05, Batch: 32, Procedure: Procedure{ConvThreshold: 1e-3, ConvEpochs: 5, MaxEpochs: 20000, WarmupSteps: 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if conv.Status != Converged || conv.FinalLoss >= 1e-3 || conv.Epochs != len(conv.LossCurve) || conv.Steps != conv.Epochs {
		t.Fatalf("status %s after %d epochs, loss %g", conv.Status, conv.Epochs, conv.FinalLoss)
	}
	for _, l := range conv.LossCurve[len(conv.LossCurve)-5:] {
		if l >= 1e-3 {
			t.Fatalf("converged but the last five losses are %v", conv.LossCurve[len(conv.LossCurve)-5:])
		}
	}
	if conv.LossCurve[len(conv.LossCurve)-6] < 1e-3 {
		t.Fatal("convergence declared late")
	}
	// The final loss is the loss of the returned parameters.
	if got := fullLossOf(ds, conv.Params, LossSum); math.Abs(got-conv.FinalLoss) > 1e-12*conv.FinalLoss {
		t.Fatalf("final loss %g, recomputed %g", conv.FinalLoss, got)
	}
	for _, eng := range []string{EngineFused, EngineGorgonia} {
		div, err := Train(ctx, ds, Config{Model: Model{Hidden: 4, InitFactor: 5}, LR: 100, Batch: 4, Procedure: Procedure{WarmupSteps: -1, MaxEpochs: 100, Engine: eng}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if div.Status != Diverged || div.Epochs >= 100 {
			t.Fatalf("%s: status %s after %d epochs", eng, div.Status, div.Epochs)
		}
		if _, err := json.Marshal(div); err != nil {
			t.Fatalf("diverged result does not encode: %v", err)
		}
	}
	lim, err := Train(ctx, ds, Config{Model: Model{Hidden: 4}, LR: 0.001, Batch: 4, Procedure: Procedure{MaxEpochs: 3}}, nil)
	if err != nil || lim.Status != EpochLimit || lim.Epochs != 3 || lim.Steps != 24 {
		t.Fatalf("epoch limit: %v %+v", err, lim)
	}
}

// fullLossOf is L(w) from the definition (independent of the engines).
func fullLossOf(ds *data.Dataset, p Params, loss string) float64 {
	c, _ := LossScale(loss, ds.K)
	var s float64
	for i := 0; i < ds.N; i++ {
		s += sampleLossAt(ds, p.Flat(), p.Hidden, c, i)
	}
	return s / float64(ds.N)
}

func TestCancel(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	ctx, cancel := context.WithCancel(context.Background())
	cfgs := []Config{{Model: Model{Hidden: 4}, LR: 0.01, Batch: 1, Procedure: Procedure{MaxEpochs: 1 << 20}}, {Model: Model{Hidden: 4}, LR: 0.01, Batch: 1, Procedure: Procedure{MaxEpochs: 1 << 20}}}
	calls := 0
	_, err := TrainMany(ctx, ds, cfgs, 2, func(p Progress) {
		calls++
		if calls == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestRunRecordRoundTrip(t *testing.T) {
	ds := subset(loadMNIST(t), 16)
	res, err := Train(context.Background(), ds, Config{Model: Model{Hidden: 3}, LR: 0.01, Batch: 4, Procedure: Procedure{MaxEpochs: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.LossCurve = append(res.LossCurve, math.NaN(), math.Inf(1))
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteRunRecord(path, NewRunRecord(ds, data.DefaultSelection(), res)); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRunRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Config != res.Config || rec.Status != res.Status || rec.Data.Checksum != ds.Checksum() ||
		relDiff(rec.Params.Flat(), res.Params.Flat()) != 0 || len(rec.LossCurve) != 4 ||
		rec.LossCurve[0] != res.LossCurve[0] || !math.IsNaN(rec.LossCurve[2]) || !math.IsInf(rec.LossCurve[3], 1) {
		t.Fatalf("round trip changed the record: %+v", rec.LossCurve)
	}
	if _, err := ReadRunRecord(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}
