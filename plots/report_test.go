package plots

import (
	"strings"
	"testing"
)

func TestReportMarkdown(t *testing.T) {
	rows := tinyRows(t)
	figs, err := Figures(rows)
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Table: "testdata/tiny.csv", Rows: rows, Figures: figs, FigureDir: "figures",
		Claims: CheckClaims(rows, Tolerances{}), Sections: []string{"## Validation (issue 7)\n\nplaceholder text"}}
	md := string(rep.Markdown())
	for _, want := range []string{
		"![Figure 1(a): sharpness vs step size](figures/fig1a.png)",
		"figures/fig2.png", "figures/fig3.svg", "### Claim (1): ", "### Claim (4): ", "### Tolerances",
		"Left out of the curves: 2 run(s) that did not converge (diverged 1, epoch_limit 1)",
		"| 0.043 | 1 | diverged | 134 | – | – | – | – | 46.51 | – |",
		"| 0.012 | 1 | converged | 117 | 39.58 | 87.08 | 146.5 | 158.333 [155.167, 161.5] | 166.7 | 1.053 |",
		"## Validation (issue 7)\n\nplaceholder text",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// One table line per run.
	if got := strings.Count(md, " | converged | ") + strings.Count(md, " | diverged | ") + strings.Count(md, " | epoch_limit | "); got != len(rows) {
		t.Errorf("run table has %d lines, want %d", got, len(rows))
	}
	// Every claim verdict appears in the summary table.
	for _, c := range rep.Claims {
		if !strings.Contains(md, "| **"+string(c.Verdict)+"** |") {
			t.Errorf("verdict of claim %d missing", c.ID)
		}
	}
}
