package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// table writes a small exploration table: B = 1 at the edge at one step size and below it at the
// other, B = 2 at the edge where it converged and at the epoch limit elsewhere.
func table(t *testing.T) string {
	h, n, ep := 100, 512, 900
	f := func(x float64) *jsonfloat.Float { return jsonfloat.Ptr(x) }
	conv := func(lr float64, b int, gen, sharp float64) results.Row {
		return results.Row{Config: "h100-init5", Hidden: &h, InitFactor: f(5), N: &n, LR: lr, Batch: b,
			Status: results.StatusConverged, Epochs: &ep, GenSharpness: f(gen), Sharpness: f(sharp)}
	}
	rows := []results.Row{
		conv(0.01, 1, 0.95*200, 0.2*200), conv(0.02, 1, 0.5*100, 0.1*100),
		conv(0.01, 2, 0.99*200, 0.3*200),
		{Config: "h100-init5", Hidden: &h, InitFactor: f(5), N: &n, LR: 0.02, Batch: 2, Status: results.StatusEpochLimit},
	}
	dir := t.TempDir()
	if err := results.WriteTable(dir, rows); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, results.CSVFile)
}

func TestGenerated(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{table(t)}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"### h100-init5: h = 100, init factor 5, n = 512",
		"4 runs, 3 converged under the rule (75 %); B <= 32: 3 of 4 (75 %)",
		"| 0.01 | 200 | 0.950 (0.20) | 0.990 (0.30) |",
		"| 0.02 | 100 | 0.500 (0.10) | limit |",
		"B = 1: smallest lambda_gen/(2/eta) over the converged step sizes 0.500 (eta = 0.02): misses the paper's regime",
		"B = 2: smallest lambda_gen/(2/eta) over the converged step sizes 0.990 (eta = 0.01); 1 step sizes without a converged, analysed minimum: misses",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestDocumentKeepsItsText(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "E.md")
	text := "# Title\n\nhand-written\n\n" + beginMarker + "\nold numbers\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(doc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-doc", doc, table(t)}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	got := string(b)
	if !strings.HasPrefix(got, "# Title\n\nhand-written\n\n"+beginMarker+"\n\n### h100-init5") ||
		!strings.HasSuffix(got, endMarker+"\n\nafter\n") || strings.Contains(got, "old numbers") {
		t.Errorf("document:\n%s", got)
	}
	// Without markers the document is refused and left as it was.
	if err := os.WriteFile(doc, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-doc", doc, table(t)}, nil); err == nil || !strings.Contains(err.Error(), "want the lines") {
		t.Errorf("error %v, want one about the markers", err)
	}
	if b, _ := os.ReadFile(doc); string(b) != "no markers\n" {
		t.Errorf("document changed to %q", b)
	}
}

func TestBadInput(t *testing.T) {
	if err := run(nil, nil); err == nil {
		t.Error("no table accepted")
	}
	if err := run([]string{filepath.Join(t.TempDir(), "missing.csv")}, nil); err == nil {
		t.Error("missing table accepted")
	}
}

// Every step size converged at the edge: the criterion is met.
func TestGeneratedMeets(t *testing.T) {
	h, n := 20, 128
	rows := []results.Row{}
	for _, lr := range []float64{0.01, 0.02} {
		rows = append(rows, results.Row{Config: "edge", Hidden: &h, N: &n, LR: lr, Batch: 1, Status: results.StatusConverged,
			GenSharpness: jsonfloat.Ptr(0.95 * 2 / lr), Sharpness: jsonfloat.Ptr(0.2 * 2 / lr)})
	}
	var b bytes.Buffer
	writeSetting(&b, "edge", rows)
	if want := "B = 1: smallest lambda_gen/(2/eta) over the converged step sizes 0.950 (eta = 0.01): meets the paper's regime"; !strings.Contains(b.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, b.String())
	}
}
