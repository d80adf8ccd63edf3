package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/train"
)

// minimum is a converged minimum with its threshold.
type minimum struct {
	Batch        int          `json:"batch"`
	LR           float64      `json:"lr"`
	Config       train.Config `json:"config"`
	Status       string       `json:"status"`
	FinalLoss    float64      `json:"final_loss"`
	EtaStar      float64      `json:"eta_star"`
	Sharpness    float64      `json:"sharpness"`
	GenSharpness float64      `json:"generalized_sharpness"`
	Source       string       `json:"source"` // "store:<key>" or "analysed here"
	Params       train.Params `json:"params"`
}

type validator struct {
	cfg *Config
	ds  *data.Dataset
	log func(string)
}

func newValidator(cfg *Config) (*validator, error) {
	ds, err := data.Load(cfg.Data)
	if err != nil {
		return nil, err
	}
	return &validator{cfg: cfg, ds: ds, log: func(s string) { fmt.Fprintln(os.Stderr, s) }}, nil
}

func (v *validator) logf(format string, a ...any) {
	v.log(time.Now().Format("15:04:05 ") + fmt.Sprintf(format, a...))
}

func (v *validator) trainConfig(m Minimum) train.Config {
	c := v.cfg
	return train.Config{Hidden: c.Model.Hidden, InitFactor: c.Model.InitFactor, InitSeed: c.Model.InitSeed,
		Loss: c.Model.Loss, LR: m.LR, Batch: m.Batch, WarmupSteps: c.Training.WarmupSteps, WarmupEpochs: c.Training.WarmupEpochs,
		ConvThreshold: c.Training.ConvThreshold, ConvEpochs: c.Training.ConvEpochs, MaxEpochs: c.Training.MaxEpochs,
		Sampling: c.Training.Sampling, Seed: c.Seed, DivergeLoss: c.Training.DivergeLoss, Engine: c.Training.Engine,
	}.WithDefaults()
}

func (v *validator) cachePath(tc train.Config) string {
	js, _ := json.Marshal(struct {
		Data  string
		Train train.Config
	}{v.ds.Checksum(), tc})
	h := sha256.Sum256(js)
	return filepath.Join(v.cfg.Output, "validation", "minima", hex.EncodeToString(h[:8])+".json")
}

// fromStore looks for a converged record of the same data and training configuration in the
// results store and returns its analysis (eta*, sharpness, generalized sharpness).
func (v *validator) fromStore(tc train.Config) (*analysis.Report, string) {
	if v.cfg.Store == "" {
		return nil, ""
	}
	st, err := store.Open(v.cfg.Store)
	if err != nil {
		return nil, ""
	}
	var found *analysis.Report
	var key string
	sum := v.ds.Checksum()
	_ = filepath.WalkDir(v.cfg.Store, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || found != nil {
			return nil
		}
		rec, err := st.Get(strings.TrimSuffix(d.Name(), ".json"))
		if err != nil || rec.Status != string(train.Converged) || len(rec.Analysis) == 0 || rec.DataChecksum != sum {
			return nil
		}
		var rc train.Config
		if json.Unmarshal(rec.Spec.Train, &rc) != nil || !reflect.DeepEqual(rc.WithDefaults(), tc) {
			return nil
		}
		var rep analysis.Report
		if json.Unmarshal(rec.Analysis, &rep) != nil || !(rep.EtaStar > 0) {
			return nil
		}
		found, key = &rep, rec.Key
		return nil
	})
	return found, key
}

// minima returns every configured minimum: from the cache in <output>/minima, else trained
// (deterministic: the same parameters as the sweep's run) with eta* from the store or analysed.
func (v *validator) minima(ctx context.Context) ([]*minimum, error) {
	out := make([]*minimum, len(v.cfg.Minima))
	var todo []int
	var cfgs []train.Config
	for i, m := range v.cfg.Minima {
		tc := v.trainConfig(m)
		if err := tc.Validate(v.ds.N); err != nil {
			return nil, fmt.Errorf("minima[%d]: %w", i, err)
		}
		raw, err := os.ReadFile(v.cachePath(tc))
		if err == nil {
			var mm minimum
			if json.Unmarshal(raw, &mm) == nil && reflect.DeepEqual(mm.Config, tc) && mm.EtaStar > 0 {
				out[i] = &mm
				continue
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		todo = append(todo, i)
		cfgs = append(cfgs, tc)
	}
	if len(todo) == 0 {
		return out, nil
	}
	v.logf("training %d minima (deterministic, same as the sweep's runs)", len(todo))
	res, err := train.TrainMany(ctx, v.ds, cfgs, 0, nil)
	if err != nil {
		return nil, err
	}
	for q, i := range todo {
		r := res[q]
		if r.Status != train.Converged {
			return nil, fmt.Errorf("minima[%d] (B=%d lr=%g): training ended %s (loss %g): choose a converging run",
				i, cfgs[q].Batch, cfgs[q].LR, r.Status, r.FinalLoss)
		}
		mm := &minimum{Batch: cfgs[q].Batch, LR: cfgs[q].LR, Config: cfgs[q], Status: string(r.Status),
			FinalLoss: r.FinalLoss, Params: r.Params}
		rep, key := v.fromStore(cfgs[q])
		if rep != nil {
			mm.Source = "store:" + key
		} else {
			v.logf("B=%d lr=%g: not in the store, analysing (slow)", mm.Batch, mm.LR)
			curv, err := train.PerSampleCurvature(v.ds, r.Params, cfgs[q].Loss)
			if err != nil {
				return nil, err
			}
			f := &analysis.Factored{N: curv.N, K: curv.K, D: curv.D, Factors: curv.Jacobians,
				OutputHessian: curv.OutputHessian, Gradients: curv.Gradients}
			rep, err = analysis.AnalyzeFactored(f, mm.Batch, analysis.Options{CenterGradients: true})
			if err != nil {
				return nil, err
			}
			mm.Source = "analysed here"
		}
		mm.EtaStar, mm.Sharpness, mm.GenSharpness = rep.EtaStar, rep.Sharpness, rep.GeneralizedSharpness
		if err := writeJSON(v.cachePath(cfgs[q]), mm); err != nil {
			return nil, err
		}
		out[i] = mm
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
