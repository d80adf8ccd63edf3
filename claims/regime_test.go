package claims

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// regimeTable is a hand-built table from one initial point (h = 8, init factor 5, n = 64) with
// known answers:
//
//   - SGD step sizes 0.01 and 0.02 (2/eta = 200, 100); B = 1, 2 with two seeds each at the
//     edge (lambda_gen/(2/eta) = 0.95 and 0.99 at 0.01, 0.92 and 0.97 at 0.02); B = 4 at 0.5
//     (no verdict); B = 32 one epoch_limit run: 9 of 10 runs with B <= 32
//     converged (90 %, criterion (b) holds exactly at its bound);
//   - full-batch runs at eta = 0.001 (2/eta = 2000, stable at the start; epoch_limit at loss
//     3e-6), 0.002 (stable, but not the smallest) and 0.01 (2/eta = 200 < lambda_0: unstable);
//   - paths: every run's epoch-0 entry is lambda_0 = 500 (one, of the B = 4 run, 501: the
//     largest counts), the GD run at 0.001 ends at sharpness 300 after epoch 20000 (so
//     min over the grid of 300/(2/eta) = 300 * 0.01/2 = 1.5), the one at 0.002 at 250.
func regimeTable() ([]results.Row, []results.Path) {
	h, n := 8, 64
	var initSeed uint64
	var rows []results.Row
	var paths []results.Path
	add := func(lr float64, b int, seed uint64, status string, gen float64, last float64) {
		s := seed
		ep := 20000
		r := results.Row{Key: fmt.Sprintf("k%g-%d-%d", lr, b, seed), Config: "regime", Hidden: &h, InitFactor: num(5),
			InitSeed: &initSeed, N: &n, LR: lr, Batch: b, Seed: &s, Status: status, Epochs: &ep, FinalLoss: num(3e-6)}
		if status == results.StatusConverged {
			r.FinalLoss = num(5e-7)
			if !math.IsNaN(gen) {
				r.GenSharpness = num(gen * 2 / lr)
				r.Sharpness = num(0.3 * 2 / lr)
			}
		}
		r.Derive()
		rows = append(rows, r)
		lambda0 := 500.0
		if b == 4 {
			lambda0 = 501
		}
		paths = append(paths, results.Path{Key: r.Key, LR: lr, Batch: b, Seed: seed, Status: status,
			Epochs: []int{0, 100, ep}, Sharpness: []float64{lambda0, 400, last}, StepSize: []float64{lr, lr, lr}, Residual: []float64{1e-3, 1e-3, 1e-3}})
	}
	conv := results.StatusConverged
	nan := math.NaN()
	for _, lr := range []float64{0.01, 0.02} {
		g := map[float64][2]float64{0.01: {0.95, 0.99}, 0.02: {0.92, 0.97}}[lr]
		for i, seed := range []uint64{1, 2} {
			add(lr, 1, seed, conv, g[i], 100)
			add(lr, 2, seed, conv, g[1-i], 100)
		}
	}
	add(0.01, 4, 1, conv, 0.5, 100)
	add(0.02, 32, 1, results.StatusEpochLimit, nan, 100)
	add(0.001, n, 1, results.StatusEpochLimit, nan, 300)
	add(0.002, n, 1, results.StatusEpochLimit, nan, 250)
	add(0.01, n, 1, conv, 1, 190)
	// a path of a run that is not in the table: ignored
	paths = append(paths, results.Path{Key: "other", LR: 0.01, Batch: 1, Epochs: []int{0}, Sharpness: []float64{9999}, StepSize: []float64{0.01}, Residual: []float64{0}})
	return rows, paths
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestRegimeHolds(t *testing.T) {
	rows, paths := regimeTable()
	reg := CheckRegime(rows, paths)
	if reg.A.Verdict != Holds || reg.B.Verdict != Holds || reg.C.Verdict != Holds {
		t.Fatalf("verdicts %s %s %s, want holds:\n%s\n%s\n%s", reg.A.Verdict, reg.B.Verdict, reg.C.Verdict, reg.A.Summary, reg.B.Summary, reg.C.Summary)
	}
	if len(reg.Starts) != 1 {
		t.Fatalf("%d initial points, want 1", len(reg.Starts))
	}
	s := reg.Starts[0]
	if s.Lambda0 != 501 || s.Lambda0Paths != 13 || !slices.Equal(s.SGDLRs, []float64{0.01, 0.02}) {
		t.Errorf("lambda0 %g from %d paths, SGD step sizes %v; want 501 from 13, [0.01 0.02]", s.Lambda0, s.Lambda0Paths, s.SGDLRs)
	}
	if !near(s.StartRatio, 501*0.01/2) {
		t.Errorf("start ratio %g, want %g", s.StartRatio, 501*0.01/2)
	}
	if s.GD == nil || s.GD.LR != 0.001 || s.Reached != 300 || s.ReachedEpoch != 20000 || s.ReachedFromAnalysis || !near(s.ReachedRatio, 1.5) {
		t.Errorf("GD %v reached %g after %d (analysis %v), ratio %g; want eta 0.001, 300 after 20000, 1.5", s.GD, s.Reached, s.ReachedEpoch, s.ReachedFromAnalysis, s.ReachedRatio)
	}
	for _, want := range []string{"λ0 = 501", "unstable for η > 2/λ0 = 0.003992", "λ0/(2/η) = 2.505 (at η = 0.01)",
		"GD at η = 0.001 (`regime`, stable at the start) reached sharpness 300", "epoch_limit after 20000 epochs, loss 3e-06", "not a converged minimum but the point reached", "= 1.500: unstable at every SGD step size"} {
		if !strings.Contains(reg.A.Summary, want) {
			t.Errorf("(a) lacks %q: %s", want, reg.A.Summary)
		}
	}
	if reg.Conv.Runs != 10 || reg.Conv.Converged != 9 || !near(reg.Conv.Share, 0.9) {
		t.Errorf("(b): %+v, want 9 of 10", reg.Conv)
	}
	byB := map[int]Edge{}
	for _, e := range reg.Edges {
		byB[e.Batch] = e
	}
	// B = 1: 0.95, 0.99 at 0.01 (median 0.97), 0.92, 0.97 at 0.02 (median 0.945)
	if e := byB[1]; !near(e.Min, 0.92) || e.MinAt != "η = 0.02, B = 1, seed 1" || !near(e.MedianMin, 0.945) || e.MedianMinLR != 0.02 || e.Minima != 4 || len(e.Failures) != 0 || e.Verdict != Holds {
		t.Errorf("B = 1: %+v", e)
	}
	if e := byB[4]; !near(e.Min, 0.5) || e.Verdict != "" || len(e.Failures) != 2 {
		t.Errorf("B = 4 (0.5 at 0.01, not run at 0.02; no verdict): %+v", e)
	}
	if e := byB[8]; e.Runs != 0 || e.Text() != "B = 8: not run." {
		t.Errorf("B = 8: %+v %q", e, e.Text())
	}
	d := strings.Join(reg.Differences, "\n")
	for _, want := range []string{"(a) GD with a tiny step (η = 0.001) did not converge: epoch_limit",
		"Full-batch GD (B = n) was not run at η = 0.02.", "Seeds: 1–2 seeds per point"} {
		if !strings.Contains(d, want) {
			t.Errorf("differences lack %q:\n%s", want, d)
		}
	}
	for _, bad := range []string{"(b)", "(c)", "stable at"} {
		if strings.Contains(d, bad) {
			t.Errorf("differences name %q though it holds:\n%s", bad, d)
		}
	}
}

// setPath changes the sharpness series of the path of the run with key k.
func setPath(paths []results.Path, k string, f func(p *results.Path)) []results.Path {
	out := slices.Clone(paths)
	for i := range out {
		if out[i].Key == k {
			out[i].Sharpness = slices.Clone(out[i].Sharpness)
			f(&out[i])
		}
	}
	return out
}

func TestRegimeAFails(t *testing.T) {
	rows, paths := regimeTable()
	// lambda_0 = 150 everywhere: stable at eta = 0.01 (2/eta = 200), unstable at 0.02 (100)
	low := slices.Clone(paths)
	for i := range low {
		low[i].Sharpness = slices.Clone(low[i].Sharpness)
		low[i].Sharpness[0] = 150
	}
	reg := CheckRegime(rows, low)
	s := reg.Starts[0]
	if reg.A.Verdict != Fails || !near(s.StartRatio, 0.75) {
		t.Errorf("lambda_0 = 150: %s, ratio %g; want fails, 0.75", reg.A.Verdict, s.StartRatio)
	}
	// now the smallest stable GD step size is still 0.001, and GD at 0.01 starts stable as well
	if s.GD == nil || s.GD.LR != 0.001 {
		t.Errorf("GD run %v, want eta 0.001", s.GD)
	}
	if d := strings.Join(reg.Differences, "\n"); !strings.Contains(d, "is stable at 1 of the 2 SGD step sizes (η ≤ 2/λ0 = 0.01333): λ0/(2/η) = 0.750 at η = 0.01") {
		t.Errorf("differences:\n%s", d)
	}
	// the point reached has sharpness 150 < 2/0.01: fails although the start is unstable
	reg = CheckRegime(rows, setPath(paths, "k0.001-64-1", func(p *results.Path) { p.Sharpness[2] = 150 }))
	if s := reg.Starts[0]; reg.A.Verdict != Fails || s.Verdict != Fails || !near(s.ReachedRatio, 0.75) || s.StartRatio <= 1 {
		t.Errorf("reached 150: %s, %+v", reg.A.Verdict, s)
	}
	if d := strings.Join(reg.Differences, "\n"); !strings.Contains(d, "(sharpness 150) is stable for GD at 1 of the 2 SGD step sizes (η ≤ 0.01333): sharpness/(2/η) = 0.750 at η = 0.01") {
		t.Errorf("differences:\n%s", d)
	}
}

func TestRegimeAMissing(t *testing.T) {
	rows, paths := regimeTable()
	// no paths: lambda_0 is missing, never guessed
	reg := CheckRegime(rows, nil)
	if s := reg.Starts[0]; reg.A.Verdict != Untested || !math.IsNaN(s.Lambda0) || s.GD != nil ||
		!strings.Contains(reg.A.Summary, "missing: the sharpness at initialization: no sharpness paths") {
		t.Errorf("no paths: %s %+v: %s", reg.A.Verdict, s, reg.A.Summary)
	}
	// paths of other runs only
	reg = CheckRegime(rows, paths[len(paths)-1:])
	if !strings.Contains(reg.A.Summary, "no sharpness path of a run of this table from h = 8, init factor 5, init seed 0 has an epoch-0 entry") {
		t.Errorf("foreign paths: %s", reg.A.Summary)
	}
	// the GD run of the smallest stable step size has no path and did not converge: its point is missing
	var noGD []results.Path
	for _, p := range paths {
		if p.Key != "k0.001-64-1" {
			noGD = append(noGD, p)
		}
	}
	reg = CheckRegime(rows, noGD)
	if s := reg.Starts[0]; reg.A.Verdict != Untested || s.GD == nil || s.GD.LR != 0.001 || !math.IsNaN(s.Reached) ||
		!strings.Contains(reg.A.Summary, "the full-batch run at η = 0.001 (epoch_limit after 20000 epochs, loss 3e-06) has no sharpness path") {
		t.Errorf("GD without a path: %s %+v: %s", reg.A.Verdict, s, reg.A.Summary)
	}
	// without full-batch runs stable at the start the point reached is missing
	var noStable []results.Row
	for _, r := range rows {
		if !(r.Batch == 64 && r.LR < 0.005) {
			noStable = append(noStable, r)
		}
	}
	reg = CheckRegime(noStable, paths)
	if !strings.Contains(reg.A.Summary, "no full-batch (B = n) run at a step size stable at the start (2/η > λ0 = 501; the full-batch runs at η = 0.01 start unstable)") || reg.A.Verdict != Untested {
		t.Errorf("no stable GD run: %s: %s", reg.A.Verdict, reg.A.Summary)
	}
	// a converged GD run without a path: the analysed sharpness of its minimum is the point reached
	for i := range rows {
		if rows[i].Key == "k0.001-64-1" {
			rows[i].Status, rows[i].Sharpness = results.StatusConverged, num(320)
		}
	}
	reg = CheckRegime(rows, noGD)
	if s := reg.Starts[0]; s.Reached != 320 || !s.ReachedFromAnalysis || reg.A.Verdict != Holds || !strings.Contains(reg.A.Summary, "(its analysed minimum;") {
		t.Errorf("converged GD without a path: %s %+v: %s", reg.A.Verdict, s, reg.A.Summary)
	}
}

func TestRegimeBFails(t *testing.T) {
	rows, paths := regimeTable()
	for i := range rows {
		if rows[i].Batch == 4 || rows[i].Batch == 32 {
			rows[i].Status = results.StatusDiverged // now 8 of 10
		}
	}
	reg := CheckRegime(rows, paths)
	if reg.B.Verdict != Fails || reg.Conv.Converged != 8 || !near(reg.Conv.Share, 0.8) || len(reg.B.Details) != 2 {
		t.Errorf("(b): %s %+v %v", reg.B.Verdict, reg.Conv, reg.B.Details)
	}
	if !strings.Contains(reg.B.Summary, "8 of 10 SGD runs with B ≤ 32 converged (80.0 %, every seed counted). Not converged: diverged 2.") {
		t.Errorf("(b): %s", reg.B.Summary)
	}
	if d := strings.Join(reg.Differences, "\n"); !strings.Contains(d, "(b) 80.0 % of the SGD runs with B ≤ 32 converged (8 of 10), 90 % needed: 1 more would have to converge.") {
		t.Errorf("differences:\n%s", d)
	}
	// a table of full-batch runs only: (b) untested
	var big []results.Row
	for _, r := range rows {
		if r.Batch == 64 {
			big = append(big, r)
		}
	}
	if reg := CheckRegime(big, paths); reg.B.Verdict != Untested {
		t.Errorf("(b) without small batches: %s", reg.B.Verdict)
	}
}

func TestRegimeCFails(t *testing.T) {
	rows, paths := regimeTable()
	// one seed of B = 2 below 0.9, one seed of B = 1 not converged
	for i := range rows {
		r := &rows[i]
		if r.Batch == 2 && r.LR == 0.02 && *r.Seed == 2 {
			r.GenSharpness = num(0.85 * 2 / r.LR)
		}
		if r.Batch == 1 && r.LR == 0.01 && *r.Seed == 1 {
			r.Status = results.StatusEpochLimit
		}
	}
	reg := CheckRegime(rows, paths)
	byB := map[int]Edge{}
	for _, e := range reg.Edges {
		byB[e.Batch] = e
	}
	if reg.C.Verdict != Fails {
		t.Errorf("(c): %s", reg.C.Verdict)
	}
	// B = 2 at 0.02: seeds 0.97, 0.85 -> median 0.91
	if e := byB[2]; e.Verdict != Fails || !near(e.Min, 0.85) || e.MinAt != "η = 0.02, B = 2, seed 2" || !near(e.MedianMin, 0.91) || len(e.Failures) != 1 {
		t.Errorf("B = 2: %+v", e)
	}
	// B = 1: the non-converged seed fails; the others are all >= 0.9
	if e := byB[1]; e.Verdict != Fails || e.Minima != 3 || len(e.Failures) != 1 || !strings.Contains(e.Failures[0], "η = 0.01, B = 1, seed 1: epoch_limit") {
		t.Errorf("B = 1: %+v", e)
	}
	if got := strings.Join(reg.C.Details, "\n"); !strings.Contains(got, "B = 2, failing: η = 0.02, B = 2, seed 2: λgen/(2/η) = 0.850.") ||
		!strings.Contains(got, "B = 1, failing: η = 0.01, B = 1, seed 1: epoch_limit after 20000 epochs, loss 5e-07.") {
		t.Errorf("(c) details:\n%s", got)
	}
	d := strings.Join(reg.Differences, "\n")
	for _, want := range []string{
		"(c) B = 2: 1 of the runs and step sizes fail: η = 0.02, B = 2, seed 2: λgen/(2/η) = 0.850; smallest λgen/(2/η) 0.850 (η = 0.02, B = 2, seed 2), 0.050 below 0.9.",
		// a failure by a run that did not converge is named, not a value below 0.9
		"(c) B = 1: 1 of the runs and step sizes fail: η = 0.01, B = 1, seed 1: epoch_limit after 20000 epochs, loss 5e-07; every converged minimum is at or above 0.9 (smallest 0.920, η = 0.02, B = 1, seed 1).",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("differences lack %q:\n%s", want, d)
		}
	}
	// a step size of the grid where B = 1 was not run fails; a flagged lambda_gen fails
	rows, _ = regimeTable()
	var cut []results.Row
	for _, r := range rows {
		if r.Batch == 1 && r.LR == 0.02 {
			continue
		}
		if r.Batch == 2 && r.LR == 0.01 && *r.Seed == 1 {
			r.AnalysisStatus = results.AnalysisIterationLimit
		}
		cut = append(cut, r)
	}
	reg = CheckRegime(cut, paths)
	if e := reg.Edges[0]; e.Verdict != Fails || !slices.Equal(e.Failures, []string{"η = 0.02: not run"}) {
		t.Errorf("B = 1 not run at 0.02: %+v", e)
	}
	if e := reg.Edges[1]; e.Verdict != Fails || len(e.Failures) != 1 || !strings.Contains(e.Failures[0], "iteration limit") {
		t.Errorf("B = 2 flagged: %+v", e)
	}
	// no B = 1 run at all: untested
	var noB1 []results.Row
	for _, r := range rows {
		if r.Batch != 1 {
			noB1 = append(noB1, r)
		}
	}
	if reg := CheckRegime(noB1, paths); reg.C.Verdict != Untested || reg.Edges[0].Verdict != Untested {
		t.Errorf("without B = 1: %s %s", reg.C.Verdict, reg.Edges[0].Verdict)
	}
}

// A table of a tiny-step GD run only (the start grids of the exploration): lambda_0 and the point
// reached, no verdict.
func TestStartsOfGDTable(t *testing.T) {
	rows, paths := regimeTable()
	var gd []results.Row
	for _, r := range rows {
		if r.Key == "k0.001-64-1" {
			gd = append(gd, r)
		}
	}
	st := Starts(gd, paths)
	if len(st) != 1 || st[0].Lambda0 != 500 || st[0].Reached != 300 || st[0].Verdict != Untested || !math.IsNaN(st[0].StartRatio) || !math.IsNaN(st[0].ReachedRatio) {
		t.Errorf("%+v", st)
	}
	// two initial points are told apart
	other := gd[0]
	h := 20
	other.Hidden, other.Key = &h, "k-h20"
	paths = append(paths, results.Path{Key: "k-h20", LR: 0.001, Batch: 64, Epochs: []int{0, 10}, Sharpness: []float64{40, 30}, StepSize: []float64{0.001, 0.001}, Residual: []float64{0, 0}})
	st = Starts(append(gd, other), paths)
	if len(st) != 2 || st[1].Lambda0 != 40 || st[1].Reached != 30 || *st[1].Init.Hidden != 20 {
		t.Errorf("two initial points: %+v", st)
	}
}
