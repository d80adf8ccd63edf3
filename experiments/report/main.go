// Command report turns a results table into the paper's figures and a Markdown report:
//
//	go run ./experiments/report -table results/table.csv -out results
//
// reads the table (experiments/results; CSV, or JSON lines for a .jsonl file), checks the
// criteria of the paper's regime (claims.CheckRegime; the report's first section, with the list of
// where the run differs from the paper) and the paper's four claims (package claims), draws the figures (package plots) and writes
// results/figures/{fig1a,fig1b,fig2,fig3}.{png,svg} and results/REPORT.md (figures embedded
// with relative links, the claim checks with their tolerances and the seeds per point, a table
// of every run, one line per seed). Extra
// Markdown sections, such as the validation of eta* written by experiments/validate, are
// appended with -section FILE (repeatable). Files are written atomically. On error it prints
// one line to stderr and exits with status 1.
//
// When the sweep recorded sharpness paths (training.sharpness_every: the file
// sharpness_paths.jsonl beside the table, or -paths FILE), the report also draws Figure 5, the
// path to the edge (figures/fig5.{png,svg}), and links it; criterion (a) of the paper's regime
// (the sharpness at initialization and at the point GD with a tiny step reaches) needs them, and
// without them the report says that this measurement is missing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sgdstability/sgdstab/claims"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/plots"
)

// readPaths reads the sharpness paths: the file given (an error if missing) or the one beside
// the table (none there: no paths). It returns them with the file they came from.
func readPaths(table, file string) ([]results.Path, string, error) {
	if file == "" {
		file = filepath.Join(filepath.Dir(table), results.PathsFile)
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, "", nil
		}
	}
	paths, err := results.ReadPathsFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("sharpness paths: %w", err)
	}
	return paths, file, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0) // -h: the usage is printed
		}
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	table := fs.String("table", "", "results table: table.csv (or table.jsonl) written by the sweep")
	out := fs.String("out", "", "output directory: writes OUT/REPORT.md and OUT/figures/")
	var sections multiFlag
	pathsFile := fs.String("paths", "", "sharpness paths (default: "+results.PathsFile+" beside the table, when it exists)")
	fs.Var(&sections, "section", "Markdown file appended to the report (repeatable; a missing file is an error)")
	var tol claims.Tolerances
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
	figDir := filepath.Join(*out, "figures")
	if err := atomicfile.CheckDir(figDir, true); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	rows, err := results.ReadFile(*table)
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
	paths, pathsFrom, err := readPaths(*table, *pathsFile)
	if err != nil {
		return err
	}
	if len(paths) > 0 {
		fig5, err := plots.Figure5(paths)
		if err != nil {
			return err
		}
		figs = append(figs, fig5)
	}
	for _, f := range figs {
		if _, err := f.Save(figDir); err != nil {
			return err
		}
	}
	rep := &report{table: *table, rows: rows, figures: figs, figureDir: "figures",
		claims: claims.Check(rows, tol), tolerances: tol, sections: extra,
		regime: claims.CheckRegime(rows, paths), pathsFile: pathsFrom}
	path := filepath.Join(*out, "REPORT.md")
	if err := atomicfile.WriteFile(path, rep.markdown()); err != nil {
		return err
	}
	verdicts := make([]string, len(rep.claims))
	for i, c := range rep.claims {
		verdicts[i] = fmt.Sprintf("(%d) %s", c.ID, c.Verdict)
	}
	reg := rep.regime
	fmt.Printf("report: %d runs, %d figures in %s, %s; paper's regime (a) %s, (b) %s, (c) %s; claims %s\n", len(rows), len(figs), figDir, path,
		reg.A.Verdict, reg.B.Verdict, reg.C.Verdict, strings.Join(verdicts, ", "))
	return nil
}
