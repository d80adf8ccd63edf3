package plots

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

var viewDir = flag.String("view", "", "write the figures of a full synthetic table into this directory (for looking at them)")

// TestFiguresSynthetic renders every figure of a realistic synthetic table in both formats.
func TestFiguresSynthetic(t *testing.T) {
	rows, err := ReadTable(bytes.NewReader(tableCSV(defaultSynth().rows())))
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
	} else if err := atomicfile.WriteFile(filepath.Join(dir, "table.csv"), tableCSV(defaultSynth().rows())); err != nil {
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
