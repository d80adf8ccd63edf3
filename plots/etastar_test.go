package plots

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
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
// (go test ./plots -run EtaStar -update rewrites them) and checks that a changed curve fails.
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
	for _, format := range []string{"png", "svg"} {
		got := render(t, fig, format)
		path := filepath.Join("testdata", "golden", "etastar."+format)
		if *update {
			if err := atomicfile.WriteFile(path, got); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./plots -run EtaStar -update to create it)", err)
		}
		cmp := func(a, b []byte) error {
			if format == "png" {
				return comparePNG(a, b, 0.002)
			}
			return compareSVG(a, b, 0.05)
		}
		if err := cmp(got, want); err != nil {
			t.Errorf("%s differs from golden: %v", path, err)
		}
		if err := cmp(render(t, figChanged, format), want); err == nil {
			t.Errorf("%s: a changed curve passes as the golden figure", path)
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
