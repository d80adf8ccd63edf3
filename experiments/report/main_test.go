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
