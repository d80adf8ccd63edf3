package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/runspec"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/train"
)

// minimum is a converged minimum of the sweep with its threshold, read from the results store.
type minimum struct {
	Batch        int
	LR           float64
	Seed         uint64
	Config       train.Config
	FinalLoss    float64
	EtaStar      float64
	Sharpness    float64
	GenSharpness float64
	Source       string // "store:<key>"
	Params       train.Params
}

type validator struct {
	cfg *config
	ds  *data.Dataset
	log func(string)
}

func newValidator(cfg *config) (*validator, error) {
	ds, err := data.Load(cfg.grid.Data)
	if err != nil {
		return nil, err
	}
	return &validator{cfg: cfg, ds: ds, log: func(s string) { fmt.Fprintln(os.Stderr, s) }}, nil
}

func (v *validator) logf(format string, a ...any) {
	v.log(time.Now().Format("15:04:05 ") + fmt.Sprintf(format, a...))
}

// minima reads every configured minimum from the results store: the sweep's record of its run
// (found by the run's spec, runspec.Of) with eta*, and the parameters kept beside it.
func (v *validator) minima() ([]*minimum, error) {
	g := v.cfg.grid
	st, err := store.Open(g.Store)
	if err != nil {
		return nil, err
	}
	sweep := fmt.Sprintf("run the sweep first: go run ./experiments/sweep -config %s", g.File)
	out := make([]*minimum, len(v.cfg.Minima))
	for i, id := range v.cfg.Minima {
		fail := func(format string, a ...any) error {
			return fmt.Errorf("minima[%d] (lr %g, batch %d, seed %d): %s", i, id.LR, id.Batch, id.Seed, fmt.Sprintf(format, a...))
		}
		r, err := v.cfg.run(id)
		if err != nil {
			return nil, fail("%v", err)
		}
		rs, err := runspec.Of(g, r)
		if err != nil {
			return nil, fail("%v", err)
		}
		rec, err := st.Find(rs.Spec)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fail("the store %s has no record of this run: %s", g.Store, sweep)
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		if rec.Status != string(train.Converged) {
			return nil, fail("the sweep's run ended %s: choose a converged run", rec.Status)
		}
		if rec.DataChecksum != v.ds.Checksum() {
			return nil, fail("the record's data checksum %.12s... differs from the data's %.12s...", rec.DataChecksum, v.ds.Checksum())
		}
		var rep analysis.Report
		if err := json.Unmarshal(rec.Analysis, &rep); err != nil || !(rep.EtaStar > 0) {
			return nil, fail("the record %.12s... has no analysis with eta* > 0 (%v)", rec.Key, err)
		}
		p, err := st.Params(rec)
		if err != nil {
			return nil, fail("%v", err)
		}
		if err := p.Check(v.ds.D, v.ds.K); err != nil {
			return nil, fail("%v", err)
		}
		out[i] = &minimum{Batch: r.Batch, LR: r.LR, Seed: r.Seed, Config: rs.Train, FinalLoss: float64(rec.FinalLoss),
			EtaStar: rep.EtaStar, Sharpness: rep.Sharpness, GenSharpness: rep.GeneralizedSharpness, Source: "store:" + rec.Key, Params: p}
	}
	return out, nil
}

func writeJSON(path string, x any) error {
	js, err := json.MarshalIndent(x, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(js, '\n'))
}
