package plots

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/results/resultstest"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

var viewDir = flag.String("view", "", "write the figures of a full synthetic table into this directory (for looking at them)")

// TestFiguresSynthetic renders every figure of a realistic synthetic table, written and read
// back as CSV like the sweep's tables, in both formats.
func TestFiguresSynthetic(t *testing.T) {
	table := results.EncodeCSV(resultstest.Default().Rows())
	rows, err := results.ReadCSV(bytes.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Figures(rows)
	if err != nil {
		t.Fatal(err)
	}
	dir := *viewDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := atomicfile.WriteFile(filepath.Join(dir, results.CSVFile), table); err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		paths, err := f.Save(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 2 {
			t.Fatalf("%s: wrote %v, want png and svg", f.Name, paths)
		}
	}
}
