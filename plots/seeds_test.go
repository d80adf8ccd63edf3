package plots

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/results/resultstest"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// TestSummarizeOracle compares summarize with a brute-force summary: for each x, the middle
// of the sorted values (mean of the two middle ones for an even count), the smallest lo and
// the largest hi, the count, in the order in which the x values first appear.
func TestSummarizeOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pts []pt
	for range 200 {
		x := float64(1 + rng.IntN(9))
		y := rng.NormFloat64()
		pts = append(pts, pt{x: x, y: y, lo: y - rng.Float64(), hi: y + rng.Float64(), at: results.Point{LR: x, Batch: 2}})
	}
	ms := summarize(pts)
	var order []float64
	for _, p := range pts {
		if !slices.Contains(order, p.x) {
			order = append(order, p.x)
		}
	}
	if len(ms) != len(order) {
		t.Fatalf("%d groups, want %d", len(ms), len(order))
	}
	for i, m := range ms {
		if m.x != order[i] {
			t.Errorf("group %d at x = %v, want %v (first-appearance order)", i, m.x, order[i])
		}
		var ys []float64
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			if p.x == m.x {
				ys = append(ys, p.y)
				lo, hi = math.Min(lo, p.lo), math.Max(hi, p.hi)
			}
		}
		slices.Sort(ys)
		want := ys[len(ys)/2]
		if len(ys)%2 == 0 {
			want = (ys[len(ys)/2-1] + ys[len(ys)/2]) / 2
		}
		if m.y != want || m.lo != lo || m.hi != hi || m.n != len(ys) {
			t.Errorf("x = %v: median %v lo %v hi %v n %d; want %v %v %v %d", m.x, m.y, m.lo, m.hi, m.n, want, lo, hi, len(ys))
		}
	}
}

// TestCurveMedianAndRange: a curve is drawn at the median over seeds with an error bar over
// their min-max range; the panel's extent shows what was drawn. A range narrower than
// MinBracketRel draws no bar (the extent is the median alone).
func TestCurveMedianAndRange(t *testing.T) {
	at := results.Point{LR: 0.01, Batch: 4}
	mk := func(ys ...float64) []pt {
		var pts []pt
		for _, y := range ys {
			pts = append(pts, pt{x: 0.01, y: y, lo: y, hi: y, at: at})
		}
		return pts
	}
	for _, tc := range []struct {
		name         string
		ys           []float64
		ymin, ymax   float64
		legendSuffix string
	}{
		{"wide", []float64{12, 10, 20}, 10, 20, " (3 seeds)"},
		{"narrow", []float64{10, 10.001, 10.0002}, 10.0002, 10.0002, " (3 seeds)"},         // median, not the mean 10.0004
		{"even", []float64{10, 10.0001, 10.0003, 10.0004}, 10.0002, 10.0002, " (4 seeds)"}, // mean of the middle two
		{"one", []float64{7}, 7, 7, " (1 seed)"},
	} {
		pl := newPanel("", "x", "y", true, true)
		if err := pl.curve(mk(tc.ys...), exclusion{}, curveStyle{color: colBlack}, "c", true); err != nil {
			t.Fatal(err)
		}
		if math.Abs(pl.ymin-tc.ymin) > 1e-12 || math.Abs(pl.ymax-tc.ymax) > 1e-12 {
			t.Errorf("%s: extent [%v, %v], want [%v, %v]", tc.name, pl.ymin, pl.ymax, tc.ymin, tc.ymax)
		}
		if pl.drawn[at] != len(tc.ys) {
			t.Errorf("%s: %d runs recorded at the point, want %d", tc.name, pl.drawn[at], len(tc.ys))
		}
		svg := string(render(t, &Figure{Name: tc.name, Panels: []*plot.Plot{pl.finish()}}, "svg"))
		if !strings.Contains(svg, ">c"+tc.legendSuffix+"<") {
			t.Errorf("%s: legend lacks %q", tc.name, "c"+tc.legendSuffix)
		}
	}
}

// TestSeedCaptions: the captions say how many seeds each point has, and where fewer; the
// legends of a multi-seed table give each curve's seeds, those of a single-seed table do not.
func TestSeedCaptions(t *testing.T) {
	figs, err := Figures(seedRows(t))
	if err != nil {
		t.Fatal(err)
	}
	// seeds.csv: 3 seeds per point; seed 3 diverged at (0.012, B = 1); seed 2's lambda_gen at
	// (0.012, B = 8) stopped at its iteration limit (left out of Figures 2 and 3 only).
	fewer1 := "2–3 seeds per point; fewer than 3 at B = 1 (2 at η = 0.012)."
	want := map[string][]string{
		"fig1a": {"Each point is the median over its seeds, with their min–max range as error bars", fewer1},
		"fig1b": {fewer1},
		"fig2":  {fewer1, "λgen and its bracket left out for 1 run(s)"}, // points count the runs of the most complete curve
		"fig3":  {"2–3 seeds per point; fewer than 3 at B = 1 (2 at η = 0.012), B = 8 (2 at η = 0.012)."},
	}
	legends := map[string][]string{
		"fig1a": {"B = 1 (2–3 seeds, 4 not conv.)", "B = 8 (3 seeds)", "B = n = 64 (3 seeds, 3 not conv.)"},
		"fig1b": {"η = 0.012 (2–3 seeds, 1 not conv.)"},
		"fig2":  {"Figure 2: B = 8 (3 seeds)", "generalized sharpness λgen (1 iter. limit)"},
		"fig3":  {"B = 8 (2–3 seeds, 1 iter. limit)"},
	}
	for _, f := range figs {
		for _, w := range want[f.Name] {
			if !strings.Contains(f.Caption, w) {
				t.Errorf("%s caption lacks %q:\n%s", f.Name, w, f.Caption)
			}
		}
		svg := string(render(t, f, "svg"))
		for _, w := range legends[f.Name] {
			if !strings.Contains(svg, w) {
				t.Errorf("%s legend lacks %q", f.Name, w)
			}
		}
	}
	single, err := Figures(tinyRows(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range single {
		if !strings.Contains(f.Caption, "Each point is one run (1 seed per point).") {
			t.Errorf("%s (one seed) caption: %s", f.Name, f.Caption)
		}
		if strings.Contains(string(render(t, f, "svg")), " seed") {
			t.Errorf("%s (one seed): the legend mentions seeds", f.Name)
		}
	}
}

// TestGDMissing: the B = n curve of Figures 1(a) and 1(b) is drawn exactly at the step sizes
// where a GD run converged; the caption names the others and why, and names no other.
func TestGDMissing(t *testing.T) {
	const n = 512
	rows := resultstest.Synth{N: n, Batches: []int{1, 8, n}, Etas: []float64{0.002, 0.005, 0.012, 0.043}, Seed: 3,
		Seeds: []uint64{1, 2, 3}}.Rows()
	limit := 20000
	rows = resultstest.Set(rows, func(r *results.Row) {
		if r.Batch != n {
			return
		}
		switch {
		case r.LR < 0.01: // every seed at the epoch limit
			r.Status, r.MaxEpochs, r.Sharpness = results.StatusEpochLimit, &limit, nil
		case r.LR == 0.012 && *r.Seed != 2: // one of three converged: drawn
			r.Status, r.Sharpness = results.StatusEpochLimit, nil
		case r.LR == 0.043:
			r.Status, r.Sharpness = results.StatusDiverged, jsonfloat.Ptr(math.Inf(1))
		}
	})
	f1a, err := Figure1a(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "Full-batch GD (B = n = 512) is missing at η = 0.002, 0.005 (did not converge within max_epochs = 20000) and at η = 0.043 (diverged)."
	if !strings.Contains(f1a.Caption, want) {
		t.Errorf("Figure 1(a) caption lacks %q:\n%s", want, f1a.Caption)
	}
	if strings.Contains(f1a.Caption, "0.012 (") {
		t.Errorf("Figure 1(a) names 0.012, where one GD seed converged: %s", f1a.Caption)
	}
	f1b, err := Figure1b(rows, []float64{0.002, 0.012})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Full-batch GD (B = n = 512) is missing at η = 0.002 (did not converge within max_epochs = 20000)."; !strings.Contains(f1b.Caption, want) {
		t.Errorf("Figure 1(b) caption lacks %q:\n%s", want, f1b.Caption)
	}
	// Without a limit in the table the reason still names max_epochs; with GD converged
	// everywhere nothing is said.
	noLimit := resultstest.Set(rows, func(r *results.Row) { r.MaxEpochs = nil })
	f, _ := Figure1a(noLimit)
	if !strings.Contains(f.Caption, "η = 0.002, 0.005 (did not converge within max_epochs)") {
		t.Errorf("caption without max_epochs: %s", f.Caption)
	}
	f3, err := Figure3(resultstest.Set(rows, func(r *results.Row) {
		if r.Batch == n && r.LR == 0.012 && *r.Seed == 2 {
			r.AnalysisStatus = results.AnalysisIterationLimit // the one converged GD run at 0.012 is flagged
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "at η = 0.012 (did not converge within max_epochs; converged; its generalized sharpness stopped at its iteration limit)"; !strings.Contains(f3.Caption, want) {
		t.Errorf("Figure 3 caption lacks %q:\n%s", want, f3.Caption)
	}
	for _, fig := range []func([]results.Row) (*Figure, error){Figure1a, func(r []results.Row) (*Figure, error) { return Figure1b(r, nil) }, Figure3} {
		f, _ := fig(seedRows(t))
		if !strings.Contains(f.Caption, "Full-batch GD (B = n = 64) is missing at η = 0.002 (did not converge within max_epochs = 5000).") {
			t.Errorf("%s: %s", f.Name, f.Caption)
		}
		f, _ = fig(tinyRows(t))
		if strings.Contains(f.Caption, "Full-batch GD") {
			t.Errorf("%s of a table with GD converged everywhere: %s", f.Name, f.Caption)
		}
	}
	// A step size at which GD was not run is named too; a table without GD says nothing.
	var notRun, noGD []results.Row
	for _, r := range rows {
		if r.Batch != n || r.LR != 0.005 {
			notRun = append(notRun, r)
		}
		if r.Batch != n {
			noGD = append(noGD, r)
		}
	}
	f, _ = Figure1a(notRun)
	if want := "is missing at η = 0.002 (did not converge within max_epochs = 20000) and at η = 0.005 (not run) and at η = 0.043 (diverged)."; !strings.Contains(f.Caption, want) {
		t.Errorf("caption lacks %q:\n%s", want, f.Caption)
	}
	if f, _ = Figure1a(noGD); strings.Contains(f.Caption, "Full-batch GD") {
		t.Errorf("caption of a table without GD: %s", f.Caption)
	}
}

// TestFlaggedPerSeed: a flagged generalized sharpness leaves only that seed out; the point is
// drawn at the median of the others.
func TestFlaggedPerSeed(t *testing.T) {
	rows := resultstest.Synth{N: 512, Batches: []int{2}, Etas: []float64{0.01}, Seed: 5, Seeds: []uint64{1, 2, 3}}.Rows()
	ratios := []float64{0.9, 0.95, 30} // the outlier is flagged
	for i := range rows {
		g := ratios[i] * 2 / rows[i].LR
		rows[i].GenSharpness, rows[i].GenLo, rows[i].GenHi = jsonfloat.Ptr(g), jsonfloat.Ptr(g), jsonfloat.Ptr(g)
	}
	rows[2].AnalysisStatus = results.AnalysisIterationLimit
	f, err := Figure3(rows)
	if err != nil {
		t.Fatal(err)
	}
	pl := f.Panels[0]
	if pl.Y.Max > 2 {
		t.Errorf("the flagged seed is drawn: y axis up to %v", pl.Y.Max)
	}
	if !strings.Contains(f.Caption, "2 seeds per point") || !strings.Contains(f.Caption, "1 converged run(s) whose generalized sharpness stopped") {
		t.Errorf("caption: %s", f.Caption)
	}
}
