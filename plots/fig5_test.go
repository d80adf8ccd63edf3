package plots

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// checkGolden compares figure f rendered as format with dir/<name>.<format> (or rewrites that
// file under -update).
func checkGolden(t *testing.T, dir string, f *Figure, format string) {
	t.Helper()
	got := render(t, f, format)
	path := filepath.Join(dir, f.Name+"."+format)
	if *update {
		if err := atomicfile.WriteFile(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plots -run Golden -update to create it)", err)
	}
	if err := compareGolden(got, want, format); err != nil {
		t.Errorf("%s differs from golden: %v", path, err)
	}
}

// compareGolden compares a rendering with its golden file: PNG pixels or SVG text.
func compareGolden(got, want []byte, format string) error {
	if format == "png" {
		return comparePNG(got, want, 0.002)
	}
	return compareSVG(got, want, 0.05)
}

func tinyPaths(t *testing.T) []results.Path {
	t.Helper()
	paths, err := results.ReadPathsFile(filepath.Join("testdata", "paths.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestGoldenFigure5 renders Figure 5 of testdata/paths.jsonl and compares it with
// testdata/golden/fig5.{png,svg} (-update rewrites them), and checks that a changed path fails.
func TestGoldenFigure5(t *testing.T) {
	f, err := Figure5(tinyPaths(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"png", "svg"} {
		checkGolden(t, filepath.Join("testdata", "golden"), f, format)
		if *update {
			continue
		}
		want, err := os.ReadFile(filepath.Join("testdata", "golden", "fig5."+format))
		if err != nil {
			t.Fatal(err)
		}
		changed := tinyPaths(t)
		for i := range changed {
			if changed[i].Batch == 64 && changed[i].LR == 0.02 {
				for j := range changed[i].Sharpness {
					changed[i].Sharpness[j] *= 0.5
				}
			}
		}
		g, err := Figure5(changed)
		if err != nil {
			t.Fatal(err)
		}
		if compareGolden(render(t, g, format), want, format) == nil {
			t.Errorf("%s: a changed path passed the golden comparison", format)
		}
	}
	// panels B = 1, 16 (one checkpoint), 64 of the batch sizes 1, 8, 16, 64; the second seed is not drawn
	if len(f.Panels) != 3 || f.Panels[1].Title.Text != "B = 16" || !strings.Contains(f.Caption, "11 run(s)") ||
		!strings.Contains(f.Caption, "B = 1, η = 0.04: 1 of 41 checkpoints not finite") {
		t.Errorf("panels %d, caption %q", len(f.Panels), f.Caption)
	}
}

// TestFigure5Robust: degenerate paths render without error: a single checkpoint, every value
// non-finite, zero step sizes (2/eta_t infinite), and no paths is an error.
func TestFigure5Robust(t *testing.T) {
	if _, err := Figure5(nil); err == nil {
		t.Error("no paths: want an error")
	}
	nan := math.NaN()
	for name, paths := range map[string][]results.Path{
		"single": {{Key: "a", LR: 0.1, Batch: 1, Status: results.StatusConverged, Epochs: []int{0}, Sharpness: []float64{5}, StepSize: []float64{0.1}, Residual: []float64{0}}},
		"all nan": {{Key: "a", LR: 0.1, Batch: 2, Status: results.StatusDiverged, Epochs: []int{0, 10}, Sharpness: []float64{nan, nan},
			StepSize: []float64{nan, nan}, Residual: []float64{nan, nan}}},
		"zero steps": {{Key: "a", LR: 0.1, Batch: 4, Status: results.StatusConverged, Epochs: []int{0, 5, 9}, Sharpness: []float64{30, 0, -1},
			StepSize: []float64{0, 0, 0.1}, Residual: []float64{0, 0, 0}}},
	} {
		f, err := Figure5(paths)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, format := range []string{"png", "svg"} {
			var buf bytes.Buffer
			if err := f.Encode(&buf, format); err != nil || buf.Len() == 0 {
				t.Errorf("%s: %s: %v (%d bytes)", name, format, err, buf.Len())
			}
		}
	}
}
