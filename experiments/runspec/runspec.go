// Package runspec is the identity of a grid's run: from a grid file and one of its runs it builds
// the run's resolved training configuration (train.Config with defaults), its resolved analysis
// settings and the store spec that keys its record, and it converts the trainer's per-sample
// curvature into the analysis package's input. The sweep uses it to key and compute records, the
// validation to find the sweep's records again, so that both agree on what a run is.
//
//	run, err := runspec.Of(cfg, cfg.Runs()[0]) // run.Train, run.Analysis, run.Spec
//	rec, err := st.Find(run.Spec)              // the sweep's record of that run
package runspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/train"
)

// Analysis are the resolved analysis settings of a run (part of its key). Options is
// analysis.Options as the run uses it, every default filled in (analysis.Options.WithDefaults):
// Eta = lr when the grid asks for the covariance limit (0 otherwise), CenterGradients on unless
// the grid turns it off (a trained minimum's mean gradient is small but not zero), the rest from
// the grid's analysis.options. Because the defaults are filled in before the settings are hashed,
// writing a default explicitly and leaving it out give the same key, and a changed default gives
// a new one.
type Analysis struct {
	HessianSharpness bool             `json:"hessian_sharpness"`
	Options          analysis.Options `json:"options"`
}

// Run is one run of a grid with everything that determines its result.
type Run struct {
	grid.Run
	Train    train.Config // resolved (train.Config.WithDefaults) and validated
	Analysis Analysis
	Spec     store.Spec
}

// Of resolves run r of grid cfg and validates its training configuration and analysis options;
// errors are *grid.Error naming the grid file.
func Of(cfg *grid.Config, r grid.Run) (*Run, error) {
	tc := cfg.TrainConfig(r)
	if err := tc.Validate(cfg.N()); err != nil {
		return nil, &grid.Error{File: cfg.File, Key: "model/training", Reason: fmt.Sprintf("run %v: %v", r, err)}
	}
	opt, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Analysis.CovarianceOn() {
		opt.Eta = r.LR
	}
	as := Analysis{HessianSharpness: cfg.Analysis.HessianSharpnessOn(), Options: opt.WithDefaults()}
	// an analysis that cannot fit is refused now, not by the runtime after training
	if err := analysis.CheckMemory(Shape(cfg, tc)); err != nil {
		return nil, &grid.Error{File: cfg.File, Reason: fmt.Sprintf("run %v: %v", r, err)}
	}
	spec, err := store.NewSpec(cfg.Data, cfg.N(), tc, as)
	if err != nil {
		return nil, err
	}
	return &Run{Run: r, Train: tc, Analysis: as, Spec: spec}, nil
}

// Shape is the shape of the analysis input of a run with training configuration tc: n samples, k
// outputs (one per class), d = h D + h + k h + k parameters (D = data.Pixels inputs, h hidden
// units), factored (the argument list of analysis.MemoryEstimate and analysis.CheckMemory).
func Shape(cfg *grid.Config, tc train.Config) (n, k, d int, factored bool) {
	n, k, h := cfg.N(), len(cfg.Data.Classes), tc.WithDefaults().Hidden
	return n, k, h*data.Pixels + h + k*h + k, true
}

// Options turns the grid's analysis.options (the JSON names of analysis.Options fields, e.g.
// rel_width, bound25_starts) into analysis.Options (unresolved: zero means analysis's default),
// with CenterGradients on unless the grid turns it off; unknown keys, wrong types and values out
// of range are errors naming the key.
func Options(cfg *grid.Config) (analysis.Options, error) {
	opt := analysis.Options{CenterGradients: true}
	fail := func(key, format string, args ...any) error {
		return &grid.Error{File: cfg.File, Key: "analysis.options" + key, Reason: fmt.Sprintf(format, args...)}
	}
	keys := make([]string, 0, len(cfg.Analysis.Options))
	for k := range cfg.Analysis.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := cfg.Analysis.Options[k]
		if k == "eta" {
			return opt, fail("."+k, "set by the sweep (eta = lr when analysis.covariance is true)")
		}
		if !slices.Contains(OptionNames, k) {
			return opt, fail("."+k, "unknown analysis option (known: %s)", strings.Join(OptionNames, ", "))
		}
		raw, err := json.Marshal(map[string]any{k: v})
		if err != nil {
			return opt, fail("."+k, "%v", err)
		}
		if err := json.Unmarshal(raw, &opt); err != nil {
			return opt, fail("."+k, "value %v: %v", v, err)
		}
	}
	if err := opt.Validate(); err != nil {
		var oe *analysis.OptionError
		if errors.As(err, &oe) {
			return opt, fail("."+oe.Option, "%s %s", oe.Option, oe.Reason)
		}
		return opt, fail("", "%v", err)
	}
	return opt, nil
}

// OptionNames are the JSON names of analysis.Options' fields that a grid may set (all but eta),
// sorted.
var OptionNames = func() []string {
	var names []string
	t := reflect.TypeFor[analysis.Options]()
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "eta" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}()

// Factored is the analysis input of a per-sample curvature: H_i = J_i^T M J_i with the Jacobians
// J_i as factors, M the loss's output Hessian, the per-sample gradients g_i (THEORY.md's
// factored form), and what the trainer has in closed form: the Gram matrix of the M^{1/2} J_i
// (the analysis takes its eigenbasis from it instead of multiplying the Jacobians) and the output
// gradients q_i with g_i = J_i^T q_i (it projects the gradients from them). The slices are
// shared, not copied.
func Factored(c *train.Curvature) *analysis.Factored {
	return &analysis.Factored{N: c.N, K: c.K, D: c.D, Factors: c.Jacobians, OutputHessian: c.OutputHessian, Gradients: c.Gradients, OutputGradients: c.OutputGradients, Gram: c.Gram}
}
