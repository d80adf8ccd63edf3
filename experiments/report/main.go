// Command report turns a results table into the paper's figures and a Markdown report:
//
//	go run ./experiments/report -table results/table.csv -out results
//
// writes results/figures/{fig1a,fig1b,fig2,fig3}.{png,svg} and results/REPORT.md (figures
// embedded with relative links, the paper's four claims checked from the data, a table of
// every run). Extra Markdown sections, such as the validation of issue 7, are appended
// with -section FILE (repeatable). Files are written atomically. On error it prints one
// line to stderr and exits with status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/plots"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	table := fs.String("table", "", "results table (CSV, columns as in CONTRACTS.md)")
	out := fs.String("out", "", "output directory: writes OUT/REPORT.md and OUT/figures/")
	var sections multiFlag
	fs.Var(&sections, "section", "Markdown file appended to the report (repeatable; a missing file is an error)")
	var tol plots.Tolerances
	fs.Float64Var(&tol.EdgeSlack, "edge-slack", 0, "claim 1 relative slack on x <= 2/eta (0 = default 0.01)")
	fs.Float64Var(&tol.NearGD, "near-gd", 0, "claim 2 relative distance to B = n (0 = default 0.05)")
	fs.Float64Var(&tol.EdgeRatio, "edge-ratio", 0, "claim 3 minimum median lambda_gen/(2/eta) (0 = default 0.9)")
	fs.Float64Var(&tol.BelowRatio, "below-ratio", 0, "claim 3 maximum median sharpness/(2/eta) (0 = default 0.8)")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" || *out == "" {
		return errors.New("need -table FILE and -out DIR")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	rows, err := plots.ReadTableFile(*table)
	if err != nil {
		return err
	}
	var extra []string
	for _, s := range sections {
		b, err := os.ReadFile(s)
		if err != nil {
			return fmt.Errorf("section: %w", err)
		}
		extra = append(extra, string(b))
	}
	figs, err := plots.Figures(rows)
	if err != nil {
		return err
	}
	figDir := filepath.Join(*out, "figures")
	for _, f := range figs {
		if _, err := f.Save(figDir); err != nil {
			return err
		}
	}
	rep := &plots.Report{Table: *table, Rows: rows, Figures: figs, FigureDir: "figures",
		Claims: plots.CheckClaims(rows, tol), Tolerances: tol, Sections: extra}
	path := filepath.Join(*out, "REPORT.md")
	if err := atomicfile.WriteFile(path, rep.Markdown()); err != nil {
		return err
	}
	verdicts := make([]string, len(rep.Claims))
	for i, c := range rep.Claims {
		verdicts[i] = fmt.Sprintf("(%d) %s", c.ID, c.Verdict)
	}
	fmt.Printf("report: %d runs, %d figures in %s, %s; claims %s\n", len(rows), len(figs), figDir, path, strings.Join(verdicts, ", "))
	return nil
}
