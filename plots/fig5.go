package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// Fig5Panels and Fig5Curves bound Figure 5: at most Fig5Panels batch sizes (the smallest, the
// largest and evenly spread ones between), at most Fig5Curves step sizes per panel (likewise).
const (
	Fig5Panels = 3
	Fig5Curves = 4
)

// fig5Cap: 2/eta_t is drawn only where it is at most fig5Cap times the panel's largest
// sharpness or 2/eta (early in the warm-up it is orders of magnitude larger).
const fig5Cap = 20.0

// spread returns at most k of the sorted values: the first, the last and evenly spaced ones
// between.
func spread[T any](vs []T, k int) []T {
	if len(vs) <= k {
		return vs
	}
	out := make([]T, 0, k)
	for i := 0; i < k; i++ {
		out = append(out, vs[int(math.Round(float64(i)*float64(len(vs)-1)/float64(k-1)))])
	}
	return out
}

// thinLog keeps the first point and then every point at least step decades (log10 x) to the
// right of the last one kept, and the last point.
func thinLog(pts []xy, step float64) []xy {
	var out []xy
	for i, p := range pts {
		if i == 0 || i == len(pts)-1 || math.Log10(p.x) >= math.Log10(out[len(out)-1].x)+step {
			out = append(out, p)
		}
	}
	return out
}

// addMarkers draws pts as glyphs of colour col and adds a legend entry (a line and the glyph);
// the entry is kept when pts is empty.
func (pl *panel) addMarkers(pts []xy, col color.Color, sh draw.GlyphDrawer, label string) error {
	glyph := draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: sh}
	if len(pts) > 0 {
		xys := make(plotter.XYs, len(pts))
		for i, p := range pts {
			xys[i] = plotter.XY{X: p.x, Y: p.y}
			pl.extend(p.x, p.y)
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.GlyphStyle = glyph
		pl.Add(s)
	}
	pl.Legend.Add(label, &plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(1.2)}}, &plotter.Scatter{GlyphStyle: glyph})
	return nil
}

// Figure5 is new, "the path to the edge": the sharpness recorded during training (the
// Gauss-Newton lambda_max, results.Path) against the epoch, with the stability limit 2/eta_t of
// the step size in force (THEORY.md Thm 1; eta_t grows during the warm-up) and the final 2/eta,
// one panel per batch size, one colour per step size, the lowest seed of each (lr, batch). It
// shows the mechanism of the paper's Sec. 4: a large initialization starts above 2/eta, the
// warm-up keeps 2/eta_t above the sharpness while SGD leaves the sharp region, and the run settles
// below (for GD: at) the edge. Epochs are drawn as epoch + 1 on a log axis (the initial point at
// 1); non-finite values (a diverging run) are left out.
func Figure5(paths []results.Path) (*Figure, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("figure 5: no sharpness paths")
	}
	// the lowest seed of every (batch, lr)
	type run struct {
		batch int
		lr    float64
	}
	first := map[run]results.Path{}
	for _, p := range paths {
		k := run{p.Batch, p.LR}
		if q, seen := first[k]; !seen || p.Seed < q.Seed {
			first[k] = p
		}
	}
	var batches []int
	for k := range first {
		if !slices.Contains(batches, k.batch) {
			batches = append(batches, k.batch)
		}
	}
	sort.Ints(batches)
	fig := &Figure{Name: "fig5", Title: "Figure 5 (new): the path to the edge"}
	var notes []string
	for _, b := range spread(batches, Fig5Panels) {
		var lrs []float64
		for k := range first {
			if k.batch == b {
				lrs = append(lrs, k.lr)
			}
		}
		sort.Float64s(lrs)
		pl := newPanel(fmt.Sprintf("B = %d", b), "epoch + 1", "sharpness λmax  /  2/η", true, true)
		pl.Legend.Top = true
		top := 0.0
		for _, lr := range spread(lrs, Fig5Curves) {
			p := first[run{b, lr}]
			top = math.Max(top, 2/lr)
			for _, s := range p.Sharpness {
				if ok(s) {
					top = math.Max(top, s)
				}
			}
		}
		for i, lr := range spread(lrs, Fig5Curves) {
			p := first[run{b, lr}]
			c := paletteColor(i)
			var pts, limit []xy
			for j, e := range p.Epochs {
				x := float64(e + 1)
				if s := p.Sharpness[j]; pl.usable(x, s) {
					pts = append(pts, xy{x, s})
				}
				if l := 2 / p.StepSize[j]; pl.usable(x, l) && l <= fig5Cap*top {
					limit = append(limit, xy{x, l})
				}
			}
			label := fmt.Sprintf("λmax, η = %g", lr)
			if p.Status != results.StatusConverged {
				label += " (" + strings.ReplaceAll(p.Status, "_", " ") + ")"
			}
			// the line through every checkpoint, markers thinned to about 20 per decade
			if err := pl.addLine(pts, curveStyle{color: c, width: vg.Points(1.2)}, ""); err != nil {
				return nil, err
			}
			if err := pl.addMarkers(thinLog(pts, 0.05), c, shape(i), label); err != nil {
				return nil, err
			}
			if err := pl.addLine(limit, curveStyle{color: c, dashes: dashed, width: vg.Points(1)}, ""); err != nil {
				return nil, err
			}
			if len(p.Epochs) > 0 {
				last := float64(p.Epochs[len(p.Epochs)-1] + 1)
				if err := pl.addLine([]xy{{1, 2 / lr}, {math.Max(last, 2), 2 / lr}}, curveStyle{color: c, dashes: []vg.Length{vg.Points(1), vg.Points(2)}, width: vg.Points(0.8)}, ""); err != nil {
					return nil, err
				}
			}
			if len(pts) < len(p.Epochs) {
				notes = append(notes, fmt.Sprintf("B = %d, η = %g: %d of %d checkpoints not finite", b, lr, len(p.Epochs)-len(pts), len(p.Epochs)))
			}
		}
		pl.Legend.Add("2/η_t in force (dashed)", &plotter.Line{LineStyle: draw.LineStyle{Color: colGray, Width: vg.Points(1), Dashes: dashed}})
		pl.Legend.Add("2/η (dotted)", &plotter.Line{LineStyle: draw.LineStyle{Color: colGray, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}})
		pl.headroom = 0.35
		fig.Panels = append(fig.Panels, pl.finish())
	}
	fig.Caption = fmt.Sprintf("The path to the edge: the sharpness λmax (Gauss-Newton, warm-started Lanczos, recorded during training) "+
		"against epoch + 1 (log-log; the initial point at 1), with the stability limit 2/η_t of the step size in force "+
		"(dashed: the warm-up raises η_t, so 2/η_t falls) and 2/η of the target step size (dotted), same colour per step size. "+
		"A run starts unstable where λmax is above 2/η, and settles at or below it. One panel per batch size (at most %d), "+
		"at most %d step sizes each, the lowest seed of each; 2/η_t is drawn where below %g times the panel's largest value. "+
		"%d run(s) with a path in all.", Fig5Panels, Fig5Curves, fig5Cap, len(paths))
	if len(notes) > 0 {
		fig.Caption += " Left out: " + strings.Join(notes, "; ") + "."
	}
	fig.Width = vg.Length(len(fig.Panels)) * 5.5 * vg.Inch
	fig.Height = 4.6 * vg.Inch
	return fig, nil
}
