package plots

import (
	"fmt"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// EtaStarPoint is the exact mean-square threshold eta* = 2/lambda_gen at one batch size, with
// the interval [Lo, Hi] = [2/hi, 2/lo] of the certified bracket [lo, hi] of lambda_gen.
type EtaStarPoint struct {
	Batch            int
	EtaStar, Lo, Hi  float64
	GDThreshold      float64 // 2 / lambda_max(H), the same for every batch size of one minimum
	BracketConverged bool
}

// FigureEtaStar draws eta*(B) against the batch size B (log axis) for one minimum of n samples,
// with GD's threshold 2/lambda_max(H) as a dashed line: by Prop. 1 (THEORY.md) eta* is
// non-decreasing in B and reaches 2/lambda_max at B = n. Points whose bracket did not converge
// are drawn but named in the caption.
func FigureEtaStar(pts []EtaStarPoint, n int) (*Figure, error) {
	if len(pts) == 0 {
		return nil, fmt.Errorf("eta* figure: no points")
	}
	ps := append([]EtaStarPoint(nil), pts...)
	sort.Slice(ps, func(a, b int) bool { return ps[a].Batch < ps[b].Batch })
	gd := ps[0].GDThreshold
	pl := newPanel(fmt.Sprintf("exact mean-square threshold, n = %d", n), "batch size B", "step size η", true, false)
	pl.Legend.Top = false
	var ms []median
	var flagged []int
	var bs []int
	for _, p := range ps {
		if p.Batch < 1 || p.Batch > n || !ok(p.EtaStar) || !ok(p.GDThreshold) || p.GDThreshold != gd {
			return nil, fmt.Errorf("eta* figure: bad point %+v (n = %d, 2/lambda_max = %g)", p, n, gd)
		}
		m := median{x: float64(p.Batch), y: p.EtaStar, lo: p.EtaStar, hi: p.EtaStar, n: 1}
		if ok(p.Lo) && ok(p.Hi) && p.Hi > p.Lo {
			m.lo, m.hi = p.Lo, p.Hi
		}
		ms = append(ms, m)
		bs = append(bs, p.Batch)
		if !p.BracketConverged {
			flagged = append(flagged, p.Batch)
		}
	}
	if err := pl.addCurve(ms, curveStyle{color: colBlue, shape: shape(0)}, "η* = 2/λgen (SGD, exact)"); err != nil {
		return nil, err
	}
	lo, hi := float64(ps[0].Batch), float64(max(ps[len(ps)-1].Batch, n))
	if err := pl.addLine([]xy{{lo, gd}, {hi, gd}}, curveStyle{color: colRed, dashes: dashed, width: vg.Points(1.5)}, "2/λmax (GD, Thm 1)"); err != nil {
		return nil, err
	}
	pl.ymin = 0
	p := pl.finish()
	p.X.Tick.Marker = intTicks(bs)
	caption := fmt.Sprintf("Exact mean-square stability threshold η* = 2/λgen of SGD against the batch size B (log scale) at one minimum "+
		"of n = %d samples; dashed red: GD's threshold 2/λmax(H) = %.4g. By Prop. 1 η* is non-decreasing in B and equals 2/λmax at B = n. "+
		"Error bars: the certified bracket of λgen, where wider than %.1g of the value.", n, gd, MinBracketRel)
	if len(flagged) > 0 {
		caption += fmt.Sprintf(" The bracket did not reach its target width at B = %v.", flagged)
	}
	return &Figure{Name: "etastar", Title: "η*(B) at one minimum", Caption: caption, Panels: []*plot.Plot{p}}, nil
}
