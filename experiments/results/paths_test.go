package results

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func samePath(a, b Path) bool {
	eq := func(x, y []float64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] && !(math.IsNaN(x[i]) && math.IsNaN(y[i])) {
				return false
			}
		}
		return true
	}
	return a.Key == b.Key && a.Config == b.Config && a.LR == b.LR && a.Batch == b.Batch && a.Seed == b.Seed && a.Status == b.Status &&
		reflect.DeepEqual(a.Epochs, b.Epochs) && eq(a.Sharpness, b.Sharpness) && eq(a.StepSize, b.StepSize) && eq(a.Residual, b.Residual)
}

// TestPathsRoundTrip writes paths with non-finite values to a file and reads them back; a grid
// without paths removes a stale file.
func TestPathsRoundTrip(t *testing.T) {
	in := []Path{
		{Key: "ab12", Config: "quick", LR: 0.02, Batch: 8, Seed: 3, Status: StatusConverged, Epochs: []int{0, 10, 23},
			Sharpness: []float64{412.25, 98.5, 61.0625}, StepSize: []float64{1e-5, 0.002, 0.02}, Residual: []float64{1e-3, 4e-3, 2e-3}},
		{Key: "cd34", LR: 0.5, Batch: 1, Status: StatusDiverged, Epochs: []int{0, 4},
			Sharpness: []float64{300, math.NaN()}, StepSize: []float64{0.5, math.Inf(1)}, Residual: []float64{math.Inf(-1), math.NaN()}},
		{Key: "ef56", LR: 0.1, Batch: 2, Status: StatusEpochLimit, Epochs: []int{0}, Sharpness: []float64{7}, StepSize: []float64{0.1}, Residual: []float64{0}},
	}
	dir := t.TempDir()
	if err := WritePaths(dir, in); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, PathsFile))
	if strings.Count(string(b), "\n") != 3 || !strings.Contains(string(b), `"sharpness":[300,"NaN"]`) {
		t.Errorf("file:\n%s", b)
	}
	out, err := ReadPathsFile(filepath.Join(dir, PathsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d paths, wrote %d", len(out), len(in))
	}
	for i := range in {
		if !samePath(in[i], out[i]) {
			t.Errorf("path %d: wrote %+v, read %+v", i, in[i], out[i])
		}
	}
	if err := WritePaths(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PathsFile)); !os.IsNotExist(err) {
		t.Errorf("stale paths file kept: %v", err)
	}
	if err := WritePaths(dir, nil); err != nil {
		t.Errorf("no paths and no file: %v", err)
	}
}

func TestPathsRejects(t *testing.T) {
	for name, line := range map[string]string{
		"unequal":    `{"key":"a","lr":0.1,"batch":1,"status":"converged","epochs":[0,1],"sharpness":[1],"step_size":[1,1],"residual":[0,0]}`,
		"decreasing": `{"key":"a","lr":0.1,"batch":1,"status":"converged","epochs":[5,1],"sharpness":[1,1],"step_size":[1,1],"residual":[0,0]}`,
		"empty":      `{"key":"a","lr":0.1,"batch":1,"status":"converged","epochs":[],"sharpness":[],"step_size":[],"residual":[]}`,
		"bad lr":     `{"key":"a","lr":0,"batch":1,"status":"converged","epochs":[0],"sharpness":[1],"step_size":[1],"residual":[0]}`,
		"bad word":   `{"key":"a","lr":0.1,"batch":1,"status":"converged","epochs":[0],"sharpness":["big"],"step_size":[1],"residual":[0]}`,
	} {
		if _, err := ReadPaths(strings.NewReader("\n" + line + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: error %v, want one naming line 2", name, err)
		}
	}
	if _, err := EncodePaths([]Path{{Key: "x", LR: 0.1, Batch: 1}}); err == nil {
		t.Error("a path without checkpoints encoded")
	}
}
