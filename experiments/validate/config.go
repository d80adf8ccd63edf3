package main

import (
	"bytes"
	"fmt"
	"math"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
)

// Config is experiments/validate.yaml (see that file for every key).
type Config struct {
	Name     string         `yaml:"name"`
	Output   string         `yaml:"output"`
	Store    string         `yaml:"store"`
	Data     data.Selection `yaml:"data"`
	Model    grid.Model     `yaml:"model"`
	Training grid.Training  `yaml:"training"`
	Seed     uint64         `yaml:"seed"` // SGD seed of the minima (as in the sweep)
	Minima   []Minimum      `yaml:"minima"`
	C        []float64      `yaml:"c"`
	Linear   LinearCfg      `yaml:"linear"`
	Nonlin   NonlinCfg      `yaml:"nonlinear"`
}

// Minimum is one tested minimum: the SGD run (batch, lr) that found it.
type Minimum struct {
	Batch int     `yaml:"batch"`
	LR    float64 `yaml:"lr"`
}

// LinearCfg configures the linearized check.
type LinearCfg struct {
	Chains   int     `yaml:"chains"`   // per population
	Replicas int     `yaml:"replicas"` // independent populations
	Truncate int     `yaml:"truncate"` // leading directions of H for the start's eigenmatrix
	Window   float64 `yaml:"window"`   // estimation window in units of 1/(eta* kappa)
	MinSteps int     `yaml:"min_steps"`
	MaxSteps int     `yaml:"max_steps"`
}

// NonlinCfg configures the nonlinear check.
type NonlinCfg struct {
	Seeds            int     `yaml:"seeds"`
	MixtureSeeds     int     `yaml:"mixture_seeds"`
	Epochs           int     `yaml:"epochs"`
	MixtureEpochs    int     `yaml:"mixture_epochs"`
	PerturbLoss      float64 `yaml:"perturb_loss"`  // L(w*+delta) - L(w*) of the perturbation
	EscapeFactor     float64 `yaml:"escape_factor"` // escape: loss > factor * conv_threshold
	ReconvergeEpochs int     `yaml:"reconverge_epochs"`
	ReconvConvEpochs int     `yaml:"reconverge_conv_epochs"`
}

func loadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{path}, a...)...)
	}
	switch {
	case c.Output == "":
		return nil, bad("output: missing")
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
	seenMin := map[Minimum]int{}
	for i, m := range c.Minima {
		if m.Batch < 1 || !(m.LR > 0) || math.IsInf(m.LR, 0) {
			return nil, bad("minima[%d]: need batch >= 1 and finite lr > 0", i)
		}
		if j, dup := seenMin[m]; dup {
			// both would write the same records/<name>.json
			return nil, bad("minima[%d]: same as minima[%d] (batch %d, lr %g)", i, j, m.Batch, m.LR)
		}
		seenMin[m] = i
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
