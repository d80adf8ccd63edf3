package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/runspec"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// realEngine trains with package train and analyses converged minima with package analysis.
type realEngine struct {
	cfg   *grid.Config
	mnist string

	once     sync.Once
	ds       *data.Dataset
	checksum string
	dsErr    error
}

// newEngine returns the engine of grid cfg; the data set is loaded on first use (a dry run
// does not read MNIST). mnist overrides where the MNIST files are looked for.
func newEngine(cfg *grid.Config, mnist string) (engine, error) {
	e := &realEngine{cfg: cfg, mnist: mnist}
	// Validate every run's configuration now, so that a bad grid fails before any training.
	for _, r := range cfg.Runs() {
		if _, err := runspec.Of(cfg, r); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// spec is the run's identity (runspec.Of).
func (e *realEngine) spec(r grid.Run) (store.Spec, error) {
	rs, err := runspec.Of(e.cfg, r)
	if err != nil {
		return store.Spec{}, err
	}
	return rs.Spec, nil
}

func (e *realEngine) data() (*data.Dataset, string, error) {
	e.once.Do(func() {
		sel := e.cfg.Data
		sel.Dir = e.mnist
		e.ds, e.dsErr = data.Load(sel)
		if e.dsErr == nil {
			e.checksum = e.ds.Checksum()
			if e.ds.N != e.cfg.N() {
				e.dsErr = fmt.Errorf("data selection gave %d samples, the grid expects %d", e.ds.N, e.cfg.N())
			}
		}
	})
	return e.ds, e.checksum, e.dsErr
}

// trained is a converged run waiting for its analysis.
type trained struct {
	ds *data.Dataset
	tc train.Config
	w  train.Params
}

func (m *trained) params() *train.Params { return &m.w }

// train trains one run; a converged run's minimum is returned for analyse.
func (e *realEngine) train(ctx context.Context, r grid.Run, report func(status)) (*store.Record, minimum, error) {
	ds, checksum, err := e.data()
	if err != nil {
		return nil, nil, err
	}
	tc := e.cfg.TrainConfig(r)
	res, err := train.Train(ctx, ds, tc, func(p train.Progress) {
		report(status{Phase: "train", Epoch: p.Epoch, Loss: p.Loss})
	})
	if err != nil {
		return nil, nil, err
	}
	rec := &store.Record{
		Status: string(res.Status), Epochs: res.Epochs, Steps: res.Steps,
		FinalLoss: jsonfloat.Float(res.FinalLoss), TrainSeconds: res.Seconds, DataChecksum: checksum,
		SharpnessPath: res.SharpnessPath,
	}
	rec.LossCurve = make([]jsonfloat.Float, len(res.LossCurve))
	for i, l := range res.LossCurve {
		rec.LossCurve[i] = jsonfloat.Float(l)
	}
	if res.Status != train.Converged {
		return rec, nil, nil // diverged and epoch-limit runs are recorded, not analysed
	}
	return rec, &trained{ds: ds, tc: tc, w: res.Params}, nil
}

// analyse analyses a converged run's minimum.
func (e *realEngine) analyse(r grid.Run, m minimum, rec *store.Record) error {
	t := m.(*trained)
	start := time.Now()
	if err := e.analyseMinimum(t.ds, t.w, r, rec); err != nil {
		return fmt.Errorf("analysing the minimum: %w", err)
	}
	rec.AnalysisSeconds = time.Since(start).Seconds()
	return nil
}

// marshalReport encodes an analysis report, refusing non-finite numbers with a clear message.
func marshalReport(rep any) (json.RawMessage, error) {
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("encoding the analysis report: %w", err)
	}
	return b, nil
}
