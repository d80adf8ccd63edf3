package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/claims"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/plots"
)

// tiny is the small table of the golden figures.
var tiny = filepath.Join("..", "..", "plots", "testdata", "tiny.csv")

func tinyRows(t *testing.T) []results.Row {
	t.Helper()
	rows, err := results.ReadFile(tiny)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func tinyReport(t *testing.T, rows []results.Row) string {
	t.Helper()
	figs, err := plots.Figures(rows)
	if err != nil {
		t.Fatal(err)
	}
	rep := &report{table: "testdata/tiny.csv", rows: rows, figures: figs, figureDir: "figures",
		claims: claims.Check(rows, claims.Tolerances{}), sections: []string{"## Validation\n\nplaceholder text"}}
	return string(rep.markdown())
}

func TestReportMarkdown(t *testing.T) {
	rows := tinyRows(t)
	md := tinyReport(t, rows)
	cs := claims.Check(rows, claims.Tolerances{})
	for _, want := range []string{
		"![Figure 1(a): sharpness vs step size](figures/fig1a.png)",
		"figures/fig2.png", "figures/fig3.svg", "### Claim (1): ", "### Claim (4): ", "### Tolerances",
		"Left out of the curves: 2 run(s) that did not converge (diverged 1, epoch_limit 1)",
		"| 0.043 | 1 | 1 | diverged | 134 | – | – | – | – | 46.51 | – |",
		"| 0.012 | 1 | 1 | converged | 117 | 39.58 | 87.08 | 146.5 | 158.333 [155.167, 161.5] | 166.7 | 1.053 |",
		"- Seeds: 1; runs per point (η, B): 1 seed per point.", "One line per run, 1 seed per point (converged or not).",
		"Each point is one run (1 seed per point).", "(1 seed per point)",
		"## Validation\n\nplaceholder text",
		"## The rank-one question",
	} {
		contains(t, md, want)
	}
	// One table line per run.
	if got := strings.Count(md, " | converged | ") + strings.Count(md, " | diverged | ") + strings.Count(md, " | epoch_limit | "); got != len(rows) {
		t.Errorf("run table has %d lines, want %d", got, len(rows))
	}
	// Every claim verdict appears in the summary table.
	for _, c := range cs {
		if !strings.Contains(md, "| **"+string(c.Verdict)+"** |") {
			t.Errorf("verdict of claim %d missing", c.ID)
		}
	}
}

// TestReportMarksFlaggedMinima: a minimum whose generalized sharpness stopped at its iteration
// limit is counted at the top and marked in the run table.
func TestReportMarksFlaggedMinima(t *testing.T) {
	rows := tinyRows(t)
	if md := tinyReport(t, rows); strings.Contains(md, "†") || strings.Contains(md, "iteration limit") {
		t.Error("report of an unflagged table mentions the flag")
	}
	for i := range rows {
		if rows[i].LR == 0.012 && rows[i].Batch == 1 {
			rows[i].AnalysisStatus = results.AnalysisIterationLimit
		}
		if rows[i].LR == 0.002 && rows[i].Batch == 2 {
			rows[i].NonuniformityStatus = results.AnalysisIterationLimit
		}
	}
	md := tinyReport(t, rows)
	for _, want := range []string{
		"- Minima whose generalized sharpness stopped at its iteration limit: 1.",
		"- Minima whose nonuniformity stopped at its iteration limit (a lower estimate; column nonuniformity_status of the table): 1.",
		"| 0.012 | 1 | 1 | converged | 117 | 39.58 | 87.08 | 146.5 | 158.333 [155.167, 161.5] † | 166.7 | 1.053 † |",
		"left out of the checks on λgen: 1 minima whose generalized sharpness stopped at its iteration limit",
		"1 converged run(s) whose generalized sharpness stopped at its iteration limit",
	} {
		contains(t, md, want)
	}
}

func contains(t *testing.T, md, want string) {
	t.Helper()
	if !strings.Contains(md, want) {
		t.Errorf("report lacks %q", want)
	}
}

// TestReportSeeds: with several seeds per point the report lists the seeds, the runs per point,
// one run table line per seed (ordered by seed within a point), and the claims' summaries and
// the captions count the seeds behind each point.
func TestReportSeeds(t *testing.T) {
	rows, err := results.ReadFile(filepath.Join("..", "..", "plots", "testdata", "seeds.csv"))
	if err != nil {
		t.Fatal(err)
	}
	md := tinyReport(t, rows)
	for _, want := range []string{
		"- Seeds: 1, 2, 3; runs per point (η, B): 3 seeds per point.",
		"One line per run, 3 seeds per point (converged or not).",
		"| 0.012 | 1 | 2 | converged |", "| 0.012 | 1 | 3 | diverged |",
		"2–3 seeds per point; fewer than 3 at B = 1 (2 at η = 0.012)", // captions and claims: converged runs
		"Full-batch GD (B = n = 64) is missing at η = 0.002 (did not converge within max_epochs = 5000).",
	} {
		contains(t, md, want)
	}
	if i, j := strings.Index(md, "| 0.012 | 1 | 2 | converged |"), strings.Index(md, "| 0.012 | 1 | 3 | diverged |"); i > j {
		t.Error("run table not ordered by seed within a point")
	}
	for _, c := range claims.Check(rows, claims.Tolerances{}) {
		if !strings.Contains(md, c.Summary) || !strings.Contains(c.Summary, "seed") {
			t.Errorf("claim %d: summary without seeds or not in the report: %s", c.ID, c.Summary)
		}
	}
}
