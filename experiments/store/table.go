package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// contents is what a record says about its run.
type contents struct {
	train  train.Config     // the JSON of train.Config in the spec
	report *analysis.Report // the JSON of analysis.Report; nil when the record has none
}

// decode reads the training configuration and the analysis report of a record.
func decode(r *Record) (contents, error) {
	var c contents
	if err := json.Unmarshal(r.Spec.Train, &c.train); err != nil {
		return c, fmt.Errorf("store: record %s: training settings: %w", r.Key, err)
	}
	if len(r.Analysis) == 0 {
		return c, nil
	}
	c.report = new(analysis.Report)
	if err := json.Unmarshal(r.Analysis, c.report); err != nil {
		return c, fmt.Errorf("store: record %s: analysis: %w", r.Key, err)
	}
	return c, nil
}

// TableRow is the results row of record r in the table of grid config: the run's settings and
// outcome, the analysis of its minimum when there is one, and the derived columns
// (results.Row.Derive).
func TableRow(config string, r *Record) (results.Row, error) {
	c, err := decode(r)
	if err != nil {
		return results.Row{}, err
	}
	tc, rep := c.train, c.report
	num := jsonfloat.Ptr
	copyNum := func(x *jsonfloat.Float) *jsonfloat.Float {
		if x == nil {
			return nil
		}
		return num(float64(*x))
	}
	n, epochs, steps := r.Spec.N, r.Epochs, r.Steps
	row := results.Row{
		Key: r.Key, Config: config,
		Hidden: &tc.Hidden, InitFactor: num(tc.InitFactor), LR: tc.LR, Batch: tc.Batch, N: &n,
		Seed: &tc.Seed, InitSeed: &tc.InitSeed,
		Status: r.Status, Epochs: &epochs, Steps: &steps, FinalLoss: num(float64(r.FinalLoss)),
		TrainSeconds:     num(r.TrainSeconds),
		HessianSharpness: copyNum(r.HessianSharpness), ResidualRel: copyNum(r.ResidualRel),
		Loss: tc.Loss, Sampling: tc.Sampling, Engine: tc.Engine,
		WarmupSteps: &tc.WarmupSteps, ConvThreshold: num(tc.ConvThreshold), ConvEpochs: &tc.ConvEpochs,
		MaxEpochs:    &tc.MaxEpochs,
		DataChecksum: r.DataChecksum, Created: r.Created, Notes: strings.Join(r.Notes, "; "),
	}
	if rep != nil {
		opt := func(x *float64) *jsonfloat.Float {
			if x == nil {
				return nil
			}
			return num(*x)
		}
		row.P, row.Sharpness, row.GDThreshold = num(float64(rep.P)), num(float64(rep.Sharpness)), num(float64(rep.GDThreshold))
		row.GenSharpness, row.EtaStar = num(float64(rep.GeneralizedSharpness)), num(float64(rep.EtaStar))
		row.GenLo, row.GenHi = num(float64(rep.Bracket[0])), num(float64(rep.Bracket[1]))
		row.Bound15, row.Bound16, row.Bound25 = num(float64(rep.Bound15)), num(float64(rep.Bound16)), num(float64(rep.Bound25))
		row.Nonuniformity = num(float64(rep.Nonuniformity))
		row.TopEffectiveRank, row.TopShare, row.TopMinEigRel = opt(rep.TopEigenmatrixEffectiveRank), opt(rep.TopEigenmatrixTopShare), opt(rep.TopEigenmatrixMinEigRel)
		row.CovarianceTrace, row.ExpectedLoss, row.ExpectedGradNorm2 = opt(rep.CovarianceTrace), opt(rep.ExpectedLoss), opt(rep.ExpectedGradNorm2)
		row.AnalysisSeconds = num(r.AnalysisSeconds)
		row.AnalysisStatus, row.NonuniformityStatus = rep.Diagnostics.Status, rep.Diagnostics.NonuniformityStatus
	}
	row.Derive()
	return row, nil
}

// WriteTable writes <dir>/table.csv and <dir>/table.jsonl (results.WriteTable) with one row per
// record, in the order given, labelled with the grid name config, and beside them
// <dir>/sharpness_paths.jsonl (results.WritePaths) with the sharpness path of every record that
// has one (none: a stale file is removed).
func WriteTable(dir, config string, recs []*Record) error {
	rows := make([]results.Row, 0, len(recs))
	var paths []results.Path
	for _, r := range recs {
		row, err := TableRow(config, r)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		if sp := r.SharpnessPath; sp != nil {
			paths = append(paths, results.Path{Key: r.Key, Config: config, LR: row.LR, Batch: row.Batch, Seed: *row.Seed,
				Status: r.Status, Epochs: sp.Epochs, Sharpness: sp.Sharpness, StepSize: sp.StepSize, Residual: sp.Residual})
		}
	}
	if err := results.WriteTable(dir, rows); err != nil {
		return err
	}
	return results.WritePaths(dir, paths)
}
