package plots

import (
	"fmt"
	"math"
	"sort"

	"image/color"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Kinds of Figure 4 points.
const (
	Fig4Growth = "growth" // linearized: growth rate of E||x_t||^2, normalized
	Fig4Escape = "escape" // nonlinear: fraction of restarts that escaped
)

// Fig4Point is one measurement of the validation of eta* (experiments/validate) at
// eta = C eta* for the minimum found by SGD with batch Batch and step size LR. Process is
// "independent" (SGD) or "mixture" (ALG(p)).
// Y is the escape fraction (Kind Fig4Escape) or the growth rate of the linearized mean square
// per unit of the start's time scale, rate / (eta* kappa) (Kind Fig4Growth), with interval
// [Lo, Hi] (equal to Y when there is none).
type Fig4Point struct {
	Batch         int
	LR            float64
	Process, Kind string
	C, Y, Lo, Hi  float64
}

// Fig4Caption describes Figure 4 for the report.
const Fig4Caption = "Validation of the exact threshold eta* at the minima SGD found, one panel per batch size B. " +
	"x: c = eta / eta*; the dashed red line marks c = 1 (the predicted edge). Blue: growth rate of E||x_t||^2 under " +
	"linearized dynamics, in units of the start's time scale 1/(eta* kappa) (error bars: 95% interval; > 0 = unstable); " +
	"orange: fraction of nonlinear restarts at w* + perturbation that escaped. Solid: SGD; dashed: the mixture process " +
	"ALG(p) (Prop. 2). Marker shape: the step size of the run that found the minimum."

// Figure4 draws the validation figure from its points (one panel per batch size, ascending).
func Figure4(pts []Fig4Point) (*Figure, error) {
	byB := map[int][]Fig4Point{}
	for _, p := range pts {
		if p.Kind != Fig4Growth && p.Kind != Fig4Escape {
			return nil, fmt.Errorf("figure 4: unknown kind %q", p.Kind)
		}
		byB[p.Batch] = append(byB[p.Batch], p)
	}
	var bs []int
	for b := range byB {
		bs = append(bs, b)
	}
	sort.Ints(bs)
	fig := &Figure{Name: "fig4", Title: "Figure 4 (new): stability of SGD around eta*", Caption: Fig4Caption}
	for _, b := range bs {
		pl := newPanel(fmt.Sprintf("B = %d", b), "c = η / η*", "growth rate × τ  /  escape fraction", false, false)
		pl.Legend.Top = true
		pl.Legend.Left = true
		var lrs []float64
		seen := map[float64]bool{}
		for _, p := range byB[b] {
			if !seen[p.LR] {
				seen[p.LR] = true
				lrs = append(lrs, p.LR)
			}
		}
		sort.Float64s(lrs)
		for li, lr := range lrs {
			for _, kind := range []string{Fig4Growth, Fig4Escape} {
				for _, proc := range []string{"independent", "mixture"} {
					var xs []pt
					var bars errorBars
					for _, p := range byB[b] {
						if p.LR != lr || p.Kind != kind || p.Process != proc || !ok(p.C) || !ok(p.Y) {
							continue
						}
						xs = append(xs, pt{x: p.C, y: p.Y, lo: p.Y, hi: p.Y})
						if ok(p.Lo) && ok(p.Hi) && p.Hi > p.Lo {
							bars = append(bars, median{x: p.C, y: p.Y, lo: p.Lo, hi: p.Hi})
							pl.extend(p.C, p.Lo)
							pl.extend(p.C, p.Hi)
						}
					}
					if len(xs) == 0 {
						continue
					}
					st := curveStyle{color: colBlue, shape: shape(li)}
					name := "linearized growth"
					if kind == Fig4Escape {
						st.color, name = colOrange, "escape fraction"
					}
					label := fmt.Sprintf("%s, SGD, lr=%g", name, lr)
					if proc == "mixture" {
						st.dashes = dashed
						label = fmt.Sprintf("%s, ALG(p), lr=%g", name, lr)
					}
					if err := pl.addCurve(summarize(xs), st, label); err != nil {
						return nil, err
					}
					if len(bars) > 0 {
						if err := pl.addErrorBars(bars, st.color); err != nil {
							return nil, err
						}
					}
				}
			}
		}
		if !pl.empty() {
			pl.ymin, pl.ymax = math.Min(pl.ymin, 0), math.Max(pl.ymax, 1)
			if err := pl.addLine([]xy{{1, pl.ymin}, {1, pl.ymax}}, curveStyle{color: colRed, dashes: dashed}, "c = 1 (η = η*)"); err != nil {
				return nil, err
			}
			if err := pl.addLine([]xy{{pl.xmin, 0}, {pl.xmax, 0}}, curveStyle{color: colGray, width: vg.Points(0.8)}, ""); err != nil {
				return nil, err
			}
		}
		fig.Panels = append(fig.Panels, pl.finish())
	}
	if len(fig.Panels) == 0 {
		return nil, fmt.Errorf("figure 4: no points")
	}
	fig.Width = vg.Length(len(fig.Panels)) * 5.5 * vg.Inch
	fig.Height = 5 * vg.Inch
	return fig, nil
}

// addErrorBars draws vertical error bars in colour col.
func (pl *panel) addErrorBars(b errorBars, col color.Color) error {
	eb, err := plotter.NewYErrorBars(b)
	if err != nil {
		return err
	}
	eb.LineStyle.Color = col
	pl.Add(eb)
	return nil
}

// colOrange is the escape-fraction colour of Figure 4.
var colOrange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
