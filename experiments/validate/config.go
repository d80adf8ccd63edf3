package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/sgdstability/sgdstab/experiments/grid"
)

// config is experiments/validate.yaml (see that file for every key).
type config struct {
	Name string `yaml:"name"`
	// Grid is the grid file whose sweep found the minima, relative to this file's directory.
	Grid string `yaml:"grid"`
	// Output is the directory of validation.md, figures/ and validation/; default the grid's.
	Output string      `yaml:"output"`
	Minima []minimumID `yaml:"minima"`
	C      []float64   `yaml:"c"`
	Linear linearCfg   `yaml:"linear"`
	Nonlin nonlinCfg   `yaml:"nonlinear"`

	grid *grid.Config // the loaded grid
}

// minimumID names a tested minimum: the run (lr, batch, seed) of the grid that found it.
type minimumID struct {
	LR    float64    `yaml:"lr" json:"lr"`
	Batch grid.Batch `yaml:"batch" json:"batch"`
	Seed  uint64     `yaml:"seed" json:"seed"`
}

// linearCfg configures the linearized check.
type linearCfg struct {
	Chains   int     `yaml:"chains"`   // per population
	Replicas int     `yaml:"replicas"` // independent populations
	Truncate int     `yaml:"truncate"` // leading directions of H for the start's eigenmatrix
	Window   float64 `yaml:"window"`   // estimation window in units of 1/(eta* kappa)
	MinSteps int     `yaml:"min_steps"`
	MaxSteps int     `yaml:"max_steps"`
}

// nonlinCfg configures the nonlinear check.
type nonlinCfg struct {
	Seeds            int     `yaml:"seeds"`
	MixtureSeeds     int     `yaml:"mixture_seeds"`
	Epochs           int     `yaml:"epochs"`
	MixtureEpochs    int     `yaml:"mixture_epochs"`
	PerturbLoss      float64 `yaml:"perturb_loss"`  // L(w*+delta) - L(w*) of the perturbation
	EscapeFactor     float64 `yaml:"escape_factor"` // escape: loss > factor * conv_threshold
	ReconvergeEpochs int     `yaml:"reconverge_epochs"`
	ReconvConvEpochs int     `yaml:"reconverge_conv_epochs"`
}

func loadConfig(path string) (*config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{path}, a...)...)
	}
	switch {
	case c.Grid == "":
		return nil, bad("grid: missing (the grid file whose sweep found the minima)")
	case len(c.Minima) == 0:
		return nil, bad("minima: empty")
	case len(c.C) == 0:
		return nil, bad("c: empty")
	case c.Linear.Chains < 2 || c.Linear.Replicas < 2 || c.Linear.Truncate < 1 || !(c.Linear.Window > 0) ||
		c.Linear.MinSteps < 4 || c.Linear.MaxSteps < c.Linear.MinSteps:
		return nil, bad("linear: need chains >= 2, replicas >= 2, truncate >= 1, window > 0, 4 <= min_steps <= max_steps")
	case c.Nonlin.Seeds < 0 || c.Nonlin.MixtureSeeds < 0 || c.Nonlin.Epochs < 1 || c.Nonlin.MixtureEpochs < 1 ||
		!(c.Nonlin.PerturbLoss > 0) || math.IsInf(c.Nonlin.PerturbLoss, 0) ||
		!(c.Nonlin.EscapeFactor > 1) || math.IsInf(c.Nonlin.EscapeFactor, 0) || c.Nonlin.ReconvergeEpochs < 0 ||
		(c.Nonlin.ReconvergeEpochs > 0 && c.Nonlin.ReconvConvEpochs < 1):
		return nil, bad("nonlinear: need seeds >= 0, mixture_seeds >= 0, epochs >= 1, mixture_epochs >= 1, " +
			"finite perturb_loss > 0, finite escape_factor > 1, reconverge_epochs >= 0 " +
			"(and reconverge_conv_epochs >= 1 when reconverge_epochs > 0)")
	}
	gridPath := c.Grid
	if !filepath.IsAbs(gridPath) {
		gridPath = filepath.Join(filepath.Dir(path), gridPath)
	}
	if c.grid, err = grid.Load(gridPath); err != nil {
		return nil, bad("grid %s: %v", c.Grid, err)
	}
	if c.Output == "" {
		c.Output = c.grid.Output
	}
	n := c.grid.N()
	type lrBatch struct {
		lr    float64
		batch grid.Batch
	}
	seenMin := map[lrBatch]int{}
	for i, m := range c.Minima {
		m.Batch = grid.Batch(m.Batch.Resolve(n))
		c.Minima[i] = m
		if j, dup := seenMin[lrBatch{m.LR, m.Batch}]; dup {
			// both would write the same records/<name>.json
			return nil, bad("minima[%d]: same lr and batch as minima[%d] (lr %g, batch %d)", i, j, m.LR, m.Batch)
		}
		seenMin[lrBatch{m.LR, m.Batch}] = i
		if _, err := c.run(m); err != nil {
			return nil, bad("minima[%d]: %v", i, err)
		}
	}
	seenC := map[float64]bool{}
	for _, x := range c.C {
		if !(x > 0) || math.IsInf(x, 0) {
			return nil, bad("c: %v is not a finite positive number", x)
		}
		if seenC[x] {
			// restarts at a repeated c would be pooled with the same seeds
			return nil, bad("c: %v is listed twice", x)
		}
		seenC[x] = true
	}
	return &c, nil
}

// run is the grid's run of minimum m.
func (c *config) run(m minimumID) (grid.Run, error) {
	for _, r := range c.grid.Runs() {
		if r.LR == m.LR && r.Batch == int(m.Batch) && r.Seed == m.Seed {
			return r, nil
		}
	}
	return grid.Run{}, fmt.Errorf("lr %g, batch %d, seed %d is not a run of the grid %s", m.LR, m.Batch, m.Seed, c.grid.File)
}
