package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/train"
)

// TestRealEngine trains and analyses a tiny grid in-process and checks the wiring between train
// and analysis against independent facts: p = (n-B)/(B(n-1)) for the run's B, and Weyl's
// inequality |lambda_max(H) - lambda_max(H_GN)| <= ||H - H_GN|| = residual_rel lambda_max(H_GN)
// between the exact Hessian's Lanczos sharpness (train) and the Gauss-Newton sharpness (analysis).
func TestRealEngine(t *testing.T) {
	mnist, err := data.Locate("")
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	// with sharpness tracking: its last value at a converged minimum is checked against the
	// analysis' Gauss-Newton sharpness (an independent computation, from the Gram matrix)
	text := strings.Replace(tinyGrid, "max_epochs: 3000}", "max_epochs: 3000, sharpness_every: 50}", 1) + "output: " + filepath.Join(dir, "out") + "\nstore: " + filepath.Join(dir, "store") + "\n"
	cfg, err := grid.Parse([]byte(text), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := newEngine(cfg, mnist)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Open(cfg.Store)
	r := &runner{Config: cfg, Store: st, Engine: eng, Workers: 2, Display: &display{W: &syncWriter{w: new(bytes.Buffer)}, Heartbeat: time.Hour}}
	runs := cfg.Runs()
	tasks, err := r.plan(runs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.sweep(context.Background(), tasks)
	if err != nil || out.Failed != 0 || out.Ran != len(runs) {
		t.Fatalf("sweep: %+v %v", out, err)
	}
	n := cfg.N()
	converged := 0
	for _, tk := range tasks {
		rec := tk.Record
		if tk.Run.LR == 40 {
			if rec.Status != "diverged" {
				t.Errorf("%v: %s", tk.Run, rec.Status)
			}
			continue
		}
		if rec.Status != "converged" {
			continue
		}
		converged++
		var rep struct {
			P, Sharpness, Bound15, Bound25, GeneralizedSharpness float64
			CovarianceTrace                                      *float64 `json:"covariance_trace"`
		}
		if err := json.Unmarshal(rec.Analysis, &rep); err != nil {
			t.Fatal(err)
		}
		b := tk.Run.Batch
		if wantP := float64(n-b) / float64(b*(n-1)); math.Abs(rep.P-wantP) > 1e-15 {
			t.Errorf("%v: p = %v, want %v", tk.Run, rep.P, wantP)
		}
		hs, res := float64(*rec.HessianSharpness), float64(*rec.ResidualRel)
		if math.Abs(hs-rep.Sharpness) > res*rep.Sharpness*(1+1e-6)+1e-8*rep.Sharpness {
			t.Errorf("%v: exact sharpness %v and Gauss-Newton %v differ by more than the residual %v allows", tk.Run, hs, rep.Sharpness, res)
		}
		if rep.CovarianceTrace == nil && len(rec.Notes) == 0 {
			t.Errorf("%v: covariance asked for, neither computed nor explained", tk.Run)
		}
		if sp := rec.SharpnessPath; sp == nil || sp.Epochs[len(sp.Epochs)-1] != rec.Epochs || sp.Epochs[0] != 0 {
			t.Errorf("%v: sharpness path %+v for %d epochs", tk.Run, sp, rec.Epochs)
		} else if last, rho := sp.Sharpness[len(sp.Sharpness)-1], sp.Residual[len(sp.Residual)-1]; math.Abs(last-rep.Sharpness) > math.Max(rho, 1e-8)*rep.Sharpness {
			t.Errorf("%v: tracked sharpness %v (residual %.2g) at the minimum, analysis %v", tk.Run, last, rho, rep.Sharpness)
		}
		if rec.DataChecksum == "" || rec.Backend == "" || rec.AnalysisSeconds <= 0 {
			t.Errorf("%v: provenance missing: %q %q %v", tk.Run, rec.DataChecksum, rec.Backend, rec.AnalysisSeconds)
		}
		// The stored parameters are the minimum's: re-analysing them without retraining gives the
		// record's exact-Hessian sharpness (to rounding: with OpenBLAS the sweep ran the analysis on
		// every core, and a threaded reduction rounds differently with another thread count; the
		// store's own tests check that the parameters come back bit for bit).
		p, err := st.Params(rec)
		if err != nil {
			t.Fatal(err)
		}
		sel := cfg.Data
		sel.Dir = mnist
		ds, err := data.Load(sel)
		if err != nil {
			t.Fatal(err)
		}
		again, err := train.HessianSharpness(ds, p, cfg.TrainConfig(tk.Run).Loss)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(again-hs) > 1e-12*math.Abs(hs) {
			t.Errorf("%v: stored parameters give exact sharpness %v, the record %v", tk.Run, again, hs)
		}
	}
	if converged == 0 {
		t.Fatal("no run of the tiny grid converged")
	}
}
