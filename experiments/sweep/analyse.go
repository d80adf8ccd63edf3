package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/train"
)

// analysisSettings are the resolved analysis settings of a run (part of its key). Options is
// analysis.Options as the run uses it: Eta = lr when the grid asks for the covariance limit,
// CenterGradients on unless the grid turns it off (a trained minimum's mean gradient is small
// but not zero), the rest from the grid's analysis.options (zero = analysis's default).
type analysisSettings struct {
	HessianSharpness bool             `json:"hessian_sharpness"`
	Options          analysis.Options `json:"options"`
}

// analysisOptions turns the grid's analysis.options (the JSON names of analysis.Options fields,
// e.g. rel_width, bound25_starts) into analysis.Options, rejecting unknown keys and wrong types.
func analysisOptions(cfg *grid.Config) (analysis.Options, error) {
	opt := analysis.Options{CenterGradients: true}
	fail := func(key, format string, args ...any) error {
		return &grid.Error{File: cfg.File, Key: "analysis.options." + key, Reason: fmt.Sprintf(format, args...)}
	}
	keys := make([]string, 0, len(cfg.Analysis.Options))
	for k := range cfg.Analysis.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := cfg.Analysis.Options[k]
		if k == "eta" {
			return opt, fail(k, "set by the sweep (eta = lr when analysis.covariance is true)")
		}
		if !slices.Contains(optionNames, k) {
			return opt, fail(k, "unknown analysis option (known: %s)", strings.Join(optionNames, ", "))
		}
		raw, err := json.Marshal(map[string]any{k: v})
		if err != nil {
			return opt, fail(k, "%v", err)
		}
		if err := json.Unmarshal(raw, &opt); err != nil {
			return opt, fail(k, "value %v: %v", v, err)
		}
	}
	return opt, nil
}

// optionNames are the JSON names of analysis.Options' fields that a grid may set (all but eta).
var optionNames = func() []string {
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

func (e *realEngine) analysisSettings(r grid.Run) (analysisSettings, error) {
	opt, err := analysisOptions(e.cfg)
	if err != nil {
		return analysisSettings{}, err
	}
	if e.cfg.Analysis.CovarianceOn() {
		opt.Eta = r.LR
	}
	return analysisSettings{HessianSharpness: e.cfg.Analysis.HessianSharpnessOn(), Options: opt}, nil
}

// analyse computes the per-sample curvature at the minimum, the analysis report, the exact
// Hessian's sharpness and the Gauss-Newton residual, and stores them in rec.
//
// When the covariance limit is asked for but does not exist (lr >= eta*, which happens when SGD
// converged at the very edge of its stability region), the analysis is redone without it and
// rec.Notes says so.
func (e *realEngine) analyse(ds *data.Dataset, tc train.Config, p train.Params, r grid.Run, rec *store.Record) error {
	as, err := e.analysisSettings(r)
	if err != nil {
		return err
	}
	t0 := time.Now()
	curv, err := train.PerSampleCurvature(ds, p, tc.Loss)
	if err != nil {
		return err
	}
	curvSeconds := time.Since(t0).Seconds()
	rec.ResidualRel = jsonfloat.Ptr(curv.ResidualRel)
	f := &analysis.Factored{N: curv.N, K: curv.K, D: curv.D, Factors: curv.Jacobians,
		OutputHessian: curv.OutputHessian, Gradients: curv.Gradients}
	rep, err := analysis.AnalyzeFactored(f, r.Batch, as.Options)
	if err != nil && as.Options.Eta > 0 {
		opt := as.Options
		opt.Eta = 0
		rep2, err2 := analysis.AnalyzeFactored(f, r.Batch, opt)
		if err2 != nil {
			return err // the first error is the informative one
		}
		rec.Notes = append(rec.Notes, fmt.Sprintf("covariance limit not computed: %v", err))
		rep, err = rep2, nil
	}
	if err != nil {
		return err
	}
	curv = nil
	f = nil
	rec.StageSeconds = map[string]float64{"curvature": curvSeconds}
	for k, v := range rep.Seconds {
		rec.StageSeconds[k] = v
	}
	if rec.Analysis, err = marshalReport(rep); err != nil {
		return err
	}
	rec.Backend = linalg.Backend()
	if as.HessianSharpness {
		t0 := time.Now()
		hs, err := train.HessianSharpness(ds, p, tc.Loss)
		if err != nil {
			return err
		}
		rec.HessianSharpness = jsonfloat.Ptr(hs)
		rec.StageSeconds["hessian_sharpness"] = time.Since(t0).Seconds()
	}
	return nil
}
