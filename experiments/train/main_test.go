package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/train"
)

func TestTrainCommandWritesRecord(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.json")
	var stderr bytes.Buffer
	args := []string{"-lr", "0.05", "-batch", "4", "-per-class", "4", "-hidden", "5", "-max-epochs", "3",
		"-warmup", "-1", "-seed", "7", "-every", "0", "-out", out}
	if err := run(context.Background(), args, &stderr); err != nil {
		t.Fatal(err)
	}
	log := stderr.String()
	if strings.Count(log, "\nepoch ") != 3 || !strings.Contains(log, "streak 0") || !strings.Contains(log, "epoch_limit after 3 epochs") {
		t.Fatalf("progress output:\n%s", log)
	}
	rec, err := train.ReadRunRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	c := rec.Config
	if c.LR != 0.05 || c.Batch != 4 || c.Hidden != 5 || c.Seed != 7 || c.WarmupSteps != -1 ||
		c.ConvEpochs != train.DefaultConvEpochs || c.Engine != train.EngineFused {
		t.Fatalf("config %+v", c)
	}
	if rec.Status != train.EpochLimit || rec.Epochs != 3 || rec.Steps != 12 || len(rec.LossCurve) != 3 {
		t.Fatalf("status %s epochs %d steps %d curve %d", rec.Status, rec.Epochs, rec.Steps, len(rec.LossCurve))
	}
	if rec.Data.N != 16 || rec.Data.K != 4 || rec.Data.D != 784 || len(rec.Data.Checksum) != 64 || rec.Data.Selection.PerClass != 4 {
		t.Fatalf("data %+v", rec.Data)
	}
	if rec.Params.Hidden != 5 || len(rec.Params.W1) != 5*784 || len(rec.Params.W2) != 4*5 {
		t.Fatalf("params shapes %d %d", len(rec.Params.W1), len(rec.Params.W2))
	}
	if rec.FinalLoss != rec.LossCurve[2] || math.IsNaN(rec.FinalLoss) {
		t.Fatalf("final loss %g, curve %v", rec.FinalLoss, rec.LossCurve)
	}
	if rec.SharpnessPath != nil {
		t.Errorf("a sharpness path without -sharpness-every")
	}
	// -sharpness-every records the path (epochs 0, 2 and the last, 3) and leaves the run as it was.
	outS := filepath.Join(t.TempDir(), "tracked.json")
	if err := run(context.Background(), append(args[:len(args)-1:len(args)-1], outS, "-sharpness-every", "2"), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	recS, err := train.ReadRunRecord(outS)
	if err != nil {
		t.Fatal(err)
	}
	if sp := recS.SharpnessPath; sp == nil || len(sp.Epochs) != 3 || sp.Epochs[2] != 3 || !(sp.Sharpness[0] > 0) || recS.Config.SharpnessEvery != 2 {
		t.Errorf("tracked run: path %+v, config %+v", recS.SharpnessPath, recS.Config)
	}
	for i, v := range rec.Params.Flat() {
		if recS.Params.Flat()[i] != v {
			t.Fatalf("parameter %d differs with tracking", i)
		}
	}
	// The same flags give the same parameters (determinism through the command).
	out2 := filepath.Join(t.TempDir(), "run2.json")
	args[len(args)-1] = out2
	if err := run(context.Background(), args, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	rec2, err := train.ReadRunRecord(out2)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range rec.Params.Flat() {
		if rec2.Params.Flat()[i] != v {
			t.Fatalf("parameter %d differs between identical runs", i)
		}
	}
}

func TestTrainCommandConvergesAndDiverges(t *testing.T) {
	dir := t.TempDir()
	// A loose rule makes a tiny run converge; a huge step size makes it diverge (status, not error).
	for _, tc := range []struct {
		args []string
		want train.Status
	}{
		{[]string{"-lr", "0.02", "-batch", "8", "-conv-threshold", "10", "-conv-epochs", "2"}, train.Converged},
		{[]string{"-lr", "50", "-batch", "8", "-warmup", "-1", "-init-factor", "5"}, train.Diverged},
	} {
		out := filepath.Join(dir, string(tc.want)+".json")
		args := append(tc.args, "-per-class", "2", "-hidden", "3", "-max-epochs", "100", "-out", out)
		if err := run(context.Background(), args, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		rec, err := train.ReadRunRecord(out)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != tc.want {
			t.Fatalf("%v: status %s after %d epochs, want %s", tc.args, rec.Status, rec.Epochs, tc.want)
		}
	}
}

func TestTrainCommandErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-batch", "8"}, "lr is not set"},
		{[]string{"-lr", "-1", "-batch", "8"}, "lr = -1"},
		{[]string{"-lr", "0.1"}, "batch is not set"},
		{[]string{"-lr", "0.1", "-batch", "600"}, "batch = 600"},
		{[]string{"-lr", "0.1", "-batch", "8", "-hidden", "-2"}, "hidden = -2"},
		{[]string{"-lr", "0.1", "-batch", "8", "-init-factor", "NaN"}, "init_factor"},
		{[]string{"-lr", "0.1", "-batch", "8", "-loss", "cubic"}, `unknown loss "cubic"`},
		{[]string{"-lr", "0.1", "-batch", "8", "-engine", "torch"}, `unknown engine "torch"`},
		{[]string{"-lr", "0.1", "-batch", "8", "-classes", "1,x"}, "-classes"},
		{[]string{"-lr", "0.1", "-batch", "8", "-mnist", "/nonexistent"}, "/nonexistent"},
		{[]string{"-lr", "0.1", "-batch", "8", "extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "nosuchflag"},
		// rejected before any data is read (a -mnist that does not exist is never looked at)
		{[]string{"-lr", "0.1", "-batch", "8", "-init-factor", "-1", "-mnist", "/nonexistent"}, "init_factor = -1, want a finite number > 0"},
		{[]string{"-lr", "0.1", "-batch", "4", "-per-class", "1", "-max-epochs", "1", "-out", "/nonexistent/dir/r.json"}, "/nonexistent/dir"},
	} {
		err := run(context.Background(), append(tc.args, "-out", out), &bytes.Buffer{})
		if tc.args[len(tc.args)-1] == "/nonexistent/dir/r.json" {
			err = run(context.Background(), tc.args, &bytes.Buffer{})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// A bad -out is refused before any data is read or anything trains.
func TestTrainCommandOutChecked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for out, want := range map[string]string{
		filepath.Join(dir, "missing", "r.json"): "no such file or directory",
		filepath.Join(file, "r.json"):           "not a directory",
		dir:                                     "is a directory",
	} {
		// -mnist /nonexistent: reaching the data would fail with another message
		err := run(context.Background(), []string{"-lr", "0.1", "-batch", "8", "-mnist", "/nonexistent", "-out", out}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "-out "+out) || !strings.Contains(err.Error(), want) {
			t.Errorf("-out %s: error %v, want one naming -out and containing %q", out, err, want)
		}
	}
	if os.Geteuid() != 0 { // root writes into read-only directories
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		err := run(context.Background(), []string{"-lr", "0.1", "-batch", "8", "-mnist", "/nonexistent", "-out", filepath.Join(ro, "r.json")}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("read-only -out directory: %v", err)
		}
	}
}
