package plots

import (
	"bytes"
	"strings"
	"testing"
)

func TestFigure4(t *testing.T) {
	var pts []Fig4Point
	for _, b := range []int{8, 1} {
		for _, c := range []float64{0.8, 0.9, 1.1, 1.25} {
			for _, proc := range []string{"independent", "mixture"} {
				r := 2 * c * (c - 1)
				pts = append(pts, Fig4Point{Batch: b, LR: 0.01, Process: proc, Kind: Fig4Growth, C: c, Y: r, Lo: r - 0.05, Hi: r + 0.05})
				f := 0.0
				if c > 1 {
					f = 1
				}
				pts = append(pts, Fig4Point{Batch: b, LR: 0.01, Process: proc, Kind: Fig4Escape, C: c, Y: f, Lo: f, Hi: f})
			}
		}
	}
	fig, err := Figure4(pts)
	if err != nil {
		t.Fatal(err)
	}
	if len(fig.Panels) != 2 || fig.Panels[0].Title.Text != "B = 1" || fig.Panels[1].Title.Text != "B = 8" {
		t.Fatalf("panels: %d, first %q", len(fig.Panels), fig.Panels[0].Title.Text)
	}
	// the axes cover every value drawn, including the error bars and c = 1
	p := fig.Panels[0]
	if p.X.Min > 0.8 || p.X.Max < 1.25 || p.Y.Min > -0.32-0.05 || p.Y.Max < 1 {
		t.Errorf("axes [%v, %v] x [%v, %v] do not cover the data", p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
	}
	var svg bytes.Buffer
	if err := fig.Encode(&svg, "svg"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"B = 1", "B = 8", "ALG(p)", "escape fraction", "c = 1"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if _, err := Figure4(nil); err == nil {
		t.Error("no points: want an error")
	}
	if _, err := Figure4([]Fig4Point{{Batch: 1, Kind: "bogus"}}); err == nil {
		t.Error("unknown kind: want an error")
	}
}
