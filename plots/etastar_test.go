package plots

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// etaStarPoints follows the d = 1 closed form lambda_gen = (1-p) h + p m2/h (h = 2.1,
// m2 = 6.05, n = 5): eta* rises with B to 2/h at B = n.
func etaStarPoints() []EtaStarPoint {
	var pts []EtaStarPoint
	for _, b := range []int{1, 2, 4, 5} {
		p := float64(5-b) / float64(b*4)
		g := (1-p)*2.1 + p*6.05/2.1
		pts = append(pts, EtaStarPoint{Batch: b, EtaStar: 2 / g, Lo: 2 / (g * 1.02), Hi: 2 / g, GDThreshold: 2 / 2.1, BracketConverged: b != 2})
	}
	return pts
}

// TestGoldenEtaStar compares the figure with testdata/golden/etastar.{png,svg}
// (go test ./plots -run Golden -update rewrites them) and checks that a changed curve fails.
func TestGoldenEtaStar(t *testing.T) {
	fig, err := FigureEtaStar(etaStarPoints(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fig.Caption, "at B = [2]") || !strings.Contains(fig.Caption, "0.9524") {
		t.Errorf("caption %q", fig.Caption)
	}
	changed := etaStarPoints()
	changed[1].EtaStar *= 0.8
	figChanged, err := FigureEtaStar(changed, 5)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "golden")
	for _, format := range []string{"png", "svg"} {
		checkGolden(t, dir, fig, format)
		if *update {
			continue
		}
		want, err := os.ReadFile(filepath.Join(dir, fig.Name+"."+format))
		if err != nil {
			t.Fatal(err)
		}
		if compareGolden(render(t, figChanged, format), want, format) == nil {
			t.Errorf("etastar.%s: a changed curve passes as the golden figure", format)
		}
	}
}

func TestFigureEtaStarBadInput(t *testing.T) {
	for name, pts := range map[string][]EtaStarPoint{
		"empty":     nil,
		"batch > n": {{Batch: 6, EtaStar: 1, GDThreshold: 1}},
		"NaN":       {{Batch: 1, EtaStar: 0 / zero(), GDThreshold: 1}},
		"two GD":    {{Batch: 1, EtaStar: 1, GDThreshold: 1}, {Batch: 2, EtaStar: 1, GDThreshold: 2}},
	} {
		if _, err := FigureEtaStar(pts, 5); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func zero() float64 { return 0 }
