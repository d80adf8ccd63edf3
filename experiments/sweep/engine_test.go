package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/train"
)

func parse(t *testing.T, text string) *grid.Config {
	t.Helper()
	cfg, err := grid.Parse([]byte(text), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAnalysisOptions(t *testing.T) {
	base := "grid: [{lr: [0.1], batch: [1]}]\n"
	opt, err := analysisOptions(parse(t, base+"analysis: {options: {rel_width: 1e-4, bound25_starts: 8, center_gradients: false, max_applications: 50}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Options{RelWidth: 1e-4, Bound25Starts: 8, CenterGradients: false, MaxApplications: 50}
	if opt != want {
		t.Errorf("got %+v, want %+v", opt, want)
	}
	if opt, _ := analysisOptions(parse(t, base)); !opt.CenterGradients {
		t.Errorf("center_gradients is not on by default")
	}
	for text, key := range map[string]string{
		"{relwidht: 1}":          "analysis.options.relwidht",
		"{eta: 0.1}":             "analysis.options.eta",
		"{rel_width: wide}":      "analysis.options.rel_width",
		"{bound25_starts: 1.5}":  "analysis.options.bound25_starts",
		"{center_gradients: 1}":  "analysis.options.center_gradients",
		"{bound25_random: [1]}":  "analysis.options.bound25_random",
		"{rank_tol: {a: 1}}":     "analysis.options.rank_tol",
		"{psd_tol: 1, zzz: nil}": "analysis.options.zzz",
		"{MaxApplications: 5}":   "analysis.options.MaxApplications", // JSON names only
	} {
		_, err := analysisOptions(parse(t, base+"analysis: {options: "+text+"}\n"))
		var ge *grid.Error
		if !errors.As(err, &ge) || ge.Key != key || ge.File != "g.yaml" {
			t.Errorf("%s: error %v, want key %s", text, err, key)
		}
	}
}

// TestOptionNames checks that every analysis option a grid may set has a JSON name.
func TestOptionNames(t *testing.T) {
	want := []string{"bound25_max_iter", "bound25_random", "bound25_starts", "center_gradients", "grad_mean_tol",
		"max_applications", "psd_tol", "rank_tol", "rel_width", "seed", "sym_tol"}
	if !slices.Equal(optionNames, want) {
		t.Errorf("option names %v, want %v", optionNames, want)
	}
}

func TestEngineSpec(t *testing.T) {
	base := "data: {per_class: 4}\ngrid: [{lr: [0.1], batch: [1, 2]}]\n"
	key := func(text string, i int) string {
		t.Helper()
		e, err := NewEngine(parse(t, text), "")
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.Spec(parse(t, text).Runs()[i])
		if err != nil {
			t.Fatal(err)
		}
		return s.Key()
	}
	k := key(base, 0)
	if k == key(base, 1) {
		t.Error("batch sizes 1 and 2 share a key")
	}
	// Writing a default explicitly does not change the run.
	if k != key(base+"model: {hidden: 20, loss: sum}\ntraining: {conv_threshold: 1e-6, engine: fused}\n", 0) {
		t.Error("explicit defaults changed the key")
	}
	for _, extra := range []string{
		"model: {hidden: 21}\n", "model: {init_factor: 2}\n", "model: {init_seed: 5}\n", "model: {loss: mean}\n",
		"training: {warmup_steps: 10}\n", "training: {warmup_epochs: 5}\n", "training: {max_epochs: 100}\n", "training: {sampling: shuffle}\n",
		"training: {engine: gorgonia}\n", "analysis: {covariance: false}\n", "analysis: {hessian_sharpness: false}\n",
		"analysis: {options: {rel_width: 1e-3}}\n", "data: {per_class: 4, random: true}\n",
	} {
		text := base + extra
		if strings.HasPrefix(extra, "data:") {
			text = strings.Replace(base, "data: {per_class: 4}\n", extra, 1)
		}
		if key(text, 0) == k {
			t.Errorf("%q does not change the key", extra)
		}
	}
	// A block's epoch limit replaces training.max_epochs for its runs only; the same limit
	// written either way is the same run.
	blocks := "data: {per_class: 4}\ngrid: [{lr: [0.1], batch: [1]}, {lr: [0.1], batch: [2], max_epochs: 100}]\n"
	if key(blocks, 0) != k || key(blocks, 1) == key(base, 1) {
		t.Error("a block's max_epochs changed the other block's run, or not its own")
	}
	if key(blocks, 1) != key(base+"training: {max_epochs: 100}\n", 1) {
		t.Error("max_epochs 100 from the block and from training give different runs")
	}
	// A configuration train rejects is reported with the file before anything runs.
	_, err := NewEngine(parse(t, base+"model: {loss: cubic}\n"), "")
	var ge *grid.Error
	if !errors.As(err, &ge) || ge.File != "g.yaml" || !strings.Contains(ge.Reason, "cubic") {
		t.Errorf("bad loss: %v", err)
	}
}

// Every field of train.Config must come from the grid (or from the run): a field added to
// train.Config without a grid key would silently keep its default.
func TestTrainConfigFieldsAreWired(t *testing.T) {
	wired := map[string]bool{
		"Hidden": true, "InitFactor": true, "InitSeed": true, "Loss": true, // model
		"LR": true, "Batch": true, "Seed": true, // the run
		"WarmupSteps": true, "WarmupEpochs": true, "ConvThreshold": true, "ConvEpochs": true, // training
		"MaxEpochs": true, "Sampling": true, "DivergeLoss": true, "Engine": true,
	}
	typ := reflect.TypeFor[train.Config]()
	for i := 0; i < typ.NumField(); i++ {
		if f := typ.Field(i); f.IsExported() && !wired[f.Name] {
			t.Errorf("train.Config.%s has no grid key (add it to grid.Model or grid.Training and trainConfig)", f.Name)
		}
	}
	// And the wiring passes values through.
	cfg := parse(t, "data: {per_class: 4}\nmodel: {hidden: 3, init_factor: 2.5, init_seed: 9, loss: mean}\n"+
		"training: {warmup_steps: 7, warmup_epochs: 1.5, conv_threshold: 1e-5, conv_epochs: 3, max_epochs: 50, sampling: shuffle, diverge_loss: 99, engine: gorgonia}\n"+
		"grid: [{lr: [0.25], batch: [2]}]\nseeds: [4]\n")
	e := &realEngine{cfg: cfg}
	got := e.trainConfig(cfg.Runs()[0])
	want := train.Config{Hidden: 3, InitFactor: 2.5, InitSeed: 9, Loss: "mean", LR: 0.25, Batch: 2, Seed: 4,
		WarmupSteps: 7, WarmupEpochs: 1.5, ConvThreshold: 1e-5, ConvEpochs: 3, MaxEpochs: 50, Sampling: "shuffle",
		DivergeLoss: 99, Engine: "gorgonia"}
	if got != want {
		t.Errorf("trainConfig\n got %+v\nwant %+v", got, want)
	}
}

// TestRealEngine trains and analyses a tiny grid in-process and checks the wiring between train
// and analysis against independent facts: p = (n-B)/(B(n-1)) for the run's B, and Weyl's
// inequality |lambda_max(H) - lambda_max(H_GN)| <= ||H - H_GN|| = residual_rel lambda_max(H_GN)
// between the exact Hessian's Lanczos sharpness (train) and the Gauss-Newton sharpness (analysis).
func TestRealEngine(t *testing.T) {
	mnist, err := data.Locate("")
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	text := tinyGrid + "output: " + filepath.Join(dir, "out") + "\nstore: " + filepath.Join(dir, "store") + "\n"
	cfg := parse(t, text)
	eng, err := NewEngine(cfg, mnist)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Open(cfg.Store)
	r := &Runner{Config: cfg, Store: st, Engine: eng, Workers: 2, Display: &Display{W: &syncWriter{w: new(bytes.Buffer)}, Heartbeat: time.Hour}}
	runs := cfg.Runs()
	tasks, err := r.Plan(runs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Sweep(context.Background(), tasks)
	if err != nil || out.Failed != 0 || out.Ran != len(runs) {
		t.Fatalf("sweep: %+v %v", out, err)
	}
	n := cfg.N()
	converged := 0
	for _, task := range tasks {
		rec := task.Record
		if task.Run.LR == 40 {
			if rec.Status != "diverged" {
				t.Errorf("%v: %s", task.Run, rec.Status)
			}
			continue
		}
		if rec.Status != "converged" {
			continue
		}
		converged++
		var rep struct {
			P, Sharpness, Bound15, Bound25, GeneralizedSharpness float64
			CovarianceTrace                                      *float64 `json:"covariance_trace"`
		}
		if err := json.Unmarshal(rec.Analysis, &rep); err != nil {
			t.Fatal(err)
		}
		b := task.Run.Batch
		if wantP := float64(n-b) / float64(b*(n-1)); math.Abs(rep.P-wantP) > 1e-15 {
			t.Errorf("%v: p = %v, want %v", task.Run, rep.P, wantP)
		}
		hs, res := float64(*rec.HessianSharpness), float64(*rec.ResidualRel)
		if math.Abs(hs-rep.Sharpness) > res*rep.Sharpness*(1+1e-6)+1e-8*rep.Sharpness {
			t.Errorf("%v: exact sharpness %v and Gauss-Newton %v differ by more than the residual %v allows", task.Run, hs, rep.Sharpness, res)
		}
		if rep.CovarianceTrace == nil && len(rec.Notes) == 0 {
			t.Errorf("%v: covariance asked for, neither computed nor explained", task.Run)
		}
		if rec.DataChecksum == "" || rec.Backend == "" || rec.AnalysisSeconds <= 0 {
			t.Errorf("%v: provenance missing: %q %q %v", task.Run, rec.DataChecksum, rec.Backend, rec.AnalysisSeconds)
		}
	}
	if converged == 0 {
		t.Fatal("no run of the tiny grid converged")
	}
}
