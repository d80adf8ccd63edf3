package main

import (
	"fmt"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/runspec"
	"github.com/sgdstability/sgdstab/train"
)

// runReport is the output of -run: the analysis report plus the exact-Hessian numbers.
type runReport struct {
	*analysis.Report
	HessianSharpness float64 `json:"hessian_sharpness"` // lambda_max of the exact full-batch Hessian
	ResidualRel      float64 `json:"residual_rel"`      // ||H - H_GN|| / ||H_GN|| (train.Curvature)
	LR               float64 `json:"lr"`
	Status           string  `json:"status"`
}

func analyzeRun(path string, seed uint64, width float64) (*runReport, error) {
	rec, err := train.ReadRunRecord(path)
	if err != nil {
		return nil, err
	}
	ds, err := data.Load(rec.Data.Selection)
	if err != nil {
		return nil, fmt.Errorf("%s: loading its data: %v", path, err)
	}
	if rec.Data.Checksum != "" && ds.Checksum() != rec.Data.Checksum {
		return nil, fmt.Errorf("%s: data checksum %s differs from the record's %s", path, ds.Checksum(), rec.Data.Checksum)
	}
	cfg := rec.Config.WithDefaults()
	curv, err := train.PerSampleCurvature(ds, rec.Params, cfg.Loss)
	if err != nil {
		return nil, fmt.Errorf("%s: per-sample curvature: %v", path, err)
	}
	f := runspec.Factored(curv)
	opt := analysis.Options{Seed: seed, RelWidth: width, CenterGradients: true}
	rep, err := analysis.AnalyzeFactored(f, cfg.Batch, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if cfg.LR < 2/rep.Bracket[1] {
		// covariance limit at the run's step size (certified below eta*)
		if err := rep.AddCovariance(cfg.LR); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	hs, err := train.HessianSharpness(ds, rec.Params, cfg.Loss)
	if err != nil {
		return nil, fmt.Errorf("%s: exact Hessian sharpness: %v", path, err)
	}
	return &runReport{Report: rep, HessianSharpness: hs, ResidualRel: curv.ResidualRel, LR: cfg.LR, Status: string(rec.Status)}, nil
}
