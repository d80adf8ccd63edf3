package main

import (
	"errors"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/train"
)

// analysisSettings are the resolved analysis settings of a run (part of its key).
type analysisSettings struct {
	HessianSharpness bool    `json:"hessian_sharpness"`
	Eta              float64 `json:"eta"`
}

func (e *realEngine) analysisSettings(r grid.Run) (analysisSettings, error) {
	as := analysisSettings{HessianSharpness: e.cfg.Analysis.HessianSharpnessOn()}
	if e.cfg.Analysis.CovarianceOn() {
		as.Eta = r.LR
	}
	return as, nil
}

func (e *realEngine) analyse(ds *data.Dataset, tc train.Config, p train.Params, r grid.Run, rec *store.Record) error {
	curv, err := train.PerSampleCurvature(ds, p, tc.Loss)
	if err != nil {
		return err
	}
	rec.ResidualRel = store.Ptr(curv.ResidualRel)
	if e.cfg.Analysis.HessianSharpnessOn() {
		hs, err := train.HessianSharpness(ds, p, tc.Loss)
		if err != nil {
			return err
		}
		rec.HessianSharpness = store.Ptr(hs)
	}
	return errors.New("package analysis not available yet")
}
