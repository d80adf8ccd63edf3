package grid

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/train"
)

const good = `
name: t
data:
  classes: [0, 1]
  per_class: 4
model:
  hidden: 3
  init_factor: 2
  init_seed: 7
training:
  max_epochs: 10
  conv_epochs: 2
grid:
  - name: a
    lr: [0.1, 0.01]
    batch: [1, n]
  - name: b
    lr: [0.01, 0.5]
    batch: [8, 2]
  - name: c
    lr: [0.2]
    batch: [n]
    max_epochs: 40
seeds: [1, 2]
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(good), "x/t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.N() != 8 || c.Output != filepath.Join("results", "t") || c.Store != filepath.Join("results", "store") || c.Workers != 2 {
		t.Errorf("defaults: n=%d output=%q store=%q workers=%d", c.N(), c.Output, c.Store, c.Workers)
	}
	if !c.Analysis.CovarianceOn() || !c.Analysis.HessianSharpnessOn() {
		t.Errorf("analysis defaults off")
	}
	runs := c.Runs()
	// block a: 2 lr x 2 batch x 2 seeds = 8; block b: (0.01, 8) is the full batch already in a
	// (n = 8), so 2x2x2 - 2 = 6 new; block c: 2 runs with their own epoch limit.
	if len(runs) != 16 {
		t.Fatalf("%d runs, want 16: %v", len(runs), runs)
	}
	want := []Run{
		{0, "a", 0.1, 1, 1, 10, 0}, {1, "a", 0.1, 1, 2, 10, 0}, {2, "a", 0.1, 8, 1, 10, 0}, {3, "a", 0.1, 8, 2, 10, 0},
		{4, "a", 0.01, 1, 1, 10, 0}, {5, "a", 0.01, 1, 2, 10, 0}, {6, "a", 0.01, 8, 1, 10, 0}, {7, "a", 0.01, 8, 2, 10, 0},
		{8, "b", 0.01, 2, 1, 10, 0}, {9, "b", 0.01, 2, 2, 10, 0},
		{10, "b", 0.5, 8, 1, 10, 0}, {11, "b", 0.5, 8, 2, 10, 0}, {12, "b", 0.5, 2, 1, 10, 0}, {13, "b", 0.5, 2, 2, 10, 0},
		{14, "c", 0.2, 8, 1, 40, 0}, {15, "c", 0.2, 8, 2, 40, 0},
	}
	if !slices.Equal(runs, want) {
		t.Errorf("runs\n got %v\nwant %v", runs, want)
	}
}

func TestParseDefaultsName(t *testing.T) {
	c, err := Parse([]byte("grid: [{lr: [0.1], batch: [1]}]\n"), "dir/quick.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "quick" || c.N() != 512 || !slices.Equal(c.Seeds, []uint64{1}) {
		t.Errorf("name %q n %d seeds %v", c.Name, c.N(), c.Seeds)
	}
}

func TestParseErrors(t *testing.T) {
	base := "grid: [{lr: [0.1], batch: [1]}]\n"
	cases := []struct {
		name, text, key, reason string
	}{
		{"empty file", "", "", "empty grid file"},
		{"not a mapping", "- 1\n- 2\n", "", "mapping"},
		{"unknown top key", base + "lrs: [1]\n", "lrs", "unknown key"},
		{"unknown nested key", base + "model:\n  hiden: 3\n", "model.hiden", "unknown key"},
		{"unknown block key", "grid: [{lr: [0.1], batch: [1], bs: 2}]\n", "grid[0].bs", "unknown key"},
		{"unknown data key", base + "data: {dir: /tmp}\n", "data.dir", "unknown key"},
		{"wrong type float", base + "model:\n  init_factor: big\n", "model.init_factor", "not a number"},
		{"wrong type int", base + "training:\n  max_epochs: 1.5\n", "training.max_epochs", "not an integer"},
		{"wrong type string", base + "model:\n  loss: 3\n", "model.loss", "not a string"},
		{"wrong type bool", base + "analysis:\n  covariance: maybe\n", "analysis.covariance", "true or false"},
		{"negative seed", base + "seeds: [-1]\n", "seeds[0]", "non-negative"},
		{"wrong type list", "grid: [{lr: 0.1, batch: [1]}]\n", "grid[0].lr", "list"},
		{"wrong type section", base + "model: 3\n", "model", "mapping"},
		{"bad batch word", "grid: [{lr: [0.1], batch: [all]}]\n", "grid[0].batch[0]", "neither an integer"},
		{"empty grid", "grid: []\n", "grid", "empty"},
		{"no grid", "seeds: [1]\n", "grid", "empty"},
		{"empty lr", "grid: [{lr: [], batch: [1]}]\n", "grid[0].lr", "empty"},
		{"empty batch", "grid: [{lr: [0.1]}]\n", "grid[0].batch", "empty"},
		{"negative lr", "grid: [{lr: [0.1, -1], batch: [1]}]\n", "grid[0].lr[1]", "> 0"},
		{"nan lr", "grid: [{lr: [.nan], batch: [1]}]\n", "grid[0].lr[0]", "finite"},
		{"duplicate lr", "grid: [{lr: [0.1, 0.1], batch: [1]}]\n", "grid[0].lr[1]", "twice"},
		{"batch zero", "grid: [{lr: [0.1], batch: [0]}]\n", "grid[0].batch[0]", "outside"},
		{"batch minus one", "grid: [{lr: [0.1], batch: [-1]}]\n", "grid[0].batch[0]", "outside 1..n"},
		{"batch minus one second", "grid: [{lr: [0.1], batch: [2, -1]}]\n", "grid[0].batch[1]", "write n for the full batch"},
		{"batch minus two", "grid: [{lr: [0.1], batch: [-2]}]\n", "grid[0].batch[0]", "outside"},
		{"batch above n", "data: {per_class: 2}\ngrid: [{lr: [0.1], batch: [9]}]\n", "grid[0].batch[0]", "outside 1..n = 8"},
		{"batch n twice", "data: {per_class: 2}\ngrid: [{lr: [0.1], batch: [8, n]}]\n", "grid[0].batch[1]", "twice"},
		{"empty seeds", base + "seeds: []\n", "seeds", "empty"},
		{"duplicate seed", base + "seeds: [3, 3]\n", "seeds[1]", "twice"},
		{"negative hidden", base + "model: {hidden: -1}\n", "model.hidden", "at least 1"},
		{"nan init", base + "model: {init_factor: .nan}\n", "model.init_factor", "finite"},
		{"nan warm-up", base + "training: {warmup_epochs: .inf}\n", "training.warmup_epochs", "finite"},
		{"bad sampling", base + "training: {sampling: cyclic}\n", "training.sampling", "unknown sampling"},
		{"negative init", base + "model: {init_factor: -1}\n", "model.init_factor", "> 0"},
		{"bad loss", base + "model: {loss: cubic}\n", "model.loss", "unknown loss"},
		{"bad engine", base + "training: {engine: gpu}\n", "training.engine", "unknown engine"},
		{"both warm-ups", base + "training: {warmup_steps: 3, warmup_epochs: 2}\n", "training.warmup_steps", "not both"},
		{"mixture on gorgonia", base + "training: {sampling: mixture, engine: gorgonia}\n", "training.sampling", "needs engine"},
		{"negative diverge", base + "training: {diverge_loss: -1}\n", "training.diverge_loss", "> 0"},
		{"negative sharpness interval", base + "training: {sharpness_every: -1}\n", "training.sharpness_every", ">= 1"},
		{"conv beyond max", base + "training: {conv_epochs: 200, max_epochs: 100}\n", "training.conv_epochs", "never"},
		{"negative block max", "grid: [{lr: [0.1], batch: [1], max_epochs: -5}]\n", "grid[0].max_epochs", ">= 1"},
		{"conv beyond block max", "training: {conv_epochs: 200}\ngrid: [{lr: [0.1], batch: [1], max_epochs: 100}]\n", "grid[0].max_epochs", "never"},
		{"conflicting epoch limits", "grid: [{lr: [0.1], batch: [1, 2]}, {lr: [0.1], batch: [2], max_epochs: 900}]\n", "grid[1]", "another epoch limit"},
		{"bad class", base + "data: {classes: [1, 11]}\n", "data", "unknown class"},
		{"negative workers", base + "workers: -2\n", "workers", ">= 1"},
		{"two documents", base + "---\n" + base, "", "more than one"},
		{"bad yaml", "grid: [\n", "", "yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), "exp/bad.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.text)
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %v is not a *grid.Error", err)
			}
			if ge.File != "exp/bad.yaml" || ge.Key != tc.key || !strings.Contains(ge.Reason, tc.reason) {
				t.Errorf("got file %q key %q reason %q; want key %q reason containing %q", ge.File, ge.Key, ge.Reason, tc.key, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "exp/bad.yaml: ") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
}

func TestShardsPartitionTheGrid(t *testing.T) {
	c, err := Parse([]byte(good), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs := c.Runs()
	for count := 1; count <= len(runs)+2; count++ {
		seen := map[int]int{}
		for i := 0; i < count; i++ {
			for _, r := range Shard(runs, i, count) {
				seen[r.Index]++
				if runs[r.Index] != r {
					t.Fatalf("shard %d/%d: run %v differs from the grid's %v", i, count, r, runs[r.Index])
				}
			}
		}
		if len(seen) != len(runs) {
			t.Errorf("%d shards hold %d distinct runs, grid has %d", count, len(seen), len(runs))
		}
		for idx, k := range seen {
			if k != 1 {
				t.Errorf("%d shards: run %d appears %d times", count, idx, k)
			}
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, s := range []string{"1", "a/2", "2/2", "-1/3", "0/0", "1/2/3"} {
		if _, _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) accepted", s)
		}
	}
	i, n, err := ParseShard("3/8")
	if err != nil || i != 3 || n != 8 {
		t.Errorf("ParseShard(3/8) = %d, %d, %v", i, n, err)
	}
	i, n, err = ParseShard("")
	if err != nil || i != 0 || n != 1 {
		t.Errorf("ParseShard(\"\") = %d, %d, %v", i, n, err)
	}
}

// The shipped grids must load.
func TestShippedGrids(t *testing.T) {
	for _, f := range []string{"../paper.yaml", "../quick.yaml"} {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(c.Runs()) == 0 {
			t.Errorf("%s: no runs", f)
		}
	}
}

// TrainConfig passes every model and training key through, with the run's lr, batch, seed and
// epoch limit, and fills in train's defaults for the keys left out.
func TestTrainConfig(t *testing.T) {
	c, err := Parse([]byte("data: {per_class: 4}\nmodel: {hidden: 3, init_factor: 2.5, init_seed: 9, loss: mean}\n"+
		"training: {warmup_steps: 7, conv_threshold: 1e-5, conv_epochs: 3, max_epochs: 50, sampling: shuffle, diverge_loss: 99, engine: gorgonia, sharpness_every: 10}\n"+
		"grid: [{lr: [0.25], batch: [2]}, {lr: [0.5], batch: [n], max_epochs: 70}]\nseeds: [4]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs := c.Runs()
	got := c.TrainConfig(runs[0])
	want := train.Config{Model: train.Model{Hidden: 3, InitFactor: 2.5, InitSeed: 9, Loss: "mean"}, LR: 0.25, Batch: 2, Seed: 4,
		Procedure: train.Procedure{WarmupSteps: 7, ConvThreshold: 1e-5, ConvEpochs: 3, MaxEpochs: 50, Sampling: "shuffle",
			DivergeLoss: 99, Engine: "gorgonia", SharpnessEvery: 10}}
	if got != want {
		t.Errorf("TrainConfig\n got %+v\nwant %+v", got, want)
	}
	want.LR, want.Batch, want.MaxEpochs = 0.5, 16, 70
	if got := c.TrainConfig(runs[1]); got != want {
		t.Errorf("TrainConfig of the block with its own limit\n got %+v\nwant %+v", got, want)
	}
	d, err := Parse([]byte("grid: [{lr: [0.1], batch: [1]}]\n"), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.TrainConfig(d.Runs()[0]), (train.Config{LR: 0.1, Batch: 1, Seed: 1}).WithDefaults(); got != want {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
}

// A block's seeds replace the top-level seeds for its runs, and its sharpness_every replaces the
// training section's (0 turns the path off); the run identity (TrainConfig) carries both.
func TestBlockSeedsAndSharpnessEvery(t *testing.T) {
	c, err := Parse([]byte("data: {per_class: 4}\ntraining: {sharpness_every: 10}\n"+
		"grid:\n  - {name: small, lr: [0.1], batch: [1], seeds: [1, 2, 3]}\n"+
		"  - {name: large, lr: [0.1], batch: [4]}\n"+
		"  - {name: gd, lr: [0.1], batch: [n], sharpness_every: 0}\n"+
		"seeds: [7]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Runs() {
		got = append(got, fmt.Sprintf("%s B=%d seed=%d every=%d/%d", r.Block, r.Batch, r.Seed, r.SharpnessEvery, c.TrainConfig(r).SharpnessEvery))
	}
	want := []string{"small B=1 seed=1 every=10/10", "small B=1 seed=2 every=10/10", "small B=1 seed=3 every=10/10",
		"large B=4 seed=7 every=10/10", "gd B=16 seed=7 every=0/0"}
	if !slices.Equal(got, want) {
		t.Errorf("runs\n got %q\nwant %q", got, want)
	}
	for _, tc := range []struct{ name, yaml, key, reason string }{
		{"empty block seeds", "grid: [{lr: [0.1], batch: [1], seeds: []}]\n", "grid[0].seeds", "empty seed list"},
		{"repeated block seed", "grid: [{lr: [0.1], batch: [1], seeds: [3, 3]}]\n", "grid[0].seeds[1]", "listed twice"},
		{"negative block sharpness_every", "grid: [{lr: [0.1], batch: [1], sharpness_every: -2}]\n", "grid[0].sharpness_every", ">= 1"},
		{"conflicting sharpness intervals", "grid: [{lr: [0.1], batch: [1]}, {lr: [0.1], batch: [1], sharpness_every: 5}]\n", "grid[1]", "another sharpness_every"},
	} {
		_, err := Parse([]byte(tc.yaml), "t.yaml")
		var ge *Error
		if !errors.As(err, &ge) || ge.Key != tc.key || !strings.Contains(ge.Reason, tc.reason) {
			t.Errorf("%s: error %v, want key %q with %q", tc.name, err, tc.key, tc.reason)
		}
	}
}
