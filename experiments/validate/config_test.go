package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyGridYAML is a grid on a tiny problem (n = 16, hidden 5, d = 3949) whose two runs converge
// in well under a second; STORE is replaced by the test's store directory.
const tinyGridYAML = `name: tiny
store: STORE
data: {classes: [0, 1, 2, 3], per_class: 4}
model: {hidden: 5, init_factor: 1, init_seed: 0, loss: sum}
training: {warmup_steps: 0, conv_threshold: 1e-6, conv_epochs: 20, max_epochs: 3000, sampling: independent, engine: fused}
grid:
  - {name: a, lr: [0.02], batch: [1]}
  - {name: b, lr: [0.05], batch: [4]}
seeds: [1]
analysis: {covariance: false, hessian_sharpness: false}
`

// tinyYAML is a complete, valid validation config for the minima of tinyGridYAML (written beside
// it as tiny-grid.yaml); OUTPUT is replaced by the test's directory.
const tinyYAML = `name: tiny
grid: tiny-grid.yaml
output: OUTPUT
minima:
  - {lr: 0.02, batch: 1, seed: 1}
  - {lr: 0.05, batch: 4, seed: 1}
c: [0.8, 1.25]
linear:
  chains: 16
  replicas: 3
  truncate: 10
  window: 20
  min_steps: 10
  max_steps: 60
nonlinear:
  seeds: 1
  mixture_seeds: 1
  epochs: 3
  mixture_epochs: 2
  perturb_loss: 1e-7
  escape_factor: 100
  reconverge_epochs: 0
  reconverge_conv_epochs: 50
`

// writeConfig writes text to dir/name, and the tiny grid beside it (with its store in dir/store),
// and returns its path.
func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	g := strings.Replace(tinyGridYAML, "STORE", filepath.Join(dir, "store"), 1)
	if err := os.WriteFile(filepath.Join(dir, "tiny-grid.yaml"), []byte(g), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mutate replaces exactly one occurrence of old in text (the test fails if old is absent, so a
// rejection case cannot silently test the unmodified config).
func mutate(t *testing.T, text, old, new string) string {
	t.Helper()
	if strings.Count(text, old) != 1 {
		t.Fatalf("mutation %q: found %d times in the base config", old, strings.Count(text, old))
	}
	return strings.Replace(text, old, new, 1)
}

func TestShippedConfigsLoad(t *testing.T) {
	for _, tc := range []struct {
		path, grid, output string
		minima             int
		c                  []float64 // bracketing 1
	}{
		{"../validate.yaml", "../paper.yaml", "results", 2, []float64{0.95, 1.05}},
		{"../validate-quick.yaml", "../quick.yaml", "results/quick", 2, []float64{0.8, 0.9, 0.95, 1.05, 1.1, 1.25}},
	} {
		cfg, err := loadConfig(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if cfg.grid.File != tc.grid || cfg.Output != tc.output || len(cfg.Minima) != tc.minima {
			t.Errorf("%s: grid %q, output %q, %d minima; want %q, %q, %d", tc.path, cfg.grid.File, cfg.Output, len(cfg.Minima), tc.grid, tc.output, tc.minima)
		}
		want := tc.c
		if len(cfg.C) != len(want) {
			t.Fatalf("%s: c = %v, want %v", tc.path, cfg.C, want)
		}
		for i := range want {
			if cfg.C[i] != want[i] {
				t.Errorf("%s: c = %v, want %v", tc.path, cfg.C, want)
			}
		}
		if cfg.grid.Store != "results/store" || cfg.Linear.Chains < 2 || cfg.Nonlin.Seeds < 1 {
			t.Errorf("%s: unexpected store %q / linear %+v / nonlinear %+v", tc.path, cfg.grid.Store, cfg.Linear, cfg.Nonlin)
		}
	}
}

func TestTinyConfigLoads(t *testing.T) {
	path := writeConfig(t, t.TempDir(), "tiny.yaml", tinyYAML)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.grid.Data.PerClass != 4 || cfg.grid.Model.Hidden != 5 || len(cfg.Minima) != 2 || cfg.Minima[1] != (minimumID{0.05, 4, 1}) ||
		cfg.Linear.Truncate != 10 || cfg.Nonlin.MixtureEpochs != 2 || cfg.Nonlin.PerturbLoss != 1e-7 {
		t.Errorf("decoded %+v", cfg)
	}
	r, err := cfg.run(cfg.Minima[1])
	if err != nil || r.Block != "b" || r.LR != 0.05 || r.Batch != 4 || r.Seed != 1 || r.MaxEpochs != 3000 {
		t.Errorf("run of minima[1]: %+v, %v", r, err)
	}
	// output defaults to the grid's
	cfg, err = loadConfig(writeConfig(t, t.TempDir(), "tiny.yaml", mutate(t, tinyYAML, "output: OUTPUT\n", "")))
	if err != nil || cfg.Output != cfg.grid.Output || cfg.Output == "" {
		t.Errorf("default output %q (grid %q), %v", cfg.Output, cfg.grid.Output, err)
	}
}

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, old, new, reason string
	}{
		{"unknown top key", "name: tiny\n", "name: tiny\nseeds: 2\n", "field seeds not found"},
		{"grid section", "name: tiny\n", "name: tiny\nmodel: {hidden: 5}\n", "field model not found"},
		{"unknown nested key", "  chains: 16\n", "  chain: 16\n", "field chain not found"},
		{"missing grid", "grid: tiny-grid.yaml\n", "", "grid: missing"},
		{"bad grid", "grid: tiny-grid.yaml\n", "grid: nowhere.yaml\n", "grid nowhere.yaml: grid: open"},
		{"empty minima", "  - {lr: 0.02, batch: 1, seed: 1}\n  - {lr: 0.05, batch: 4, seed: 1}\n", "", "minima: empty"},
		{"empty minima list", "minima:\n  - {lr: 0.02, batch: 1, seed: 1}\n  - {lr: 0.05, batch: 4, seed: 1}\n", "minima: []\n", "minima: empty"},
		{"other seed", "{lr: 0.05, batch: 4, seed: 1}", "{lr: 0.05, batch: 4, seed: 2}", "minima[1]: lr 0.05, batch 4, seed 2 is not a run of the grid"},
		{"other batch", "{lr: 0.05, batch: 4, seed: 1}", "{lr: 0.05, batch: n, seed: 1}", "minima[1]: lr 0.05, batch 16, seed 1 is not a run"},
		{"other lr", "{lr: 0.02, batch: 1, seed: 1}", "{lr: 0.05, batch: 1, seed: 1}", "minima[0]: lr 0.05, batch 1, seed 1 is not a run"},
		{"lr infinite", "{lr: 0.02, batch: 1, seed: 1}", "{lr: .inf, batch: 1, seed: 1}", "is not a run"},
		{"batch minus one", "{lr: 0.05, batch: 4, seed: 1}", "{lr: 0.05, batch: -1, seed: 1}", "batch size -1 outside 1..n (write n for the full batch)"},
		{"batch word", "{lr: 0.02, batch: 1, seed: 1}", "{lr: 0.02, batch: all, seed: 1}", "neither an integer"},
		{"duplicate minimum", "{lr: 0.05, batch: 4, seed: 1}", "{lr: 0.02, batch: 1, seed: 1}", "minima[1]: same lr and batch as minima[0]"},
		{"empty c", "c: [0.8, 1.25]", "c: []", "c: empty"},
		{"c zero", "c: [0.8, 1.25]", "c: [0, 1.25]", "c: 0 is not a finite positive number"},
		{"c negative", "c: [0.8, 1.25]", "c: [0.8, -1.25]", "c: -1.25 is not a finite positive number"},
		{"c nan", "c: [0.8, 1.25]", "c: [.nan, 1.25]", "c: NaN is not a finite positive number"},
		{"c inf", "c: [0.8, 1.25]", "c: [0.8, .inf]", "c: +Inf is not a finite positive number"},
		{"c duplicate", "c: [0.8, 1.25]", "c: [0.8, 1.25, 0.8]", "c: 0.8 is listed twice"},
		{"c not numbers", "c: [0.8, 1.25]", "c: [low, high]", "cannot unmarshal"},
		{"linear chains", "  chains: 16\n", "  chains: 1\n", "linear: need chains >= 2"},
		{"linear replicas", "  replicas: 3\n", "  replicas: 1\n", "linear: need"},
		{"linear truncate", "  truncate: 10\n", "  truncate: 0\n", "linear: need"},
		{"linear window", "  window: 20\n", "  window: 0\n", "linear: need"},
		{"linear window nan", "  window: 20\n", "  window: .nan\n", "linear: need"},
		{"linear min_steps", "  min_steps: 10\n", "  min_steps: 3\n", "linear: need"},
		{"linear max<min", "  max_steps: 60\n", "  max_steps: 9\n", "4 <= min_steps <= max_steps"},
		{"nonlinear seeds", "  seeds: 1\n", "  seeds: -1\n", "nonlinear: need seeds >= 0"},
		{"nonlinear mixture_seeds", "  mixture_seeds: 1\n", "  mixture_seeds: -1\n", "nonlinear: need"},
		{"nonlinear epochs", "  epochs: 3\n", "  epochs: 0\n", "nonlinear: need"},
		{"nonlinear mixture_epochs", "  mixture_epochs: 2\n", "  mixture_epochs: 0\n", "nonlinear: need"},
		{"nonlinear perturb_loss", "  perturb_loss: 1e-7\n", "  perturb_loss: 0\n", "finite perturb_loss > 0"},
		{"nonlinear perturb_loss inf", "  perturb_loss: 1e-7\n", "  perturb_loss: .inf\n", "finite perturb_loss > 0"},
		{"nonlinear escape_factor", "  escape_factor: 100\n", "  escape_factor: 1\n", "finite escape_factor > 1"},
		{"nonlinear reconverge_epochs", "  reconverge_epochs: 0\n", "  reconverge_epochs: -1\n", "nonlinear: need"},
		{"nonlinear reconverge_conv_epochs",
			"  reconverge_epochs: 0\n  reconverge_conv_epochs: 50\n",
			"  reconverge_epochs: 10\n  reconverge_conv_epochs: 0\n", "reconverge_conv_epochs >= 1"},
		{"nonlinear not a map", "nonlinear:\n", "nonlinear: 3\nnonlinear_old:\n", "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", mutate(t, tinyYAML, tc.old, tc.new))
			cfg, err := loadConfig(path)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q: want the file %s and %q", err, path, tc.reason)
			}
		})
	}
	// reconverge_conv_epochs is not needed when there is no reconvergence
	ok := mutate(t, tinyYAML, "  reconverge_conv_epochs: 50\n", "  reconverge_conv_epochs: 0\n")
	if _, err := loadConfig(writeConfig(t, dir, "noreconv.yaml", ok)); err != nil {
		t.Errorf("reconverge_epochs 0 with reconverge_conv_epochs 0: %v", err)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// -h prints the usage and exits 0; an output directory that cannot be written is refused before
// any data is read or any minimum is checked (no store is opened, nothing else is written).
func TestCommandLine(t *testing.T) {
	var stderr bytes.Buffer
	if code := cli(context.Background(), []string{"-h"}, &stderr); code != 0 || !strings.Contains(stderr.String(), "-config") ||
		!strings.Contains(stderr.String(), "-max-memory") {
		t.Errorf("-h: exit %d, %q", code, stderr.String())
	}
	if code := cli(context.Background(), []string{"-nosuch"}, &bytes.Buffer{}); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	path := writeConfig(t, dir, "tiny.yaml", strings.Replace(tinyYAML, "OUTPUT", filepath.Join(file, "out"), 1))
	stderr.Reset()
	if code := cli(context.Background(), []string{"-config", path}, &stderr); code != 1 || !strings.Contains(stderr.String(), "output: cannot create directory "+filepath.Join(file, "out")) {
		t.Errorf("unwritable output: exit %d, %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		t.Errorf("the store was opened before the output was checked")
	}
}
