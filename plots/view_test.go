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

// TestFiguresSynthetic renders every figure of a realistic synthetic table, with one and with
// three seeds per point, written and read back as CSV like the sweep's tables, in both formats
// (with -view DIR: into DIR and DIR/seeds).
func TestFiguresSynthetic(t *testing.T) {
	multi := resultstest.Default()
	multi.Seeds = []uint64{1, 2, 3}
	for sub, synth := range map[string]resultstest.Synth{"": resultstest.Default(), "seeds": multi} {
		table := results.EncodeCSV(synth.Rows())
		rows, err := results.ReadCSV(bytes.NewReader(table))
		if err != nil {
			t.Fatal(err)
		}
		figs, err := Figures(rows)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if *viewDir != "" {
			dir = filepath.Join(*viewDir, sub)
			if err := atomicfile.WriteFile(filepath.Join(dir, results.CSVFile), table); err != nil {
				t.Fatal(err)
			}
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
}
