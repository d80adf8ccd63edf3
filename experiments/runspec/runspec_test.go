package runspec

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/experiments/grid"
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

func TestOptions(t *testing.T) {
	base := "grid: [{lr: [0.1], batch: [1]}]\n"
	opt, err := Options(parse(t, base+"analysis: {options: {rel_width: 1e-4, bound25_starts: 8, center_gradients: false, max_applications: 50}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Options{RelWidth: 1e-4, Bound25Starts: 8, CenterGradients: false, MaxApplications: 50}
	if opt != want {
		t.Errorf("got %+v, want %+v", opt, want)
	}
	if opt, _ := Options(parse(t, base)); !opt.CenterGradients {
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
		"{rel_width: 2}":         "analysis.options.rel_width",       // out of range (analysis.Options.Validate)
		"{rel_width: 1e-300}":    "analysis.options.rel_width",       // below what the certificate can meet
		"{rank_tol: 1e-300}":     "analysis.options.rank_tol",
		"{psd_tol: -1}":          "analysis.options.psd_tol",
		"{bound25_max_iter: -1}": "analysis.options.bound25_max_iter",
	} {
		_, err := Options(parse(t, base+"analysis: {options: "+text+"}\n"))
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
	if !slices.Equal(OptionNames, want) {
		t.Errorf("option names %v, want %v", OptionNames, want)
	}
}

func key(t *testing.T, text string, i int) string {
	t.Helper()
	cfg := parse(t, text)
	r, err := Of(cfg, cfg.Runs()[i])
	if err != nil {
		t.Fatal(err)
	}
	return r.Spec.Key()
}

func TestKeys(t *testing.T) {
	base := "data: {per_class: 4}\ngrid: [{lr: [0.1], batch: [1, 2]}]\n"
	k := key(t, base, 0)
	if k == key(t, base, 1) {
		t.Error("batch sizes 1 and 2 share a key")
	}
	// Writing a default explicitly does not change the run, for training and analysis alike.
	for _, extra := range []string{
		"model: {hidden: 100, init_factor: 10, loss: sum}\ntraining: {conv_threshold: 1e-6, engine: fused}\n",
		"analysis: {covariance: true, hessian_sharpness: true}\n",
		"analysis: {options: {rel_width: 1e-6, rank_tol: 1e-10, bound25_starts: 32, max_applications: 600, center_gradients: true, seed: 0}}\n",
		"training: {sharpness_every: 0}\n",
	} {
		if k != key(t, base+extra, 0) {
			t.Errorf("explicit defaults %q changed the key", extra)
		}
	}
	for _, extra := range []string{
		"model: {hidden: 21}\n", "model: {init_factor: 2}\n", "model: {init_seed: 5}\n", "model: {loss: mean}\n",
		"training: {warmup_steps: 10}\n", "training: {warmup_epochs: 5}\n", "training: {max_epochs: 100}\n", "training: {sampling: shuffle}\n",
		"training: {engine: gorgonia}\n", "training: {diverge_loss: 1e5}\n", "training: {conv_epochs: 20}\n",
		"training: {sharpness_every: 10}\n",
		"analysis: {covariance: false}\n", "analysis: {hessian_sharpness: false}\n",
		"analysis: {options: {rel_width: 1e-3}}\n", "analysis: {options: {center_gradients: false}}\n",
		"data: {per_class: 4, random: true}\n", "seeds: [2]\n",
	} {
		text := base + extra
		if strings.HasPrefix(extra, "data:") {
			text = strings.Replace(base, "data: {per_class: 4}\n", extra, 1)
		}
		if key(t, text, 0) == k {
			t.Errorf("%q does not change the key", extra)
		}
	}
	// The spec of a run without sharpness tracking is the one written before tracking existed:
	// no sharpness_every key, and with tracking the spec differs by exactly that key.
	cfg := parse(t, base)
	plain, err := Of(cfg, cfg.Runs()[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg = parse(t, base+"training: {sharpness_every: 10}\n")
	tracked, err := Of(cfg, cfg.Runs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain.Spec.Train), "sharpness") ||
		strings.Replace(string(tracked.Spec.Train), `,"sharpness_every":10`, "", 1) != string(plain.Spec.Train) {
		t.Errorf("training spec without tracking %s, with %s", plain.Spec.Train, tracked.Spec.Train)
	}
	// A block's epoch limit replaces training.max_epochs for its runs only; the same limit
	// written either way is the same run.
	blocks := "data: {per_class: 4}\ngrid: [{lr: [0.1], batch: [1]}, {lr: [0.1], batch: [2], max_epochs: 100}]\n"
	if key(t, blocks, 0) != k || key(t, blocks, 1) == key(t, base, 1) {
		t.Error("a block's max_epochs changed the other block's run, or not its own")
	}
	if key(t, blocks, 1) != key(t, base+"training: {max_epochs: 100}\n", 1) {
		t.Error("max_epochs 100 from the block and from training give different runs")
	}
}

// The spec holds the resolved settings under their JSON names: every analysis option with its
// default, every train.Config field, so that the key depends on values and JSON names only.
func TestSpecResolved(t *testing.T) {
	cfg := parse(t, "data: {per_class: 4}\ngrid: [{lr: [0.25], batch: [2]}]\nanalysis: {options: {bound25_starts: 8}}\n")
	r, err := Of(cfg, cfg.Runs()[0])
	if err != nil {
		t.Fatal(err)
	}
	var as struct {
		HessianSharpness *bool          `json:"hessian_sharpness"`
		Options          map[string]any `json:"options"`
	}
	if err := json.Unmarshal(r.Spec.Analysis, &as); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"eta": 0.25, "seed": 0.0, "rel_width": 1e-6, "rank_tol": 1e-10, "sym_tol": 1e-8, "psd_tol": 1e-8,
		"grad_mean_tol": 1e-6, "center_gradients": true, "max_applications": 600.0, "bound25_starts": 8.0,
		"bound25_random": 16.0, "bound25_max_iter": 2000.0}
	if as.HessianSharpness == nil || !*as.HessianSharpness || len(as.Options) != len(want) {
		t.Fatalf("analysis settings %s", r.Spec.Analysis)
	}
	for k, v := range want {
		if as.Options[k] != v {
			t.Errorf("options.%s = %v, want %v", k, as.Options[k], v)
		}
	}
	var tc map[string]any
	if err := json.Unmarshal(r.Spec.Train, &tc); err != nil {
		t.Fatal(err)
	}
	wantTrain := map[string]any{"hidden": float64(train.DefaultHidden), "init_factor": train.DefaultInitFactor, "init_seed": 0.0, "loss": "sum",
		"lr": 0.25, "batch": 2.0, "seed": 1.0, "warmup_steps": 0.0, "warmup_epochs": train.DefaultWarmupEpochs,
		"conv_threshold": 1e-6, "conv_epochs": 200.0, "max_epochs": float64(train.DefaultMaxEpochs), "sampling": "independent",
		"diverge_loss": 1e6, "engine": "fused"}
	if len(tc) != len(wantTrain) {
		t.Errorf("training settings %s, want the %d keys of %v", r.Spec.Train, len(wantTrain), wantTrain)
	}
	for k, v := range wantTrain {
		if tc[k] != v {
			t.Errorf("train.%s = %v, want %v", k, tc[k], v)
		}
	}
	if r.Train != cfg.TrainConfig(cfg.Runs()[0]) || r.Analysis.Options.Eta != 0.25 {
		t.Errorf("run %+v", r)
	}
}

func TestOfRejects(t *testing.T) {
	// A configuration train rejects is reported with the file before anything runs.
	cfg := parse(t, "data: {per_class: 4}\ngrid: [{lr: [0.1], batch: [1]}]\n")
	cfg.Model.Loss = "cubic" // past the grid's own checks
	_, err := Of(cfg, cfg.Runs()[0])
	var ge *grid.Error
	if !errors.As(err, &ge) || ge.File != "g.yaml" || !strings.Contains(ge.Reason, "cubic") {
		t.Errorf("bad loss: %v", err)
	}
}

// Factored passes the curvature through unchanged (with its Gram matrix 2 J J^T): the analysis
// of a tiny curvature built by hand (two samples, K = 1, D = 2) gives the closed-form sharpness.
func TestFactored(t *testing.T) {
	c := &train.Curvature{N: 2, K: 1, D: 2, Jacobians: [][]float64{{1, 0}, {0, 2}}, OutputHessian: []float64{2},
		Gradients: [][]float64{{0, 0}, {0, 0}}, OutputGradients: []float64{0, 0}, Gram: []float64{2, 0, 0, 8}}
	f := Factored(c)
	if f.N != 2 || f.K != 1 || f.D != 2 || &f.Factors[1][0] != &c.Jacobians[1][0] || &f.OutputHessian[0] != &c.OutputHessian[0] ||
		&f.Gradients[0][0] != &c.Gradients[0][0] || &f.OutputGradients[0] != &c.OutputGradients[0] || &f.Gram[0] != &c.Gram[0] {
		t.Fatalf("factored %+v", f)
	}
	rep, err := analysis.AnalyzeFactored(f, 1, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// H = (1/2)(J_1^T 2 J_1 + J_2^T 2 J_2) = diag(1, 4): sharpness 4.
	if d := rep.Sharpness - 4; d > 1e-12 || d < -1e-12 {
		t.Errorf("sharpness %v, want 4", rep.Sharpness)
	}
}

// A run whose analysis cannot fit the memory limit is refused by Of (so the sweep and its dry run
// fail at plan time); the shape is the network's.
func TestOfRefusesTooLarge(t *testing.T) {
	base := "grid: [{lr: [0.1], batch: [1]}]\n"
	cfg := parse(t, base+"model: {hidden: 1000000000}\n")
	if _, err := Of(cfg, cfg.Runs()[0]); err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "-max-memory") {
		t.Errorf("hidden = 1e9: %v", err)
	}
	small := parse(t, base+"model: {hidden: 3}\n")
	if n, k, d, _ := Shape(small, small.TrainConfig(small.Runs()[0])); n != small.N() || k != 4 || d != 3*784+3+4*3+4 {
		t.Errorf("shape n %d k %d d %d", n, k, d)
	}
	if _, err := Of(small, small.Runs()[0]); err != nil {
		t.Errorf("hidden = 3: %v", err)
	}
}
