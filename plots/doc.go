// Package plots turns a results table (the sweep's table.csv, one row per run) into the
// paper's figures and a Markdown report whose claim checks are computed from the data.
//
// It reads result tables only, never live training state (data flow: data -> train ->
// analysis -> experiments -> plots). The pieces:
//
//   - ReadTable / ReadTableFile: the CSV table of CONTRACTS.md into plain Rows. Extra
//     columns are tolerated, empty cells are missing values (NaN for reals, -1 for counts).
//   - Figure1a, Figure1b, Figure2, Figure3: gonum/plot figures (Mulayoff & Michaeli 2024,
//     Sec. 4 and THEORY.md chain (26)); Figure.Save writes PNG and SVG atomically
//     (temporary file + rename), so a failed render never leaves a 0-byte file.
//     Runs that did not converge, and converged runs missing a plotted value, are left out
//     of the curves and counted in the legend and in Figure.Caption.
//   - CheckClaims: the paper's four claims of issue 6, each "holds", "fails" or
//     "untested" (not enough data), with the numbers behind the verdict and the tolerances
//     of Tolerances.
//   - WriteReport: REPORT.md with the figures, the claim checks and a table of every run;
//     extra Markdown sections (e.g. the validation of issue 7) are appended verbatim.
//
// Golden images: TestGoldenFigures renders the figures of testdata/tiny.csv and compares
// them with testdata/golden (decoded PNG pixels, SVG text with numbers to 0.05 pt); after an
// intended change of the figures, regenerate with
//
//	go test ./plots -run Golden -update
//
// and look at the new PNGs before committing them.
//
// The command experiments/report wires these together:
//
//	go run ./experiments/report -table results/table.csv -out results
package plots
