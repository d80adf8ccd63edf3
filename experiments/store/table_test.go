package store

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// TestTable pins the text of the table written for a converged and a diverged record.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	c := record(t, 0.01, 8)
	c.Notes = []string{"one", "two"}
	d := record(t, 0.5, 1)
	d.Status, d.FinalLoss, d.Analysis, d.HessianSharpness, d.ResidualRel, d.AnalysisSeconds = "diverged", jsonfloat.Float(math.NaN()), nil, nil, nil, 0
	f := record(t, 0.02, 8)
	f.Analysis = json.RawMessage(strings.Replace(string(f.Analysis), `{"iters":3}`, `{"status":"iteration_limit","nonuniformity_status":"converged"},"top_eigenmatrix_effective_rank":1.25,"top_eigenmatrix_top_share":0.875,"top_eigenmatrix_min_eig_rel":-1e-16`, 1))
	for _, r := range []*Record{c, d, f} {
		if _, err := r.seal(); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteTable(dir, "quick", []*Record{c, d, f}); err != nil {
		t.Fatal(err)
	}
	file, _ := os.Open(filepath.Join(dir, "table.csv"))
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cols := results.Columns()
	if len(rows) != 4 || !slices.Equal(rows[0], cols) {
		t.Fatalf("csv: %d rows, header %v", len(rows), rows[0])
	}
	get := func(row int, col string) string { return rows[row][slices.Index(cols, col)] }
	want := map[string]string{
		"key": c.Key, "config": "quick", "hidden": "20", "init_factor": "1", "lr": "0.01", "batch": "8",
		"n": "512", "seed": "1", "init_seed": "3", "status": "converged", "epochs": "300", "steps": "19200",
		"final_loss": "3e-07", "train_seconds": "1.5", "p": "0.5", "sharpness": "10", "gd_threshold": "0.2",
		"two_over_eta": "200", "generalized_sharpness": "40", "gen_sharpness_lo": "39.5", "gen_sharpness_hi": "40.5",
		"eta_star": "0.05", "bound15": "20", "bound16": "15", "bound25": "30", "nonuniformity": "2",
		"hessian_sharpness": "10.001", "residual_rel": "0.0001", "analysis_seconds": "0.25",
		"covariance_trace": "", "expected_loss": "", "sampling": "", "notes": "one; two",
		"analysis_status": "", "nonuniformity_status": "",
		// a record without the top eigenmatrix's shape (written before it was computed)
		"top_eigenmatrix_effective_rank": "", "top_eigenmatrix_top_share": "", "top_eigenmatrix_min_eig_rel": "",
		"bound25_over_gen": "0.75",
	}
	for col, v := range want {
		if got := get(1, col); got != v {
			t.Errorf("converged row %s = %q, want %q", col, got, v)
		}
	}
	for col, v := range map[string]string{"status": "diverged", "final_loss": "NaN", "lr": "0.5", "two_over_eta": "4", "sharpness": "",
		"analysis_seconds": "", "hessian_sharpness": "", "analysis_status": ""} {
		if got := get(2, col); got != v {
			t.Errorf("diverged row %s = %q, want %q", col, got, v)
		}
	}
	if got := get(3, "analysis_status") + " " + get(3, "nonuniformity_status"); got != "iteration_limit converged" {
		t.Errorf("flagged row statuses %q", got)
	}
	if got := strings.Join([]string{get(3, "top_eigenmatrix_effective_rank"), get(3, "top_eigenmatrix_top_share"), get(3, "top_eigenmatrix_min_eig_rel"), get(3, "bound25_over_gen")}, " "); got != "1.25 0.875 -1e-16 0.75" {
		t.Errorf("top eigenmatrix columns %q", got)
	}
	if got := get(2, "bound25_over_gen"); got != "" {
		t.Errorf("diverged row bound25_over_gen %q", got)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "table.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(cols) || m["final_loss"] != "NaN" || m["status"] != "diverged" || m["lr"] != 0.5 || m["sharpness"] != nil {
		t.Errorf("jsonl row: %v", m)
	}
	// Keys in column order.
	if !strings.HasPrefix(lines[0], `{"key":"`+c.Key+`","config":"quick","hidden":20,`) {
		t.Errorf("jsonl order: %.80s", lines[0])
	}
}

func TestTableRowErrors(t *testing.T) {
	r := record(t, 0.01, 8)
	r.Analysis = json.RawMessage(`{"sharpness":"ten"}`)
	if _, err := TableRow("x", r); err == nil || !strings.Contains(err.Error(), "analysis") {
		t.Errorf("bad analysis: %v", err)
	}
	r = record(t, 0.01, 8)
	r.Spec.Train = json.RawMessage(`{"lr":"fast"}`)
	if _, err := TableRow("x", r); err == nil || !strings.Contains(err.Error(), "training settings") {
		t.Errorf("bad training settings: %v", err)
	}
	if err := WriteTable(t.TempDir(), "x", []*Record{r}); err == nil {
		t.Error("WriteTable wrote a bad record")
	}
}

// TestTablePaths: the sharpness paths of the records that have one are written beside the table
// with their run's key, lr, batch, seed and status; without any, no paths file.
func TestTablePaths(t *testing.T) {
	dir := t.TempDir()
	a, b, c := record(t, 0.01, 8), record(t, 0.02, 4), record(t, 0.5, 1)
	a.SharpnessPath = &train.SharpnessPath{Epochs: []int{0, 10, 12}, Sharpness: []float64{300, 150, 120},
		StepSize: []float64{1e-4, 0.01, 0.01}, Residual: []float64{1e-3, 2e-3, 3e-3}}
	c.Status = "diverged"
	c.Analysis, c.HessianSharpness, c.ResidualRel = nil, nil, nil
	c.SharpnessPath = &train.SharpnessPath{Epochs: []int{0, 3}, Sharpness: []float64{300, math.NaN()},
		StepSize: []float64{0.05, 0.5}, Residual: []float64{1e-3, math.NaN()}}
	for _, r := range []*Record{a, b, c} {
		if _, err := r.seal(); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteTable(dir, "g", []*Record{a, b, c}); err != nil {
		t.Fatal(err)
	}
	paths, err := results.ReadPathsFile(filepath.Join(dir, results.PathsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0].Key != a.Key || paths[0].LR != 0.01 || paths[0].Batch != 8 || paths[0].Seed != 1 ||
		paths[0].Status != "converged" || paths[0].Config != "g" || paths[0].Sharpness[2] != 120 ||
		paths[1].Key != c.Key || paths[1].Status != "diverged" || !math.IsNaN(paths[1].Sharpness[1]) {
		t.Errorf("paths %+v", paths)
	}
	if err := WriteTable(dir, "g", []*Record{b}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, results.PathsFile)); !os.IsNotExist(err) {
		t.Errorf("paths file of an earlier table kept: %v", err)
	}
}
