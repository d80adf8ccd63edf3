package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// testTable writes a small exploration table: B = 1 at the edge at one step size and below it at the
// other, B = 2 at the edge where it converged and at the epoch limit elsewhere.
func testTable(t *testing.T) string {
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
	if err := run([]string{testTable(t)}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lacks(t, got, []string{
		"### h100-init5: h = 100, init factor 5, n = 512",
		"- 4 runs, 3 converged under the rule (75 %).",
		"| 0.01 | 200 | 0.950 (0.20) | 0.990 (0.30) |",
		"| 0.02 | 100 | 0.500 (0.10) | limit |",
		"The paper's regime (no paths file; (a) also from the full-batch tables of the same initial point):",
		"- (a) **untested**: missing: the sharpness at initialization: no sharpness paths",
		"- (b) **fails**: 3 of 4 SGD runs with B ≤ 32 converged (75.0 %, every seed counted). Not converged: epoch_limit 1.",
		"- (c) **fails**: B = 1: 2 usable minima at 2 step sizes, smallest λgen/(2/η) 0.500 (η = 0.02, B = 1), smallest median over seeds 0.500 (η = 0.02), 1 failing; " +
			"B = 2: 1 usable minimum at 2 step sizes, smallest λgen/(2/η) 0.990 (η = 0.01, B = 2), smallest median over seeds 0.990 (η = 0.01), 1 failing.",
		"  - B = 1, failing: η = 0.02, B = 1: λgen/(2/η) = 0.500.\n  - B = 2, failing: η = 0.02, B = 2: epoch_limit.\n",
		"  - for comparison, no verdict: B = 4: not run.\n  - for comparison, no verdict: B = 8: not run.\n",
	})
	if strings.Contains(got, "Criterion (a)") {
		t.Error("a criterion (a) table without a full-batch table")
	}
}

func TestDocumentKeepsItsText(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "E.md")
	text := "# Title\n\nhand-written\n\n" + beginMarker + "\nold numbers\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(doc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-doc", doc, testTable(t)}, nil); err != nil {
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
	if err := run([]string{"-doc", doc, testTable(t)}, nil); err == nil || !strings.Contains(err.Error(), "want the lines") {
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

// Every step size converged at the edge: criterion (c) is met.
func TestGeneratedMeets(t *testing.T) {
	h, n := 20, 128
	rows := []results.Row{}
	for _, lr := range []float64{0.01, 0.02} {
		for _, b := range []int{1, 2} {
			rows = append(rows, results.Row{Config: "edge", Hidden: &h, N: &n, LR: lr, Batch: b, Status: results.StatusConverged,
				GenSharpness: jsonfloat.Ptr(0.95 * 2 / lr), Sharpness: jsonfloat.Ptr(0.2 * 2 / lr)})
		}
	}
	var b bytes.Buffer
	writeRegime(&b, table{name: "edge", rows: rows}, nil, nil)
	lacks(t, b.String(), []string{"- (b) **holds**: 4 of 4 SGD runs", "- (c) **holds**: B = 1: 2 usable minima at 2 step sizes, smallest λgen/(2/η) 0.950 (η = 0.01, B = 1), smallest median over seeds 0.950 (η = 0.01), 0 failing; B = 2:"})
}

// writePaths writes paths as TABLE.paths.jsonl beside the table file.
func writePaths(t *testing.T, tableFile string, paths []results.Path) {
	t.Helper()
	b, err := results.EncodePaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(tableFile, filepath.Ext(tableFile))+pathsSuffix, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// startTable writes the table of one tiny-step GD run (a start grid) from (h, init factor 5) with
// its path: sharpness lambda0 at epoch 0, reached after 20000 epochs, and returns its file.
func startTable(t *testing.T, dir string, h int, lambda0, reached float64) string {
	t.Helper()
	n, ep := 512, 20000
	var initSeed uint64
	name := fmt.Sprintf("start-h%d-init5", h)
	r := results.Row{Key: name, Config: name, Hidden: &h, InitFactor: jsonfloat.Ptr(5), InitSeed: &initSeed, N: &n, LR: 0.001, Batch: n,
		Status: results.StatusEpochLimit, Epochs: &ep, FinalLoss: jsonfloat.Ptr(2e-6)}
	sub := filepath.Join(dir, name)
	if err := results.WriteTable(sub, []results.Row{r}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".csv")
	if err := os.Rename(filepath.Join(sub, results.CSVFile), file); err != nil {
		t.Fatal(err)
	}
	writePaths(t, file, []results.Path{{Key: name, LR: 0.001, Batch: n, Status: r.Status, Epochs: []int{0, 250, ep},
		Sharpness: []float64{lambda0, 0.8 * lambda0, reached}, StepSize: []float64{1e-5, 0.001, 0.001}, Residual: []float64{1e-3, 1e-3, 1e-3}}})
	return file
}

// The start tables give the criterion (a) table, and (a) of the setting of the same initial
// point: lambda_0 = 400 (unstable for eta > 0.005), reached 250 (eta > 0.008); at the setting's
// step sizes 0.01, 0.02 min lambda_0/(2/eta) = 400 * 0.01/2 = 2 and 250 * 0.01/2 = 1.25: holds.
// The other start table (h = 20) is another initial point and does not enter it.
func TestStartTables(t *testing.T) {
	dir := t.TempDir()
	setting := testTable(t)
	initSeed := uint64(0)
	rows, err := results.ReadFile(setting)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].InitSeed = &initSeed
	}
	sdir := filepath.Join(dir, "setting")
	if err := results.WriteTable(sdir, rows); err != nil {
		t.Fatal(err)
	}
	setting = filepath.Join(sdir, results.CSVFile)
	s100 := startTable(t, dir, 100, 400, 250)
	s20 := startTable(t, dir, 20, 150, 90)
	var out bytes.Buffer
	if err := run([]string{setting, s100, s20}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lacks(t, got, []string{
		"### Criterion (a): the start and the point GD with a tiny step reaches",
		"| start-h100-init5 | 100 | 5 | 400 | 0.001 | 250 (20000) | epoch_limit, 2e-06 | 0.005 | 0.008 |",
		"| start-h20-init5 | 20 | 5 | 150 | 0.001 | 90 (20000) | epoch_limit, 2e-06 | 0.01333 | 0.02222 |",
		"- (a) **holds**: λ0 = 400 at the initial point (h = 100, init factor 5, init seed 0; unstable for η > 2/λ0 = 0.005), min over the 2 SGD step sizes of λ0/(2/η) = 2.000",
		"GD at η = 0.001 (`start-h100-init5`, stable at the start) reached sharpness 250 (its sharpness path after epoch 20000; epoch_limit after 20000 epochs, loss 2e-06",
		"min over the grid of sharpness/(2/η) = 1.250: unstable at every SGD step size.",
	})
	if strings.Contains(got, "### start-h") {
		t.Errorf("a start table got a setting section:\n%s", got)
	}
	// the setting's own paths file is read (its epoch-0 entries: the largest, 410, is lambda_0)
	writePaths(t, setting, []results.Path{{Key: "k1", LR: 0.01, Batch: 1, Status: "converged", Epochs: []int{0, 10},
		Sharpness: []float64{410, 300}, StepSize: []float64{0.01, 0.01}, Residual: []float64{0, 0}}})
	for i := range rows {
		rows[i].Key = fmt.Sprintf("k%d", i+1)
	}
	if err := results.WriteTable(sdir, rows); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{setting, s100}, &out); err != nil {
		t.Fatal(err)
	}
	lacks(t, out.String(), []string{"The paper's regime (paths: table.paths.jsonl;", "λ0 = 410 at the initial point"})
	// a broken paths file is an error naming it
	if err := os.WriteFile(strings.TrimSuffix(setting, ".csv")+pathsSuffix, []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{setting}, &out); err == nil || !strings.Contains(err.Error(), "table.paths.jsonl") {
		t.Errorf("broken paths file: %v", err)
	}
}

// lacks reports every string of wants that got does not contain.
func lacks(t *testing.T, got string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
