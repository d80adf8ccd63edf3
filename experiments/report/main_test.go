package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/internal/cmdtest"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

func TestMain(m *testing.M) { cmdtest.Main(m) }

func TestRunWritesFiguresAndReport(t *testing.T) {
	out := t.TempDir()
	section := filepath.Join(out, "validation.md")
	if err := os.WriteFile(section, []byte("## Validation\n\nlater"), 0o644); err != nil {
		t.Fatal(err)
	}
	table, _ := filepath.Abs(filepath.Join("..", "..", "plots", "testdata", "tiny.csv"))
	if err := run([]string{"-table", table, "-out", out, "-section", section}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fig1a", "fig1b", "fig2", "fig3"} {
		for _, ext := range []string{"png", "svg"} {
			st, err := os.Stat(filepath.Join(out, "figures", name+"."+ext))
			if err != nil || st.Size() == 0 {
				t.Errorf("%s.%s: %v", name, ext, err)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(figures/fig1a.png)", "## Validation\n\nlater", "### Claim (3)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
}

// TestRunDrawsPaths: Figure 5 is drawn from -paths, or from sharpness_paths.jsonl beside the
// table, and linked in the report; without a paths file there is none; a missing -paths file is
// an error.
func TestRunDrawsPaths(t *testing.T) {
	paths, _ := filepath.Abs(filepath.Join("..", "..", "plots", "testdata", "paths.jsonl"))
	dir := t.TempDir()
	b, err := os.ReadFile(tiny)
	if err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, results.CSVFile)
	os.WriteFile(table, b, 0o644)
	has := func(out string) bool {
		md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(filepath.Join(out, "figures", "fig5.png"))
		return strings.Contains(string(md), "(figures/fig5.png)") && err == nil
	}
	out := filepath.Join(dir, "none")
	if err := run([]string{"-table", table, "-out", out}); err != nil || has(out) {
		t.Errorf("without paths: %v, figure 5 drawn: %v", err, has(out))
	}
	out = filepath.Join(dir, "flag")
	if err := run([]string{"-table", table, "-out", out, "-paths", paths}); err != nil || !has(out) {
		t.Errorf("-paths: %v, figure 5 drawn: %v", err, has(out))
	}
	p, _ := os.ReadFile(paths)
	os.WriteFile(filepath.Join(dir, results.PathsFile), p, 0o644)
	out = filepath.Join(dir, "beside")
	if err := run([]string{"-table", table, "-out", out}); err != nil || !has(out) {
		t.Errorf("paths beside the table: %v, figure 5 drawn: %v", err, has(out))
	}
	if err := run([]string{"-table", table, "-out", filepath.Join(dir, "x"), "-paths", filepath.Join(dir, "missing.jsonl")}); err == nil {
		t.Error("a missing -paths file was accepted")
	}
}

// TestRunReadsJSONLines: the JSON-lines table gives the same report as the CSV one.
func TestRunReadsJSONLines(t *testing.T) {
	rows := tinyRows(t)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, results.JSONLFile)
	if err := os.WriteFile(jsonl, results.EncodeJSONL(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	var md [2]string
	for i, table := range []string{tiny, jsonl} {
		out := filepath.Join(dir, fmt.Sprint(i))
		if err := run([]string{"-table", table, "-out", out}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
		if err != nil {
			t.Fatal(err)
		}
		md[i] = strings.Replace(string(b), table, "TABLE", 1)
	}
	if md[0] != md[1] {
		t.Error("the reports of table.csv and table.jsonl differ")
	}
}

func TestRunErrors(t *testing.T) {
	out := t.TempDir()
	bad := filepath.Join(out, "bad.csv")
	os.WriteFile(bad, []byte("lr,batch\n0.1,1\n"), 0o644)
	for _, args := range [][]string{
		{},
		{"-table", bad},
		{"-table", bad, "-out", out},
		{"-table", filepath.Join(out, "none.csv"), "-out", out},
		{"-table", "../../plots/testdata/tiny.csv", "-out", out, "-section", filepath.Join(out, "none.md")},
	} {
		if err := run(args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "REPORT.md")); err == nil {
		t.Error("a failed run left a REPORT.md")
	}
}

// -h is not an error (main exits 0 on flag.ErrHelp); an -out that cannot be written is refused
// before the table is read.
func TestRunHelpAndUnwritableOut(t *testing.T) {
	if err := run([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	err := run([]string{"-table", filepath.Join(dir, "none.csv"), "-out", filepath.Join(file, "out")})
	if err == nil || !strings.Contains(err.Error(), "-out: cannot create directory") {
		t.Errorf("unwritable -out: %v", err)
	}
}

// The report and train binaries print their usage for -h and exit 0 (the sweep's and the
// validation's exit codes for -h are tested in their packages, without a build).
func TestHelpExitsZero(t *testing.T) {
	for pkg, flagName := range map[string]string{".": "-table", "../train": "-init-factor"} {
		out, err := exec.Command(cmdtest.Build(t, pkg), "-h").CombinedOutput()
		if err != nil || !strings.Contains(string(out), flagName) {
			t.Errorf("%s -h: %v\n%s", pkg, err, out)
		}
	}
}

// regimeDir writes a hand-built table and its sharpness paths (n = 64, h = 8, init factor 5, one
// initial point) into a new directory and returns the table's path. SGD at eta = 0.01, 0.02
// (2/eta = 200, 100) with B = 1, 2 (two seeds each, lambda_gen/(2/eta) = edge and edge + 0.04)
// and B = 8 (0.5); full-batch GD at eta = 0.001 (epoch_limit at loss 3e-6 after 20000 epochs,
// its path ending at sharpness reached), 0.01 (converged) and 0.02 (epoch_limit within
// max_epochs = 5000: missing from Figure 1(a)). Every path starts at lambda0. With
// notConverged, the B = 2 runs at eta = 0.02 end at the epoch limit.
func regimeDir(t *testing.T, lambda0, reached, edge float64, notConverged bool) string {
	t.Helper()
	h, n := 8, 64
	var initSeed uint64
	var rows []results.Row
	var paths []results.Path
	add := func(lr float64, b int, seed uint64, status string, gen float64, maxEpochs int, last float64) {
		s, ep, me := seed, 300, maxEpochs
		r := results.Row{Key: fmt.Sprintf("k%g-%d-%d", lr, b, seed), Config: "regime", Hidden: &h, InitFactor: jsonfloat.Ptr(5),
			InitSeed: &initSeed, N: &n, LR: lr, Batch: b, Seed: &s, Status: status, Epochs: &ep, FinalLoss: jsonfloat.Ptr(3e-6), MaxEpochs: &me}
		if status == results.StatusEpochLimit {
			ep = maxEpochs
		}
		if status == results.StatusConverged {
			r.FinalLoss = jsonfloat.Ptr(5e-7)
			r.GenSharpness = jsonfloat.Ptr(gen * 2 / lr)
			r.Sharpness = jsonfloat.Ptr(0.3 * 2 / lr)
			if b == n {
				r.Sharpness = r.GenSharpness
			}
		}
		r.Derive()
		rows = append(rows, r)
		paths = append(paths, results.Path{Key: r.Key, Config: "regime", LR: lr, Batch: b, Seed: seed, Status: status,
			Epochs: []int{0, 100, ep}, Sharpness: []float64{lambda0, 0.5 * lambda0, last}, StepSize: []float64{lr / 100, lr, lr}, Residual: []float64{1e-3, 1e-3, 1e-3}})
	}
	conv := results.StatusConverged
	for _, lr := range []float64{0.01, 0.02} {
		for _, seed := range []uint64{1, 2} {
			add(lr, 1, seed, conv, edge+0.04*float64(seed-1), 5000, 0.3*2/lr)
			st := conv
			if notConverged && lr == 0.02 {
				st = results.StatusEpochLimit
			}
			add(lr, 2, seed, st, edge+0.04*float64(2-seed), 5000, 0.3*2/lr)
		}
		add(lr, 8, 1, conv, 0.5, 5000, 0.3*2/lr)
	}
	add(0.001, n, 1, results.StatusEpochLimit, 0, 20000, reached)
	add(0.01, n, 1, conv, 0.99, 5000, 198)
	add(0.02, n, 1, results.StatusEpochLimit, 0, 5000, 95)
	dir := t.TempDir()
	if err := results.WriteTable(dir, rows); err != nil {
		t.Fatal(err)
	}
	if err := results.WritePaths(dir, paths); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, results.CSVFile)
}

// TestReportRegime: the report opens with the paper's regime, computed from the table and the
// paths beside it; a table in the regime and one that misses each criterion.
func TestReportRegime(t *testing.T) {
	report := func(table string) string {
		out := filepath.Join(filepath.Dir(table), "out")
		if err := run([]string{"-table", table, "-out", out}); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
		if err != nil {
			t.Fatal(err)
		}
		return string(md)
	}
	// lambda0 = 500 > 2/0.01, GD reached 300 (ratio 300*0.01/2 = 1.5), B = 1, 2 at 0.92-0.96
	table := regimeDir(t, 500, 300, 0.92, false)
	md := report(table)
	sec := md[strings.Index(md, "## The paper's regime"):strings.Index(md, "- Runs:")]
	t.Logf("the section rendered from the test table:\n%s", sec)
	for _, want := range []string{
		"| (a) The start is unstable for every SGD step size of the grid (λ0 > 2/η), and so is the point GD with a tiny step reaches from it. | **holds** |",
		"| (b) At least 90 % of the SGD runs with B ≤ 32 converge under the rule. | **holds** |",
		"| (c) For B = 1 and 2, λgen/(2/η) ≥ 0.9 at every step size of the grid, for every seed (a run that did not converge fails). | **holds** |",
		"and the sharpness paths `" + filepath.Join(filepath.Dir(table), results.PathsFile) + "`",
		"λ0 = 500 at the initial point (h = 8, init factor 5, init seed 0; unstable for η > 2/λ0 = 0.004), min over the 2 SGD step sizes of λ0/(2/η) = 2.500",
		"GD at η = 0.001 (`regime`, stable at the start) reached sharpness 300 (its sharpness path after epoch 20000; epoch_limit after 20000 epochs, loss 3e-06",
		"- (b) **holds**: 10 of 10 SGD runs with B ≤ 32 converged (100.0 %, every seed counted).",
		"- (c) **holds**: B = 1: 4 usable minima at 2 step sizes, smallest λgen/(2/η) 0.920 (η = 0.01, B = 1, seed 1), smallest median over seeds 0.940 (η = 0.01), 0 failing",
		"  - for comparison, no verdict: B = 8: 2 usable minima at 2 step sizes, smallest λgen/(2/η) 0.500",
		"### Where this run differs from the paper",
		"- (a) GD with a tiny step (η = 0.001) did not converge: epoch_limit after 20000 epochs, loss 3e-06; its sharpness 300 is that of the point reached.",
		"- Full-batch GD (B = n) did not converge at 1 of the grid's step sizes, so Figure 1(a) has no GD point there: η = 0.02 (epoch_limit after 5000 epochs, loss 3e-06).",
		"- Seeds: 1–2 seeds per point",
		// Figure 1(a)'s caption names the missing GD step size and why
		"Full-batch GD (B = n = 64) is missing at η = 0.001 (did not converge within max_epochs = 20000) and at η = 0.02 (did not converge within max_epochs = 5000). (Vector version: [fig1a.svg]",
	} {
		contains(t, md, want)
	}
	if i, j := strings.Index(md, "## The paper's regime"), strings.Index(md, "## The paper's claims, checked"); i < 0 || i > j || i > strings.Index(md, "- Runs:") {
		t.Error("the paper's regime is not the report's first section")
	}
	// lambda0 = 150: stable at eta = 0.01; the point reached 150 as well; B = 1, 2 at 0.6; B = 2 at
	// eta = 0.02 not converged (8 of 10 SGD runs with B <= 32 converged)
	md = report(regimeDir(t, 150, 150, 0.6, true))
	for _, want := range []string{
		"reaches from it. | **fails** |", "converge under the rule. | **fails** |", "for every seed (a run that did not converge fails). | **fails** |",
		"- (a) The start (h = 8, init factor 5, init seed 0) is stable at 1 of the 2 SGD step sizes (η ≤ 2/λ0 = 0.01333): λ0/(2/η) = 0.750 at η = 0.01, where the paper needs > 1.",
		"- (a) The point GD with a tiny step reaches (sharpness 150) is stable for GD at 1 of the 2 SGD step sizes (η ≤ 0.01333): sharpness/(2/η) = 0.750 at η = 0.01.",
		"- (b) 80.0 % of the SGD runs with B ≤ 32 converged (8 of 10), 90 % needed: 1 more would have to converge.",
		"- (c) B = 1: 4 of the runs and step sizes fail: η = 0.01, B = 1, seed 1: λgen/(2/η) = 0.600",
		"; smallest λgen/(2/η) 0.600 (η = 0.01, B = 1, seed 1), 0.300 below 0.9.",
		"- (c) B = 2: 4 of the runs and step sizes fail: ",
	} {
		contains(t, md, want)
	}
	// without paths: (a) is untested and says which measurement is missing
	os.Remove(filepath.Join(filepath.Dir(table), results.PathsFile))
	md = report(table)
	for _, want := range []string{"(no sharpness paths: criterion (a) needs them)", "reaches from it. | **untested** |",
		"- (a) untested, missing the sharpness at initialization: no sharpness paths (train with training.sharpness_every set)."} {
		contains(t, md, want)
	}
}
