package plots

import (
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// panel is a plot under construction that tracks the extent of the data drawn on it, so
// that axis ranges are set from the data actually plotted (and log axes never see a
// value <= 0: gonum/plot panics on those).
type panel struct {
	*plot.Plot
	logX, logY             bool
	xmin, xmax, ymin, ymax float64
	headroom               float64         // extra room for the legend, as a fraction of the data range (in log units on log axes), on the legend's side
	drawn                  results.Repeats // runs drawn at each point, over the panel's curves (the most of any curve)
}

func newPanel(title, xlabel, ylabel string, logX, logY bool) *panel {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = vg.Points(12)
		ax.Tick.Label.Font.Size = vg.Points(10)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = vg.Points(24)
	p.Legend.Padding = vg.Points(1)
	p.Legend.XOffs = -vg.Points(4)
	p.Legend.YOffs = -vg.Points(4)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe4}
	grid.Horizontal.Color = color.Gray{Y: 0xe4}
	grid.Vertical.Width, grid.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(grid)
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicker{}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicker{}
	}
	return &panel{Plot: p, logX: logX, logY: logY, drawn: results.Repeats{},
		xmin: math.Inf(1), xmax: math.Inf(-1), ymin: math.Inf(1), ymax: math.Inf(-1)}
}

// ok reports whether x is a usable (finite) value.
func ok(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// usable reports whether (x, y) can be drawn on the panel's axes.
func (pl *panel) usable(x, y float64) bool {
	if !ok(x) || !ok(y) {
		return false
	}
	if (pl.logX && x <= 0) || (pl.logY && y <= 0) {
		return false
	}
	return true
}

func (pl *panel) extend(x, y float64) {
	pl.xmin, pl.xmax = math.Min(pl.xmin, x), math.Max(pl.xmax, x)
	pl.ymin, pl.ymax = math.Min(pl.ymin, y), math.Max(pl.ymax, y)
}

func (pl *panel) empty() bool { return pl.xmin > pl.xmax }

// finish sets the axis ranges from the data extent (padded), overriding what gonum/plot
// derived while plotters were added. An empty panel gets linear unit axes and a note.
func (pl *panel) finish() *plot.Plot {
	p := pl.Plot
	if pl.empty() {
		p.X.Scale, p.Y.Scale = plot.LinearScale{}, plot.LinearScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.DefaultTicks{}, plot.DefaultTicks{}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		p.Title.Text += "\n(no data to plot)"
		return p
	}
	p.X.Min, p.X.Max = padRange(pl.xmin, pl.xmax, pl.logX, 0, 0)
	top, bottom := pl.headroom, 0.0
	if !p.Legend.Top {
		top, bottom = 0, pl.headroom
	}
	p.Y.Min, p.Y.Max = padRange(pl.ymin, pl.ymax, pl.logY, bottom, top)
	return p
}

// padRange widens [lo, hi] by 4% of its width (in log units on a log axis) on each side,
// plus bottom and top (fractions of the width), and never lets a log range touch zero.
func padRange(lo, hi float64, log bool, bottom, top float64) (float64, float64) {
	if log {
		a, b := math.Log10(lo), math.Log10(hi)
		if b-a < 0.1 {
			a, b = (a+b)/2-0.15, (a+b)/2+0.15
		}
		w := b - a
		return math.Pow(10, a-(0.04+bottom)*w), math.Pow(10, b+(0.04+top)*w)
	}
	if hi-lo < 1e-12*math.Max(1, math.Abs(hi)) {
		lo, hi = lo-0.5, hi+0.5
	}
	w := hi - lo
	return lo - (0.04+bottom)*w, hi + (0.04+top)*w
}

// logTicker labels a log axis readably for any span: decades when it covers three or
// more, 1-2-5 steps when it covers less, 1..9 steps inside a single decade.
type logTicker struct{}

func (logTicker) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) {
		return nil
	}
	span := math.Log10(max / min)
	var labelled map[int]bool
	switch {
	case span >= 3:
		labelled = map[int]bool{1: true}
	case span >= 0.8:
		labelled = map[int]bool{1: true, 2: true, 5: true}
	default:
		labelled = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}
	}
	var ticks []plot.Tick
	for e := int(math.Floor(math.Log10(min))); e <= int(math.Ceil(math.Log10(max))); e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = strconv.FormatFloat(roundSig(v, 3), 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// intTicks labels exactly the given integer values (batch sizes on a log axis).
func intTicks(values []int) plot.Ticker {
	vs := append([]int(nil), values...)
	sort.Ints(vs)
	ticks := make(plot.ConstantTicks, len(vs))
	for i, v := range vs {
		ticks[i] = plot.Tick{Value: float64(v), Label: strconv.Itoa(v)}
	}
	return ticks
}

func roundSig(v float64, sig int) float64 {
	if v == 0 || !ok(v) {
		return v
	}
	s, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', sig, 64), 64)
	return s
}

// Colours. Figure 2 uses the paper's colour code (THEORY.md chain (26)); the yellow is
// darkened to a gold that stays readable on white.
var (
	colRed    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colPurple = color.RGBA{R: 0x7e, G: 0x2f, B: 0x8e, A: 0xff}
	colBlue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colYellow = color.RGBA{R: 0xe6, G: 0xa8, B: 0x17, A: 0xff}
	colBlack  = color.RGBA{A: 0xff}
	colGray   = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
)

// palette is a qualitative palette (Tableau 10) for one-curve-per-batch-size figures.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

func paletteColor(i int) color.Color { return palette[i%len(palette)] }

var dashed = []vg.Length{vg.Points(6), vg.Points(3)}
