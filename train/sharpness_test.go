package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// denseGNTop is lambda_max of the dense Gauss-Newton matrix (1/n) sum_i J_i^T M J_i formed from
// PerSampleCurvature's Jacobians and eigendecomposed by gonum (the oracle of the tracking).
func denseGNTop(t *testing.T, ds *data.Dataset, p Params, loss string) float64 {
	t.Helper()
	cv, err := PerSampleCurvature(ds, p, loss)
	if err != nil {
		t.Fatal(err)
	}
	d, k := cv.D, cv.K
	h := mat.NewSymDense(d, nil)
	for _, jac := range cv.Jacobians {
		for o := 0; o < k; o++ {
			row := jac[o*d : (o+1)*d]
			s := cv.OutputHessian[o*k+o] / float64(cv.N) // M = 2c I
			for a := 0; a < d; a++ {
				if row[a] == 0 {
					continue
				}
				for b := a; b < d; b++ {
					h.SetSym(a, b, h.At(a, b)+s*row[a]*row[b])
				}
			}
		}
	}
	ev := symEig(t, h)
	return ev[len(ev)-1]
}

// paramsAt retrains cfg without tracking for exactly epochs epochs: the parameters the tracked
// run had after that epoch (training is deterministic and tracking does not change it).
func paramsAt(t *testing.T, ds *data.Dataset, cfg Config, epochs int) Params {
	t.Helper()
	cfg.SharpnessEvery, cfg.MaxEpochs, cfg.ConvEpochs = 0, epochs, 1<<30
	res, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != epochs {
		t.Fatalf("retraining stopped after %d epochs, want %d", res.Epochs, epochs)
	}
	return res.Params
}

// TestSharpnessTrackingLeavesTrainingUnchanged: with tracking on, every engine and sampling
// scheme ends at the same parameters, bit for bit, with the same loss curve, and the path has
// epoch 0, every multiple of the interval and the last epoch.
func TestSharpnessTrackingLeavesTrainingUnchanged(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	for _, cfg := range []Config{
		{Model: Model{Hidden: 6, InitFactor: 3}, LR: 0.05, Batch: 4, Seed: 3, Procedure: Procedure{MaxEpochs: 23, WarmupSteps: 40}},
		{Model: Model{Hidden: 6}, LR: 0.02, Batch: 5, Procedure: Procedure{Sampling: sampling.Shuffle, MaxEpochs: 12}},
		{Model: Model{Hidden: 6}, LR: 0.02, Batch: 8, Procedure: Procedure{Sampling: sampling.Mixture, MaxEpochs: 12}},
		{Model: Model{Hidden: 6}, LR: 0.02, Batch: 8, Procedure: Procedure{Engine: EngineGorgonia, MaxEpochs: 6}},
		// converges early: the last checkpoint is the convergence epoch
		{Model: Model{Hidden: 6}, LR: 0.05, Batch: 64, Procedure: Procedure{ConvThreshold: 10, ConvEpochs: 3, MaxEpochs: 50}},
	} {
		name := fmt.Sprintf("%s/%s/B=%d", cfg.WithDefaults().Engine, cfg.WithDefaults().Sampling, cfg.Batch)
		plain, err := Train(context.Background(), ds, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		tracked := cfg
		tracked.SharpnessEvery = 5
		got, err := Train(context.Background(), ds, tracked, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b := plain.Params.Flat(), got.Params.Flat()
		for q := range a {
			if a[q] != b[q] {
				t.Fatalf("%s: parameter %d differs with tracking: %v vs %v", name, q, a[q], b[q])
			}
		}
		if !slices.Equal(plain.LossCurve, got.LossCurve) || plain.Status != got.Status || plain.Steps != got.Steps {
			t.Fatalf("%s: loss curve, status or steps differ with tracking", name)
		}
		if plain.SharpnessPath != nil {
			t.Errorf("%s: a path without tracking", name)
		}
		sp := got.SharpnessPath
		if sp == nil {
			t.Fatalf("%s: no path", name)
		}
		var want []int
		for e := 0; e < got.Epochs; e += 5 {
			want = append(want, e)
		}
		want = append(want, got.Epochs)
		if !slices.Equal(sp.Epochs, want) {
			t.Errorf("%s: path epochs %v, want %v", name, sp.Epochs, want)
		}
		for j, e := range sp.Epochs {
			step := max(e*got.StepsPerEpoch-1, 0) // the epoch's last step; the first at epoch 0
			if wantLR := got.Config.StepLR(step, ds.N); sp.StepSize[j] != wantLR {
				t.Errorf("%s: step size at epoch %d = %v, want %v", name, e, sp.StepSize[j], wantLR)
			}
			if !(sp.Sharpness[j] > 0) {
				t.Errorf("%s: sharpness at epoch %d = %v", name, e, sp.Sharpness[j])
			}
		}
		if got.Config.WarmupLength(ds.N) > 0 && !(sp.StepSize[0] < cfg.LR) {
			t.Errorf("%s: the warm-up's step size is not visible at epoch 0: %v", name, sp.StepSize[0])
		}
	}
}

// TestSharpnessTrackedAgainstDense checks the tracked values against the dense Gauss-Newton
// matrix's lambda_max at the same parameters (tiny network, d = 43): every value must lie within
// its recorded relative residual of lambda_max (some eigenvalue lies within it; this checks that
// it is the top one) and never above it.
func TestSharpnessTrackedAgainstDense(t *testing.T) {
	ds := tinyData(40, 6, 3, 7)
	cfg := Config{Model: Model{Hidden: 4, InitFactor: 4}, LR: 0.05, Batch: 2, Seed: 1,
		Procedure: Procedure{MaxEpochs: 30, WarmupSteps: 100, SharpnessEvery: 10}}
	res, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp := res.SharpnessPath
	if len(sp.Epochs) != 4 {
		t.Fatalf("path epochs %v", sp.Epochs)
	}
	for j, e := range sp.Epochs {
		p := InitParams(ds.D, 4, ds.K, 4, 0)
		if e > 0 {
			p = paramsAt(t, ds, cfg, e)
		}
		top := denseGNTop(t, ds, p, LossSum)
		got, rho := sp.Sharpness[j], sp.Residual[j]
		if got > top*(1+1e-10) || math.Abs(got-top) > math.Max(rho, 1e-10)*got {
			t.Errorf("epoch %d: tracked %v (residual %.2g), dense lambda_max %v", e, got, rho, top)
		}
	}
	if sp.Sharpness[0] == sp.Sharpness[3] {
		t.Error("the sharpness did not move during training: the test cannot tell checkpoints apart")
	}
}

// TestSharpnessTrackedAgainstFullLanczos: on MNIST (h = 20, large initialization and warm-up,
// as in the paper's experiment), the tracked values with the default options against Lanczos
// converged to 1e-8 (GNSharpness of PerSampleCurvature, from a random start) at the same
// parameters, at several checkpoints. Tolerance: the tracking stops at a relative Ritz residual
// of 1e-2, which bounds the eigenvalue error by about 1e-4 theta^2/gap; 2e-3 relative allows a
// gap of 5% of lambda_max, and each value must also lie within its own residual.
func TestSharpnessTrackedAgainstFullLanczos(t *testing.T) {
	if testing.Short() {
		t.Skip("MNIST training")
	}
	ds := subset(loadMNIST(t), 128)
	cfg := Config{Model: Model{Hidden: 20, InitFactor: 3}, LR: 0.03, Batch: 8, Seed: 2,
		Procedure: Procedure{MaxEpochs: 60, WarmupEpochs: 20, SharpnessEvery: 10}}
	res, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp := res.SharpnessPath
	for j, e := range sp.Epochs {
		if e != 0 && e != 20 && e != 60 {
			continue
		}
		p := InitParams(ds.D, 20, ds.K, 3, 0)
		if e > 0 {
			p = paramsAt(t, ds, cfg, e)
		}
		cv, err := PerSampleCurvature(ds, p, LossSum)
		if err != nil {
			t.Fatal(err)
		}
		got, rho, top := sp.Sharpness[j], sp.Residual[j], cv.GNSharpness
		t.Logf("epoch %d: tracked %.8g (residual %.2g), converged %.8g, rel. error %.2g", e, got, rho, top, (top-got)/top)
		if got > top*(1+1e-8) || math.Abs(got-top) > 2e-3*top || math.Abs(got-top) > math.Max(rho, 1e-8)*got {
			t.Errorf("epoch %d: tracked %v (residual %.2g), converged Lanczos %v", e, got, rho, top)
		}
	}
}

// TestSharpnessWarmStart: at the same parameters, the estimate warm-started from the top vector
// of an earlier point equals a cold start converged to 1e-10, within the warm estimate's own
// residual bound; and a warm start from the exact top vector converges in one product.
func TestSharpnessWarmStart(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	cfg := Config{Model: Model{Hidden: 8, InitFactor: 2}, LR: 0.05, Batch: 4, Seed: 5, Procedure: Procedure{WarmupSteps: 50}}
	p1, p2 := paramsAt(t, ds, cfg, 10), paramsAt(t, ds, cfg, 15)
	warm := newSharpnessTracker(ds, newSparseX(ds), LossSum, DefaultSharpnessOptions)
	if err := warm.record(10, cfg.LR, p1); err != nil {
		t.Fatal(err)
	}
	if err := warm.record(15, cfg.LR, p2); err != nil {
		t.Fatal(err)
	}
	cold := newSharpnessTracker(ds, newSparseX(ds), LossSum, SharpnessOptions{Tol: 1e-10, ColdApplications: 300})
	if err := cold.record(15, cfg.LR, p2); err != nil {
		t.Fatal(err)
	}
	w, rho, c := warm.path.Sharpness[1], warm.path.Residual[1], cold.path.Sharpness[0]
	t.Logf("warm %.10g (residual %.2g), cold %.10g", w, rho, c)
	if rho > DefaultSharpnessOptions.Tol && math.Abs(w-c) > 1e-3*c {
		t.Errorf("warm start did not converge (residual %.2g) and is off by %.2g", rho, (c-w)/c)
	}
	if w > c*(1+1e-9) || math.Abs(w-c) > rho*w {
		t.Errorf("warm start %v (residual %.2g) vs cold start %v", w, rho, c)
	}
	// from the converged top vector the first product already meets the tolerance
	again := newSharpnessTracker(ds, newSparseX(ds), LossSum, SharpnessOptions{Tol: 1e-6, MaxApplications: 1})
	again.prev = cold.prev
	if err := again.record(15, cfg.LR, p2); err != nil {
		t.Fatal(err)
	}
	if g := again.path.Sharpness[0]; math.Abs(g-c) > 1e-9*c || again.path.Residual[0] > 1e-6 {
		t.Errorf("warm start at the top vector: %v (residual %.2g), want %v", g, again.path.Residual[0], c)
	}
}

// TestGNProduct: the fused-kernel Gauss-Newton product equals the R-operator's (model.hvp,
// checked against finite differences and J^T M J in curvature_test.go) to rounding, on MNIST
// rows and on dense random inputs, with units of every kind (h = 13: one group of ten, rest).
func TestGNProduct(t *testing.T) {
	for name, ds := range map[string]*data.Dataset{"mnist": subset(loadMNIST(t), 48), "tiny": tinyData(30, 7, 3, 2)} {
		p := InitParams(ds.D, 13, ds.K, 2, 4)
		m, err := newModel(ds, p, LossHalfMean)
		if err != nil {
			t.Fatal(err)
		}
		m.cacheForward()
		rng := rand.New(rand.NewPCG(1, 2))
		v := make([]float64, m.nPars)
		for q := range v {
			v[q] = rng.NormFloat64()
		}
		want, got := make([]float64, m.nPars), make([]float64, m.nPars)
		m.hvp(v, want, true)
		g := newGNProduct(m)
		g.apply(v, got)
		g.apply(v, got) // scratch reused
		if d := relDiff(got, want); !(d < 1e-13) {
			t.Errorf("%s: fused Gauss-Newton product differs from the R-operator's by %.3g (relative)", name, d)
		}
		v[len(v)-1] += 1 // vb2: every sample's output
		g.apply(v, got)
		if relDiff(got, want) < 1e-13 {
			t.Errorf("%s: the product does not depend on v", name)
		}
	}
}

// TestSharpnessPathJSON: the path survives JSON with non-finite values; series of unequal
// lengths are refused; a Config without tracking encodes as before (no sharpness_every key).
func TestSharpnessPathJSON(t *testing.T) {
	in := SharpnessPath{Epochs: []int{0, 10, 20}, Sharpness: []float64{385.5, math.NaN(), math.Inf(1)},
		StepSize: []float64{1e-4, 0.01, 0.02}, Residual: []float64{1e-3, math.NaN(), math.Inf(-1)}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out SharpnessPath
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	same := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) })
	}
	if !slices.Equal(in.Epochs, out.Epochs) || !same(in.Sharpness, out.Sharpness) || !same(in.StepSize, out.StepSize) || !same(in.Residual, out.Residual) {
		t.Errorf("round trip: %+v -> %s -> %+v", in, b, out)
	}
	if err := json.Unmarshal([]byte(`{"epochs":[0,1],"sharpness":[1],"step_size":[1,2],"residual":[0,0]}`), &out); err == nil {
		t.Error("unequal series accepted")
	}
	plain, err := json.Marshal(Config{LR: 0.01, Batch: 8}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := json.Marshal(Config{LR: 0.01, Batch: 8, Procedure: Procedure{SharpnessEvery: 10}}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "sharpness") || !strings.HasSuffix(string(plain), `"engine":"fused"}`) ||
		strings.Replace(string(tracked), `,"sharpness_every":10`, "", 1) != string(plain) {
		t.Errorf("Config JSON without tracking %s, with %s", plain, tracked)
	}
	if err := (Config{LR: 0.01, Batch: 8, Procedure: Procedure{SharpnessEvery: -1}}).Validate(64); err == nil {
		t.Error("sharpness_every = -1 accepted")
	}
}

// BenchmarkSharpnessTracking measures what tracking every 10 epochs adds to a B = 8 run at
// h = 20 and h = 100, n = 512 (init factor 5 as in the paper's regime, the default warm-up):
// the same run without and with tracking, CPU seconds of the running thread (the machine is
// shared), and the Gauss-Newton products spent per checkpoint.
//
//	go test -tags openblas -run '^$' -bench SharpnessTracking -benchtime 1x ./train
func BenchmarkSharpnessTracking(b *testing.B) {
	ds := loadMNIST(b)
	for _, h := range []int{20, 100} {
		b.Run(fmt.Sprintf("h=%d", h), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cfg := Config{Model: Model{Hidden: h, InitFactor: 5}, LR: 0.02, Batch: 8, Seed: 1,
				Procedure: Procedure{MaxEpochs: 200, ConvEpochs: 1 << 30}}
			var plainCPU, trackCPU float64
			var plainWall, trackWall time.Duration
			var path *SharpnessPath
			for it := 0; it < b.N; it++ {
				c0, t0 := threadCPUSeconds(), time.Now()
				if _, err := Train(context.Background(), ds, cfg, nil); err != nil {
					b.Fatal(err)
				}
				c1, t1 := threadCPUSeconds(), time.Now()
				tc := cfg
				tc.SharpnessEvery = 10
				res, err := Train(context.Background(), ds, tc, nil)
				if err != nil {
					b.Fatal(err)
				}
				plainCPU += c1 - c0
				trackCPU += threadCPUSeconds() - c1
				plainWall += t1.Sub(t0)
				trackWall += time.Since(t1)
				path = res.SharpnessPath
			}
			b.ReportMetric(plainCPU/float64(b.N), "cpu-s/run")
			b.ReportMetric(trackCPU/float64(b.N), "cpu-s/tracked-run")
			b.ReportMetric(100*(trackCPU/plainCPU-1), "%overhead-cpu")
			b.ReportMetric(100*(trackWall.Seconds()/plainWall.Seconds()-1), "%overhead-wall")
			tr := newSharpnessTracker(ds, newSparseX(ds), LossSum, DefaultSharpnessOptions)
			p0 := InitParams(ds.D, h, ds.K, cfg.InitFactor, 0)
			c0 := threadCPUSeconds()
			if err := tr.record(0, 0, p0); err != nil {
				b.Fatal(err)
			}
			c1 := threadCPUSeconds()
			if err := tr.record(0, 0, p0); err != nil {
				b.Fatal(err)
			}
			c2 := threadCPUSeconds()
			b.ReportMetric(float64(tr.products[0]), "cold-products")
			b.ReportMetric(c1-c0, "cold-cpu-s")
			b.ReportMetric((c2-c1)/float64(tr.products[1]), "cpu-s/product")
			last := len(path.Epochs) - 1
			b.Logf("h=%d: %d checkpoints; sharpness %.4g at epoch 0, %.4g at epoch %d (residual %.2g); 2/eta = %g",
				h, len(path.Epochs), path.Sharpness[0], path.Sharpness[last], path.Epochs[last], path.Residual[last], 2/cfg.LR)
		})
	}
}
