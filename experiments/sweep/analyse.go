package main

import (
	"fmt"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/runspec"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/train"
)

// analyseMinimum computes the per-sample curvature at the minimum, the analysis report, the exact
// Hessian's sharpness and the Gauss-Newton residual, and stores them in rec.
//
// When the covariance limit is asked for but does not exist (lr >= eta*, which happens when SGD
// converged at the very edge of its stability region), the analysis is redone without it and
// rec.Notes says so.
func (e *realEngine) analyseMinimum(ds *data.Dataset, p train.Params, r grid.Run, rec *store.Record) error {
	rs, err := runspec.Of(e.cfg, r)
	if err != nil {
		return err
	}
	as, tc := rs.Analysis, rs.Train
	t0 := time.Now()
	curv, err := train.PerSampleCurvature(ds, p, tc.Loss)
	if err != nil {
		return err
	}
	curvSeconds := time.Since(t0).Seconds()
	rec.ResidualRel = jsonfloat.Ptr(curv.ResidualRel)
	f := runspec.Factored(curv)
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
