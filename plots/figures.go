package plots

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"sort"
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

// short is the legend suffix, e.g. " (2 not conv.)".
func (e exclusion) short() string {
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
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
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

// points collects (x(r), y(r)) over the converged rows that the panel can draw, and
// counts the rest. With usesGen (y involves lambda_gen), rows whose generalized sharpness did
// not converge (results.Row.GenUnconverged) are not drawn either, and counted as flagged.
func (pl *panel) points(rows []results.Row, x, y func(results.Row) float64, usesGen bool) ([]xy, exclusion) {
	var pts []xy
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
		pts = append(pts, xy{px, py})
	}
	return pts, ex
}

// curveStyle says how a data series is drawn.
type curveStyle struct {
	color  color.Color
	shape  draw.GlyphDrawer
	dashes []vg.Length
	width  vg.Length
}

// addCurve draws every point as a glyph and a line through the median at each x, and adds
// a legend entry. Nothing is drawn (but the legend entry is kept) when pts is empty.
func (pl *panel) addCurve(pts []xy, st curveStyle, label string) error {
	line := draw.LineStyle{Color: st.color, Width: st.width, Dashes: st.dashes}
	if line.Width == 0 {
		line.Width = vg.Points(1.5)
	}
	glyph := draw.GlyphStyle{Color: st.color, Radius: vg.Points(3), Shape: st.shape}
	if glyph.Shape == nil {
		glyph.Shape = draw.CircleGlyph{}
	}
	var thumbs []plot.Thumbnailer
	if len(pts) > 0 {
		byX := map[float64][]float64{}
		all := make(plotter.XYs, len(pts))
		for i, p := range pts {
			byX[p.x] = append(byX[p.x], p.y)
			all[i] = plotter.XY{X: p.x, Y: p.y}
			pl.extend(p.x, p.y)
		}
		xs := make([]float64, 0, len(byX))
		for x := range byX {
			xs = append(xs, x)
		}
		sort.Float64s(xs)
		med := make(plotter.XYs, len(xs))
		for i, x := range xs {
			med[i] = plotter.XY{X: x, Y: results.Median(byX[x])}
		}
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
	}
	// Legend thumbnails drawn even for an empty curve, so the legend stays complete.
	ll := &plotter.Line{LineStyle: line}
	ss := &plotter.Scatter{GlyphStyle: glyph}
	thumbs = append(thumbs, ll, ss)
	pl.Legend.Add(label, thumbs...)
	return nil
}

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

// Figure1a is the paper's Figure 1(a): the sharpness lambda_max(H) of every converged
// minimum against the step size eta, one curve per batch size (log-log), with the GD
// stability limit 2/eta (THEORY.md Thm 1). Lines join the median over repeated runs.
func Figure1a(rows []results.Row) (*Figure, error) {
	pl := newPanel("Figure 1(a): sharpness of the minima SGD converged to", "step size η", "sharpness λmax(H)", true, true)
	pl.Legend.Top, pl.Legend.Left = false, true
	pl.headroom = 0.3
	n := results.SampleCount(rows)
	var total exclusion
	for i, b := range results.Batches(rows) {
		pts, ex := pl.points(results.WithBatch(rows, b), lr, sharpness, false)
		total.add(ex)
		if err := pl.addCurve(pts, curveStyle{color: paletteColor(i), shape: shape(i)}, batchLabel(b, n)+ex.short()); err != nil {
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
	return &Figure{Name: "fig1a", Title: "Figure 1(a): sharpness vs step size",
		Caption: "Sharpness λmax(H) of the converged minima vs step size η, one curve per batch size B " +
			"(log-log; lines join the median over repeated runs), and the GD stability limit 2/η (dashed). " +
			total.long("sharpness"),
		Panels: []*plot.Plot{pl.finish()}}, nil
}

// Figure1b is the paper's Figure 1(b): the sharpness against the batch size B for the step
// sizes etas (nil = Fig1bEtas), each with its GD level 2/eta (dashed, same colour). A
// requested eta is drawn with the table's nearest step size within LRMatchTol; an eta
// without a match is named in the caption.
func Figure1b(rows []results.Row, etas []float64) (*Figure, error) {
	if etas == nil {
		etas = Fig1bEtas
	}
	pl := newPanel("Figure 1(b): sharpness vs batch size", "batch size B", "sharpness λmax(H)", true, true)
	pl.headroom = 0.3
	pl.X.Tick.Marker = intTicks(results.Batches(rows))
	var total exclusion
	var notes []string
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
		label := fmt.Sprintf("η = %g", got)
		if got != target {
			label = fmt.Sprintf("η = %g (for %g)", got, target)
			notes = append(notes, fmt.Sprintf("η = %g drawn with the table's η = %g", target, got))
		}
		pts, ex := pl.points(results.WithLR(rows, got), func(r results.Row) float64 { return float64(r.Batch) }, sharpness, false)
		total.add(ex)
		c := paletteColor(i)
		if err := pl.addCurve(pts, curveStyle{color: c, shape: shape(i)}, label+ex.short()); err != nil {
			return nil, err
		}
		if err := pl.addLine([]xy{{bmin, 2 / got}, {bmax, 2 / got}}, curveStyle{color: c, dashes: dashed, width: vg.Points(1.2)}, ""); err != nil {
			return nil, err
		}
	}
	pl.Legend.Add("2/η level (dashed)", &plotter.Line{LineStyle: draw.LineStyle{Color: colGray, Width: vg.Points(1.2), Dashes: dashed}})
	caption := "Sharpness λmax(H) of the converged minima vs batch size B (log-log) for the step sizes of " +
		"the paper's Figure 1(b); the dashed line of each colour is that step size's GD limit 2/η. " + total.long("sharpness")
	if len(notes) > 0 {
		caption += " " + strings.Join(notes, "; ") + "."
	}
	return &Figure{Name: "fig1b", Title: "Figure 1(b): sharpness vs batch size", Caption: caption,
		Panels: []*plot.Plot{pl.finish()}}, nil
}

// Figure2 is the paper's Figure 2, one panel per batch size in batches (nil = Fig2Batches;
// sizes absent from the table are skipped, and if none is present the three smallest are
// used): against the step size, 2/eta (red), bound (25) (purple), bound (15) (blue), the
// sharpness (yellow), and the exact generalized sharpness (black) with its certified
// bracket as error bars: chain (26), 2/eta >= lambda_gen >= b25 >= b15 >= lambda_max.
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
			pts, e := pl.points(br, lr, s.value, false)
			ex = e
			missing[s.name] = e.missing
			if err := pl.addCurve(pts, s.style, s.name); err != nil {
				return nil, err
			}
		}
		gpts, ge := pl.points(br, lr, func(r results.Row) float64 { return results.Value(r.GenSharpness) }, true)
		missing["generalized sharpness"] = ge.missing
		genLabel := "generalized sharpness λgen"
		if ge.flagged > 0 {
			genLabel += fmt.Sprintf(" (%d iter. limit)", ge.flagged)
		}
		if err := pl.addCurve(gpts, curveStyle{color: colBlack, shape: draw.CrossGlyph{}, width: vg.Points(1.2)}, genLabel); err != nil {
			return nil, err
		}
		if err := pl.addBrackets(br, func(r results.Row) float64 { return 1 }); err != nil {
			return nil, err
		}
		lo, hi := lrRange(br)
		if !pl.empty() {
			lo, hi = pl.xmin, pl.xmax
		}
		if err := pl.addLine(twoOverEtaLine(lo, hi), curveStyle{color: colRed, width: vg.Points(1.8)}, "2/η"); err != nil {
			return nil, err
		}
		if k := ex.notConverged(); k > 0 {
			pl.Title.Text = fmt.Sprintf("Figure 2: %s (%d not converged)", batchLabel(b, n), k)
		} else {
			pl.Title.Text = "Figure 2: " + batchLabel(b, n)
		}
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
			"sharpness λmax(H) (yellow), and the exact generalized sharpness λgen = λmax(pinv(C) D) (black), " +
			"with its certified bracket as error bars where it is wider than 0.2% (narrower ones are listed in the run table); chain (26) says " +
			"2/η ≥ λgen ≥ (25) ≥ (15) ≥ λmax. " + strings.Join(capParts, "; ") + ".",
		Panels: panels, Width: vg.Length(len(panels)) * 5.2 * vg.Inch, Height: 4.4 * vg.Inch}, nil
}

// addBrackets draws the certified bracket [gen_sharpness_lo, gen_sharpness_hi] of each
// converged row as vertical error bars, divided by div(r) (1 for Figure 2, 2/eta for
// Figure 3). Rows without a usable bracket, and rows whose generalized sharpness did not
// converge, are skipped.
func (pl *panel) addBrackets(rows []results.Row, div func(results.Row) float64) error {
	var b brackets
	for _, r := range rows {
		if !r.Converged() || r.GenUnconverged() {
			continue
		}
		d := div(r)
		lo, hi := results.Value(r.GenLo)/d, results.Value(r.GenHi)/d
		x := r.LR
		if !pl.usable(x, lo) || !pl.usable(x, hi) || hi < lo {
			continue
		}
		y := results.Value(r.GenSharpness) / d
		if !ok(y) {
			y = (lo + hi) / 2
		}
		y = math.Min(math.Max(y, lo), hi)
		if hi-lo < MinBracketRel*y {
			continue // invisible at any plotting size; the run table lists it
		}
		b = append(b, bracket{x, y, lo, hi})
		pl.extend(x, lo)
		pl.extend(x, hi)
	}
	if len(b) == 0 {
		return nil
	}
	eb, err := plotter.NewYErrorBars(b)
	if err != nil {
		return err
	}
	eb.LineStyle = draw.LineStyle{Color: colBlack, Width: vg.Points(1)}
	eb.CapWidth = vg.Points(7)
	pl.Add(eb)
	return nil
}

// MinBracketRel: certified brackets narrower than this fraction of the value are not
// drawn as error bars (they would be bare caps on top of the marker).
const MinBracketRel = 2e-3

type bracket struct{ x, y, lo, hi float64 }
type brackets []bracket

func (b brackets) Len() int                        { return len(b) }
func (b brackets) XY(i int) (float64, float64)     { return b[i].x, b[i].y }
func (b brackets) YError(i int) (float64, float64) { return b[i].y - b[i].lo, b[i].hi - b[i].y }

// Figure3 is new: the generalized sharpness divided by 2/eta, i.e. eta/eta* with
// eta* = 2/lambda_gen, against the step size, one curve per batch size. 1 is the edge of
// mean-square stability (THEORY.md Thm 3); values above 1 would be unstable minima.
func Figure3(rows []results.Row) (*Figure, error) {
	pl := newPanel("Figure 3: how close SGD converges to its stability edge", "step size η", "λgen / (2/η) = η / η*", true, false)
	pl.Legend.Top = false
	n := results.SampleCount(rows)
	twoOverEta := func(r results.Row) float64 { return r.TwoOverLR() }
	var total exclusion
	for i, b := range results.Batches(rows) {
		br := results.WithBatch(rows, b)
		pts, ex := pl.points(br, lr, func(r results.Row) float64 { return r.GenRatio() }, true)
		total.add(ex)
		if err := pl.addCurve(pts, curveStyle{color: paletteColor(i), shape: shape(i)}, batchLabel(b, n)+ex.short()); err != nil {
			return nil, err
		}
		if err := pl.addBrackets(br, twoOverEta); err != nil {
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
	return &Figure{Name: "fig3", Title: "Figure 3 (new): distance to the mean-square stability edge",
		Caption: "Generalized sharpness divided by 2/η (= η/η*, η* = 2/λgen the exact mean-square threshold) " +
			"vs step size η, one curve per batch size; 1 (dashed red) is the edge of mean-square stability, " +
			"values above it would be unstable minima. Error bars: certified bracket, where wider than 0.2%. " + total.long("generalized sharpness"),
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
