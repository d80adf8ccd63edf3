// Package plots draws the paper's figures from a results table (experiments/results: the
// sweep's table.csv, one row per run) and Figure 4 from the points of the validation.
//
// It reads result tables only, never live training state (data flow: data -> train ->
// analysis -> experiments -> plots), and only draws: the claim checks are package claims, the
// report is the command experiments/report. The pieces:
//
//   - Figure1a, Figure1b, Figure2, Figure3: gonum/plot figures (Mulayoff & Michaeli 2024,
//     Sec. 4 and THEORY.md chain (26)); Figure.Save writes PNG and SVG atomically
//     (internal/atomicfile), so a failed render never leaves a 0-byte file.
//     Runs that did not converge, converged runs missing a plotted value, and (in the curves
//     of the generalized sharpness, Figures 2 and 3) runs whose generalized sharpness stopped
//     at its iteration limit (results.Row.GenUnconverged: a lower estimate, eta* biased high)
//     are left out of the curves and counted in the legend and in Figure.Caption.
//     The runs of one point (eta, B) are its seeds: each point is drawn at their median, with
//     their min-max range as error bars (for lambda_gen widened to the certified brackets);
//     captions say how many seeds each point has, and where fewer (results.Repeats), and the
//     legends of a multi-seed table give each curve's seeds. A run left out is left out for its
//     seed only. Figures 1(a), 1(b) and 3 name the step sizes at which full-batch GD (B = n) has
//     runs but none converged, and why.
//   - Figure4: the validation of eta* at the minima, from Fig4Points.
//   - Figure5: the path to the edge, from the sharpness paths the sweep writes beside the table
//     (results.Path): the sharpness during training against 2/eta_t. Its golden images are
//     testdata/golden/fig5.{png,svg}, drawn from testdata/paths.jsonl (TestGoldenFigure5, the
//     same -update flag).
//
// Golden images: TestGoldenFigures renders the figures of testdata/tiny.csv (one seed per
// point) and testdata/seeds.csv (three seeds, fewer at some points) and compares them with
// testdata/golden and testdata/golden/seeds (decoded PNG pixels, SVG text with numbers to
// 0.05 pt); after an
// intended change of the figures, regenerate with
//
//	go test ./plots -run Golden -update
//
// and look at the new PNGs before committing them.
package plots
