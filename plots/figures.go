package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// Fig1bEtas are the step sizes of the paper's Figure 1(b).
var Fig1bEtas = []float64{0.043, 0.012, 0.002}

// Fig2Batches are the batch sizes of the paper's Figure 2 panels.
var Fig2Batches = []int{1, 2, 8}

// LRMatchTol is the relative tolerance within which a table step size stands for a
// requested one (Figure 1(b)): |lr/target - 1| <= LRMatchTol.
const LRMatchTol = 0.10

type xy struct{ x, y float64 }

// MatchLR returns the step size of rows nearest to target (in ratio), and whether it lies
// within relative tolerance tol of it.
func MatchLR(rows []results.Row, target, tol float64) (float64, bool) {
	best, bestD := math.NaN(), math.Inf(1)
	for _, lr := range results.LRs(rows) {
		if d := math.Abs(math.Log(lr / target)); d < bestD {
			best, bestD = lr, d
		}
	}
	if math.IsNaN(best) {
		return best, false
	}
	return best, math.Abs(best/target-1) <= tol
}

func batchLabel(b, n int) string {
	if b == n {
		return fmt.Sprintf("B = n = %d", b)
	}
	return fmt.Sprintf("B = %d", b)
}

// exclusion counts the runs of a curve that are not drawn.
type exclusion struct {
	byStatus map[string]int // runs that did not converge, by status
	missing  int            // converged runs whose value is missing or not drawable
	flagged  int            // converged runs whose generalized sharpness stopped at its iteration limit
}

func (e *exclusion) notConverged() int {
	t := 0
	for _, c := range e.byStatus {
		t += c
	}
	return t
}

func (e *exclusion) add(o exclusion) {
	for s, c := range o.byStatus {
		if e.byStatus == nil {
			e.byStatus = map[string]int{}
		}
		e.byStatus[s] += c
	}
	e.missing += o.missing
	e.flagged += o.flagged
}

// parts are the legend's counts, e.g. "2 not conv.".
func (e exclusion) parts() []string {
	var parts []string
	if k := e.notConverged(); k > 0 {
		parts = append(parts, fmt.Sprintf("%d not conv.", k))
	}
	if e.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d n/a", e.missing))
	}
	if e.flagged > 0 {
		parts = append(parts, fmt.Sprintf("%d iter. limit", e.flagged))
	}
	return parts
}

// legendLabel is base with the notes in one parenthesis, e.g. "B = 8 (3 seeds, 2 not conv.)".
func legendLabel(base string, notes ...string) string {
	if len(notes) == 0 {
		return base
	}
	return base + " (" + strings.Join(notes, ", ") + ")"
}

// long is the caption sentence.
func (e exclusion) long(what string) string {
	k := e.notConverged()
	if k == 0 && e.missing == 0 && e.flagged == 0 {
		return "No run was left out."
	}
	var s []string
	if k > 0 {
		var st []string
		for _, name := range sortedKeys(e.byStatus) {
			label := name
			if label == "" {
				label = "no status"
			}
			st = append(st, fmt.Sprintf("%s %d", label, e.byStatus[name]))
		}
		s = append(s, fmt.Sprintf("%d run(s) that did not converge (%s)", k, strings.Join(st, ", ")))
	}
	if e.missing > 0 {
		s = append(s, fmt.Sprintf("%d converged run(s) without a usable %s", e.missing, what))
	}
	if e.flagged > 0 {
		s = append(s, fmt.Sprintf("%d converged run(s) %s", e.flagged, flaggedWhy))
	}
	return "Left out of the curves: " + strings.Join(s, " and ") + "."
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// flaggedWhy says why a run with a flagged generalized sharpness is not drawn.
const flaggedWhy = "whose generalized sharpness stopped at its iteration limit (a lower estimate, η* biased high)"

// pt is one run's value on a curve: (x, y), an interval [lo, hi] that holds the run's true
// value (lo = hi = y, except for a certified bracket), and the run's point (eta, B).
type pt struct {
	x, y, lo, hi float64
	at           results.Point
}

// points collects (x(r), y(r)) over the converged rows that the panel can draw, and
// counts the rest. With usesGen (y involves lambda_gen), rows whose generalized sharpness did
// not converge (results.Row.GenUnconverged) are not drawn either, and counted as flagged.
// bracket, if not nil, gives the interval of a run's value (genBracket); an unusable one is
// replaced by [y, y].
func (pl *panel) points(rows []results.Row, x, y func(results.Row) float64, usesGen bool, bracket func(results.Row) (float64, float64)) ([]pt, exclusion) {
	var pts []pt
	var ex exclusion
	for _, r := range rows {
		if !r.Converged() {
			if ex.byStatus == nil {
				ex.byStatus = map[string]int{}
			}
			ex.byStatus[r.Status]++
			continue
		}
		if usesGen && r.GenUnconverged() {
			ex.flagged++
			continue
		}
		px, py := x(r), y(r)
		if !pl.usable(px, py) {
			ex.missing++
			continue
		}
		p := pt{x: px, y: py, lo: py, hi: py, at: r.Point()}
		if bracket != nil {
			if lo, hi := bracket(r); pl.usable(px, lo) && pl.usable(px, hi) && hi >= lo {
				p.lo, p.hi = math.Min(lo, py), math.Max(hi, py)
			}
		}
		pts = append(pts, p)
	}
	return pts, ex
}

// genBracket returns the certified bracket [gen_sharpness_lo, gen_sharpness_hi] of lambda_gen
// divided by div(r) (1 for Figure 2, 2/eta for Figure 3).
func genBracket(div func(results.Row) float64) func(results.Row) (float64, float64) {
	return func(r results.Row) (float64, float64) {
		d := div(r)
		return results.Value(r.GenLo) / d, results.Value(r.GenHi) / d
	}
}

// median is a curve's summary at one x over the runs (seeds) drawn there: the median of their
// values, the error bar [lo, hi] from the lowest lo to the highest hi of their intervals (the
// min-max range over seeds, widened by certified brackets), the number of runs n, the point.
type median struct {
	x, y, lo, hi float64
	n            int
	at           results.Point
}

// summarize groups pts by x, in the order of first appearance (with one run per x the
// points keep their order).
func summarize(pts []pt) []median {
	var ms []median
	ys := map[float64][]float64{}
	at := map[float64]int{}
	for _, p := range pts {
		i, seen := at[p.x]
		if !seen {
			i = len(ms)
			at[p.x] = i
			ms = append(ms, median{x: p.x, lo: p.lo, hi: p.hi, at: p.at})
		}
		ys[p.x] = append(ys[p.x], p.y)
		ms[i].lo, ms[i].hi = math.Min(ms[i].lo, p.lo), math.Max(ms[i].hi, p.hi)
	}
	for i := range ms {
		s := results.SpreadOf(ys[ms[i].x])
		ms[i].y, ms[i].n = s.Median, s.N
	}
	return ms
}

// repeats returns the number of runs at each point of ms.
func repeats(ms []median) results.Repeats {
	r := results.Repeats{}
	for _, m := range ms {
		r[m.at] = max(r[m.at], m.n)
	}
	return r
}

// curveStyle says how a data series is drawn.
type curveStyle struct {
	color    color.Color
	shape    draw.GlyphDrawer
	dashes   []vg.Length
	width    vg.Length
	barColor color.Color // colour of the error bars; nil = color
}

// addCurve draws a glyph at each median, a line through the medians in order of x, and an
// error bar [lo, hi] where it is wider than MinBracketRel of the median (narrower ones would be
// bare caps on the marker), and adds a legend entry. It records the runs per point in
// pl.drawn. Nothing is drawn (but the legend entry is kept) when ms is empty.
func (pl *panel) addCurve(ms []median, st curveStyle, label string) error {
	line := draw.LineStyle{Color: st.color, Width: st.width, Dashes: st.dashes}
	if line.Width == 0 {
		line.Width = vg.Points(1.5)
	}
	glyph := draw.GlyphStyle{Color: st.color, Radius: vg.Points(3), Shape: st.shape}
	if glyph.Shape == nil {
		glyph.Shape = draw.CircleGlyph{}
	}
	if len(ms) > 0 {
		all := make(plotter.XYs, len(ms))
		var bars errorBars
		for i, m := range ms {
			all[i] = plotter.XY{X: m.x, Y: m.y}
			pl.extend(m.x, m.y)
			pl.drawn[m.at] = max(pl.drawn[m.at], m.n)
			if m.hi > m.lo && m.hi-m.lo >= MinBracketRel*math.Abs(m.y) {
				bars = append(bars, m)
				pl.extend(m.x, m.lo)
				pl.extend(m.x, m.hi)
			}
		}
		med := slices.Clone(all)
		slices.SortStableFunc(med, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		l, err := plotter.NewLine(med)
		if err != nil {
			return err
		}
		l.LineStyle = line
		s, err := plotter.NewScatter(all)
		if err != nil {
			return err
		}
		s.GlyphStyle = glyph
		pl.Add(l, s)
		if len(bars) > 0 {
			eb, err := plotter.NewYErrorBars(bars)
			if err != nil {
				return err
			}
			eb.LineStyle = draw.LineStyle{Color: st.color, Width: vg.Points(1)}
			if st.barColor != nil {
				eb.LineStyle.Color = st.barColor
			}
			eb.CapWidth = vg.Points(7)
			pl.Add(eb)
		}
	}
	// Legend thumbnails drawn even for an empty curve, so the legend stays complete.
	pl.Legend.Add(label, &plotter.Line{LineStyle: line}, &plotter.Scatter{GlyphStyle: glyph})
	return nil
}

// MinBracketRel: error bars (certified brackets, ranges over seeds) narrower than this fraction
// of the value are not drawn (they would be bare caps on top of the marker).
const MinBracketRel = 2e-3

// errorBars are the error bars of a curve, [lo, hi] around the median y.
type errorBars []median

func (b errorBars) Len() int                        { return len(b) }
func (b errorBars) XY(i int) (float64, float64)     { return b[i].x, b[i].y }
func (b errorBars) YError(i int) (float64, float64) { return b[i].y - b[i].lo, b[i].hi - b[i].y }

// addLine draws a plain line through pts (no glyphs), e.g. 2/eta.
func (pl *panel) addLine(pts []xy, st curveStyle, label string) error {
	line := draw.LineStyle{Color: st.color, Width: st.width, Dashes: st.dashes}
	if line.Width == 0 {
		line.Width = vg.Points(1.5)
	}
	xys := make(plotter.XYs, 0, len(pts))
	for _, p := range pts {
		if pl.usable(p.x, p.y) {
			xys = append(xys, plotter.XY{X: p.x, Y: p.y})
			pl.extend(p.x, p.y)
		}
	}
	if len(xys) > 0 {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.LineStyle = line
		pl.Add(l)
	}
	if label != "" {
		pl.Legend.Add(label, &plotter.Line{LineStyle: line})
	}
	return nil
}

// twoOverEtaLine samples 2/eta at 64 log-spaced step sizes in [lo, hi].
func twoOverEtaLine(lo, hi float64) []xy {
	if !(lo > 0) || !(hi >= lo) {
		return nil
	}
	const k = 64
	pts := make([]xy, k)
	for i := range pts {
		eta := lo * math.Pow(hi/lo, float64(i)/(k-1))
		pts[i] = xy{eta, 2 / eta}
	}
	return pts
}

func lrRange(rows []results.Row) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		lo, hi = math.Min(lo, r.LR), math.Max(hi, r.LR)
	}
	return lo, hi
}

var shapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{},
	draw.CrossGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
}

func shape(i int) draw.GlyphDrawer { return shapes[i%len(shapes)] }

func sharpness(r results.Row) float64 { return results.Value(r.Sharpness) }
func lr(r results.Row) float64        { return r.LR }

// curve summarizes pts over seeds (summarize), labels the curve with base and, in one
// parenthesis, its seeds per point (when seeded) and ex's counts, and draws it.
func (pl *panel) curve(pts []pt, ex exclusion, st curveStyle, base string, seeded bool) error {
	ms := summarize(pts)
	var notes []string
	if seeded && len(ms) > 0 {
		notes = append(notes, repeats(ms).Span())
	}
	return pl.addCurve(ms, st, legendLabel(base, append(notes, ex.parts()...)...))
}

// multiSeed reports whether some point of rows has more than one run.
func multiSeed(rows []results.Row) bool {
	_, hi := results.CountRepeats(rows).Range()
	return hi > 1
}

// seedSentence is the caption's sentence on the runs behind each point drawn.
func seedSentence(drawn results.Repeats) string {
	if _, hi := drawn.Range(); hi <= 1 {
		return "Each point is one run (1 seed per point)."
	}
	return "Each point is the median over its seeds, with their min–max range as error bars (drawn where wider than 0.2%): " +
		drawn.String() + "."
}

// gdMissing names the step sizes lrs at which the figure drew no B = n point (drawn), and why,
// e.g. "Full-batch GD (B = n = 512) is missing at η = 0.002, 0.005 (did not converge within
// max_epochs = 20000) and at η = 0.008 (not run)." ("not run": the table has full-batch runs,
// but none at that step size). It is "" when nothing is missing, the table has no full-batch run
// or n is unknown.
// what names the quantity drawn; with usesGen a flagged generalized sharpness is a reason too.
func gdMissing(rows []results.Row, n int, lrs []float64, drawn results.Repeats, what string, usesGen bool) string {
	if n <= 0 {
		return ""
	}
	at := map[string][]string{}
	var order []string
	anyGD := len(results.WithBatch(rows, n)) > 0
	for _, eta := range lrs {
		gd := results.WithLR(results.WithBatch(rows, n), eta)
		if !anyGD || drawn[results.Point{LR: eta, Batch: n}] > 0 {
			continue
		}
		var whys []string
		if len(gd) == 0 {
			whys = append(whys, "not run")
		}
		for _, r := range gd {
			if w := notDrawnWhy(r, what, usesGen); !slices.Contains(whys, w) {
				whys = append(whys, w)
			}
		}
		why := strings.Join(whys, "; ")
		if _, seen := at[why]; !seen {
			order = append(order, why)
		}
		at[why] = append(at[why], fmt.Sprintf("%g", eta))
	}
	if len(order) == 0 {
		return ""
	}
	parts := make([]string, len(order))
	for i, why := range order {
		parts[i] = fmt.Sprintf("at η = %s (%s)", strings.Join(at[why], ", "), why)
	}
	return fmt.Sprintf("Full-batch GD (B = n = %d) is missing %s.", n, strings.Join(parts, " and "))
}

// notDrawnWhy says why the value (what) of run r is not drawn.
func notDrawnWhy(r results.Row, what string, usesGen bool) string {
	switch r.Status {
	case results.StatusConverged:
		if usesGen && r.GenUnconverged() {
			return "converged; its generalized sharpness stopped at its iteration limit"
		}
		return "converged, without a usable " + what
	case results.StatusEpochLimit:
		if r.MaxEpochs != nil {
			return fmt.Sprintf("did not converge within max_epochs = %d", *r.MaxEpochs)
		}
		return "did not converge within max_epochs"
	case results.StatusDiverged:
		return "diverged"
	case "":
		return "no status"
	}
	return "status " + r.Status
}

// Figure1a is the paper's Figure 1(a): the sharpness lambda_max(H) of the converged minima
// against the step size eta, one curve per batch size (log-log), with the GD stability limit
// 2/eta (THEORY.md Thm 1). Each point is the median over the seeds of (eta, B), with their
// min-max range as error bars. The B = n (GD) curve is drawn at the step sizes where GD
// converged only; the caption names the others and why.
func Figure1a(rows []results.Row) (*Figure, error) {
	pl := newPanel("Figure 1(a): sharpness of the minima SGD converged to", "step size η", "sharpness λmax(H)", true, true)
	pl.Legend.Top, pl.Legend.Left = false, true
	pl.headroom = 0.3
	n := results.SampleCount(rows)
	seeded := multiSeed(rows)
	var total exclusion
	for i, b := range results.Batches(rows) {
		pts, ex := pl.points(results.WithBatch(rows, b), lr, sharpness, false, nil)
		total.add(ex)
		if err := pl.curve(pts, ex, curveStyle{color: paletteColor(i), shape: shape(i)}, batchLabel(b, n), seeded); err != nil {
			return nil, err
		}
	}
	lo, hi := lrRange(rows)
	if !pl.empty() {
		lo, hi = pl.xmin, pl.xmax
	}
	if err := pl.addLine(twoOverEtaLine(lo, hi), curveStyle{color: colBlack, dashes: dashed, width: vg.Points(1.2)}, "2/η (GD limit)"); err != nil {
		return nil, err
	}
	caption := "Sharpness λmax(H) of the converged minima vs step size η, one curve per batch size B " +
		"(log-log; lines join the points), and the GD stability limit 2/η (dashed). " + seedSentence(pl.drawn) + " " +
		total.long("sharpness")
	if gd := gdMissing(rows, n, results.LRs(rows), pl.drawn, "sharpness", false); gd != "" {
		caption += " " + gd
	}
	return &Figure{Name: "fig1a", Title: "Figure 1(a): sharpness vs step size", Caption: caption,
		Panels: []*plot.Plot{pl.finish()}}, nil
}

// Figure1b is the paper's Figure 1(b): the sharpness against the batch size B for the step
// sizes etas (nil = Fig1bEtas), each with its GD level 2/eta (dashed, same colour). A
// requested eta is drawn with the table's nearest step size within LRMatchTol; an eta
// without a match is named in the caption. Points are medians over seeds with their min-max
// range, as in Figure1a; a step size without a converged B = n run is named in the caption.
func Figure1b(rows []results.Row, etas []float64) (*Figure, error) {
	if etas == nil {
		etas = Fig1bEtas
	}
	pl := newPanel("Figure 1(b): sharpness vs batch size", "batch size B", "sharpness λmax(H)", true, true)
	pl.headroom = 0.3
	pl.X.Tick.Marker = intTicks(results.Batches(rows))
	seeded := multiSeed(rows)
	var total exclusion
	var notes []string
	var drawnLRs []float64
	bmin, bmax := math.Inf(1), math.Inf(-1)
	for _, b := range results.Batches(rows) {
		bmin, bmax = math.Min(bmin, float64(b)), math.Max(bmax, float64(b))
	}
	for i, target := range etas {
		got, found := MatchLR(rows, target, LRMatchTol)
		if !found {
			notes = append(notes, fmt.Sprintf("η = %g: no step size in the table within %.0f%%", target, 100*LRMatchTol))
			continue
		}
		drawnLRs = append(drawnLRs, got)
		label := fmt.Sprintf("η = %g", got)
		if got != target {
			label = fmt.Sprintf("η = %g (for %g)", got, target)
			notes = append(notes, fmt.Sprintf("η = %g drawn with the table's η = %g", target, got))
		}
		pts, ex := pl.points(results.WithLR(rows, got), func(r results.Row) float64 { return float64(r.Batch) }, sharpness, false, nil)
		total.add(ex)
		c := paletteColor(i)
		if err := pl.curve(pts, ex, curveStyle{color: c, shape: shape(i)}, label, seeded); err != nil {
			return nil, err
		}
		if err := pl.addLine([]xy{{bmin, 2 / got}, {bmax, 2 / got}}, curveStyle{color: c, dashes: dashed, width: vg.Points(1.2)}, ""); err != nil {
			return nil, err
		}
	}
	pl.Legend.Add("2/η level (dashed)", &plotter.Line{LineStyle: draw.LineStyle{Color: colGray, Width: vg.Points(1.2), Dashes: dashed}})
	caption := "Sharpness λmax(H) of the converged minima vs batch size B (log-log) for the step sizes of " +
		"the paper's Figure 1(b); the dashed line of each colour is that step size's GD limit 2/η. " +
		seedSentence(pl.drawn) + " " + total.long("sharpness")
	if gd := gdMissing(rows, results.SampleCount(rows), drawnLRs, pl.drawn, "sharpness", false); gd != "" {
		caption += " " + gd
	}
	if len(notes) > 0 {
		caption += " " + strings.Join(notes, "; ") + "."
	}
	return &Figure{Name: "fig1b", Title: "Figure 1(b): sharpness vs batch size", Caption: caption,
		Panels: []*plot.Plot{pl.finish()}}, nil
}

// Figure2 is the paper's Figure 2, one panel per batch size in batches (nil = Fig2Batches;
// sizes absent from the table are skipped, and if none is present the three smallest are
// used): against the step size, 2/eta (red), bound (25) (purple), bound (15) (blue), the
// sharpness (yellow), and the exact generalized sharpness (black): chain (26),
// 2/eta >= lambda_gen >= b25 >= b15 >= lambda_max. Each point is the median over the seeds of
// (eta, B); error bars span their min-max range, for lambda_gen from the lowest certified lower
// end to the highest upper end (with one seed: its certified bracket).
func Figure2(rows []results.Row, batches []int) (*Figure, error) {
	if batches == nil {
		batches = Fig2Batches
	}
	present := map[int]bool{}
	for _, b := range results.Batches(rows) {
		present[b] = true
	}
	var bs []int
	for _, b := range batches {
		if present[b] {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		all := results.Batches(rows)
		bs = all[:min(3, len(all))]
	}
	if len(bs) == 0 {
		bs = batches[:1]
	}
	n := results.SampleCount(rows)
	seeded := multiSeed(rows)
	drawn := results.Repeats{}
	var panels []*plot.Plot
	var capParts []string
	for _, b := range bs {
		br := results.WithBatch(rows, b)
		pl := newPanel("", "step size η", "(generalized) sharpness", true, true)
		pl.Legend.Top, pl.Legend.Left = false, true
		pl.headroom = 0.35
		series := []struct {
			name  string
			value func(results.Row) float64
			style curveStyle
		}{
			{"bound (25)", func(r results.Row) float64 { return results.Value(r.Bound25) }, curveStyle{color: colPurple, shape: draw.TriangleGlyph{}}},
			{"bound (15)", func(r results.Row) float64 { return results.Value(r.Bound15) }, curveStyle{color: colBlue, shape: draw.SquareGlyph{}}},
			{"sharpness λmax", sharpness, curveStyle{color: colYellow, shape: draw.CircleGlyph{}}},
		}
		var ex exclusion
		missing := map[string]int{}
		for _, s := range series {
			pts, e := pl.points(br, lr, s.value, false, nil)
			ex = e
			missing[s.name] = e.missing
			if err := pl.curve(pts, exclusion{}, s.style, s.name, false); err != nil {
				return nil, err
			}
		}
		one := func(results.Row) float64 { return 1 }
		gpts, ge := pl.points(br, lr, func(r results.Row) float64 { return results.Value(r.GenSharpness) }, true, genBracket(one))
		missing["generalized sharpness"] = ge.missing
		genStyle := curveStyle{color: colBlack, shape: draw.CrossGlyph{}, width: vg.Points(1.2)}
		if err := pl.curve(gpts, exclusion{flagged: ge.flagged}, genStyle, "generalized sharpness λgen", false); err != nil {
			return nil, err
		}
		lo, hi := lrRange(br)
		if !pl.empty() {
			lo, hi = pl.xmin, pl.xmax
		}
		if err := pl.addLine(twoOverEtaLine(lo, hi), curveStyle{color: colRed, width: vg.Points(1.8)}, "2/η"); err != nil {
			return nil, err
		}
		var notes []string
		if seeded && len(pl.drawn) > 0 {
			notes = append(notes, pl.drawn.Span())
		}
		if k := ex.notConverged(); k > 0 {
			notes = append(notes, fmt.Sprintf("%d not converged", k))
		}
		pl.Title.Text = legendLabel("Figure 2: "+batchLabel(b, n), notes...)
		maps.Copy(drawn, pl.drawn)
		part := fmt.Sprintf("%s: %d converged run(s) drawn", batchLabel(b, n), len(br)-ex.notConverged())
		if k := ex.notConverged(); k > 0 {
			part += fmt.Sprintf(", %d not converged left out", k)
		}
		var miss []string
		for _, name := range sortedKeys(missing) {
			if missing[name] > 0 {
				miss = append(miss, fmt.Sprintf("%s missing in %d", name, missing[name]))
			}
		}
		if len(miss) > 0 {
			part += " (" + strings.Join(miss, ", ") + ")"
		}
		if ge.flagged > 0 {
			part += fmt.Sprintf("; λgen and its bracket left out for %d run(s) %s", ge.flagged, flaggedWhy)
		}
		capParts = append(capParts, part)
		panels = append(panels, pl.finish())
	}
	return &Figure{Name: "fig2", Title: "Figure 2: the stability chain (26) per batch size",
		Caption: "Against the step size η (log-log): 2/η (red), bound (25) (purple), bound (15) (blue), " +
			"sharpness λmax(H) (yellow), and the exact generalized sharpness λgen = λmax(pinv(C) D) (black); chain (26) says " +
			"2/η ≥ λgen ≥ (25) ≥ (15) ≥ λmax. " + seedSentence(drawn) + " The error bars of λgen run from the lowest certified lower end " +
			"to the highest upper end over the seeds (with one seed: its certified bracket; narrower than 0.2%: not drawn, listed in the run table). " +
			strings.Join(capParts, "; ") + ".",
		Panels: panels, Width: vg.Length(len(panels)) * 5.2 * vg.Inch, Height: 4.4 * vg.Inch}, nil
}

// Figure3 is new: the generalized sharpness divided by 2/eta, i.e. eta/eta* with
// eta* = 2/lambda_gen, against the step size, one curve per batch size. 1 is the edge of
// mean-square stability (THEORY.md Thm 3); values above 1 would be unstable minima. Points
// are medians over seeds; error bars as for lambda_gen in Figure2. As in Figure1a, the caption
// names the step sizes at which the B = n curve has runs but no point, and why.
func Figure3(rows []results.Row) (*Figure, error) {
	pl := newPanel("Figure 3: how close SGD converges to its stability edge", "step size η", "λgen / (2/η) = η / η*", true, false)
	pl.Legend.Top = false
	n := results.SampleCount(rows)
	seeded := multiSeed(rows)
	bracket := genBracket(func(r results.Row) float64 { return r.TwoOverLR() })
	var total exclusion
	for i, b := range results.Batches(rows) {
		pts, ex := pl.points(results.WithBatch(rows, b), lr, func(r results.Row) float64 { return r.GenRatio() }, true, bracket)
		total.add(ex)
		st := curveStyle{color: paletteColor(i), shape: shape(i)}
		if !seeded {
			st.barColor = colBlack // every bar is one run's certified bracket
		}
		if err := pl.curve(pts, ex, st, batchLabel(b, n), seeded); err != nil {
			return nil, err
		}
	}
	lo, hi := lrRange(rows)
	if !pl.empty() {
		lo, hi = pl.xmin, pl.xmax
		pl.ymin = math.Min(pl.ymin, 0.5)
		pl.ymax = math.Max(pl.ymax, 1)
	}
	if err := pl.addLine([]xy{{lo, 1}, {hi, 1}}, curveStyle{color: colRed, dashes: dashed, width: vg.Points(1.5)}, "edge: η = η* = 2/λgen"); err != nil {
		return nil, err
	}
	caption := "Generalized sharpness divided by 2/η (= η/η*, η* = 2/λgen the exact mean-square threshold) " +
		"vs step size η, one curve per batch size; 1 (dashed red) is the edge of mean-square stability, " +
		"values above it would be unstable minima. " + seedSentence(pl.drawn) + " The error bars run from the lowest certified lower end " +
		"to the highest upper end over the seeds, in the curve's colour (in a table with one seed per point: the certified bracket, in black), where wider than 0.2%. " + total.long("generalized sharpness")
	if gd := gdMissing(rows, n, results.LRs(rows), pl.drawn, "generalized sharpness", true); gd != "" {
		caption += " " + gd
	}
	return &Figure{Name: "fig3", Title: "Figure 3 (new): distance to the mean-square stability edge", Caption: caption,
		Panels: []*plot.Plot{pl.finish()}}, nil
}

// Figures returns Figure 1(a), 1(b), 2 and 3 for rows, with the paper's parameters.
func Figures(rows []results.Row) ([]*Figure, error) {
	var figs []*Figure
	for _, build := range []func() (*Figure, error){
		func() (*Figure, error) { return Figure1a(rows) },
		func() (*Figure, error) { return Figure1b(rows, nil) },
		func() (*Figure, error) { return Figure2(rows, nil) },
		func() (*Figure, error) { return Figure3(rows) },
	} {
		f, err := build()
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}
