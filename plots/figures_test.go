package plots

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/results/resultstest"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

var update = flag.Bool("update", false, "rewrite the golden figures in testdata/golden from testdata/tiny.csv")

func tinyRows(t *testing.T) []results.Row {
	t.Helper()
	rows, err := results.ReadFile(filepath.Join("testdata", "tiny.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// comparePNG decodes both images and returns an error if their sizes differ or more than
// maxFrac of the pixels differ by more than 16 (of 255) in some channel. The slack absorbs
// anti-aliasing differences between CPU architectures (fused multiply-add); a moved,
// missing or recoloured curve changes far more pixels.
func comparePNG(got, want []byte, maxFrac float64) error {
	a, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		return fmt.Errorf("decoding rendered PNG: %v", err)
	}
	b, err := png.Decode(bytes.NewReader(want))
	if err != nil {
		return fmt.Errorf("decoding golden PNG: %v", err)
	}
	if a.Bounds() != b.Bounds() {
		return fmt.Errorf("size %v, golden %v", a.Bounds(), b.Bounds())
	}
	diff, total := 0, 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			total++
			if pixelDiff(a, b, x, y) > 16 {
				diff++
			}
		}
	}
	if frac := float64(diff) / float64(total); frac > maxFrac {
		return fmt.Errorf("%d of %d pixels differ (%.3f%% > %.3f%%)", diff, total, 100*frac, 100*maxFrac)
	}
	return nil
}

func pixelDiff(a, b image.Image, x, y int) uint32 {
	r1, g1, b1, a1 := a.At(x, y).RGBA()
	r2, g2, b2, a2 := b.At(x, y).RGBA()
	d := uint32(0)
	for _, p := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}, {a1, a2}} {
		v := p[0] >> 8
		w := p[1] >> 8
		if v > w {
			v, w = w, v
		}
		d = max(d, w-v)
	}
	return d
}

var svgNumber = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?`)

// compareSVG compares two SVG documents as text with every number replaced by a
// placeholder, and the numbers themselves within absolute tolerance tol (points).
func compareSVG(got, want []byte, tol float64) error {
	ga, wa := svgNumber.FindAllString(string(got), -1), svgNumber.FindAllString(string(want), -1)
	gt, wt := svgNumber.ReplaceAllString(string(got), "#"), svgNumber.ReplaceAllString(string(want), "#")
	if gt != wt {
		gl, wl := strings.Split(gt, "\n"), strings.Split(wt, "\n")
		for i := 0; i < min(len(gl), len(wl)); i++ {
			if gl[i] != wl[i] {
				return fmt.Errorf("text differs at line %d:\n got  %.200s\n want %.200s", i+1, gl[i], wl[i])
			}
		}
		return fmt.Errorf("text differs: %d lines, golden %d", len(gl), len(wl))
	}
	for i := range ga {
		x, _ := strconv.ParseFloat(ga[i], 64)
		y, _ := strconv.ParseFloat(wa[i], 64)
		if math.Abs(x-y) > tol {
			return fmt.Errorf("number %d: %s, golden %s", i, ga[i], wa[i])
		}
	}
	return nil
}

func render(t *testing.T, f *Figure, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Encode(&buf, format); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// golden returns testdata/golden/name, or with -update writes got there and returns nil.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := atomicfile.WriteFile(path, got); err != nil {
			t.Fatal(err)
		}
		return nil
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plots -run Golden -update to create it)", err)
	}
	return want
}

// compareFormat compares two renderings in format "png" or "svg" with the golden tolerances.
func compareFormat(got, want []byte, format string) error {
	if format == "png" {
		return comparePNG(got, want, 0.002)
	}
	return compareSVG(got, want, 0.05)
}

// TestGoldenFigures renders the figures of testdata/tiny.csv and compares them with
// testdata/golden (go test ./plots -run Golden -update rewrites those).
func TestGoldenFigures(t *testing.T) {
	figs, err := Figures(tinyRows(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "golden")
	if *update {
		if _, err := os.Stat(dir); err != nil {
			os.MkdirAll(dir, 0o755)
		}
	}
	for _, f := range figs {
		for _, format := range []string{"png", "svg"} {
			got := render(t, f, format)
			want := golden(t, f.Name+"."+format, got)
			if want == nil {
				continue
			}
			if err := compareFormat(got, want, format); err != nil {
				t.Errorf("%s differs from golden: %v", f.Name+"."+format, err)
			}
		}
	}
}

// TestGoldenDetectsChange makes sure the golden comparison can fail: a figure from a table
// with one run's values changed must not pass as the golden one.
func TestGoldenDetectsChange(t *testing.T) {
	rows := tinyRows(t)
	for i := range rows {
		if rows[i].Batch == 8 && rows[i].LR == 0.002 {
			rows[i].Sharpness = jsonfloat.Ptr(results.Value(rows[i].Sharpness) * 0.5) // the yellow point of the B = 8 panel moves
			rows[i].Bound15 = jsonfloat.Ptr(results.Value(rows[i].Bound15) * 0.6)
		}
	}
	f, err := Figure2(rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"png", "svg"} {
		want, err := os.ReadFile(filepath.Join("testdata", "golden", "fig2."+format))
		if err != nil {
			t.Skip("no golden file yet")
		}
		got := render(t, f, format)
		if format == "png" {
			err = comparePNG(got, want, 0.002)
		} else {
			err = compareSVG(got, want, 0.05)
		}
		if err == nil {
			t.Errorf("%s: a changed figure passed the golden comparison", format)
		}
	}
}

// TestFiguresRobust renders figures from degenerate tables: nothing converged, one batch
// size and one step size, non-positive values on log axes, a missing B = n. None may
// panic or fail, and non-drawable values must be counted as left out.
func TestFiguresRobust(t *testing.T) {
	base := resultstest.Default().Rows()
	allDiverged := resultstest.Set(base, func(r *results.Row) { r.Status = results.StatusDiverged })
	single := []results.Row{base[len(base)-1]}
	bad := append([]results.Row(nil), base...)
	bad[3].Sharpness = jsonfloat.Ptr(0)
	bad[4].Sharpness = jsonfloat.Ptr(-1)
	bad[5].GenSharpness = jsonfloat.Ptr(math.Inf(1))
	bad[6].Bound25 = jsonfloat.Ptr(math.NaN())
	bad[7].Bound15 = nil
	quick := resultstest.Synth{N: 512, Batches: []int{1, 8, 32, 512}, Etas: []float64{0.005, 0.012, 0.03}, Seed: 2}.Rows()
	flagged := resultstest.Set(base, func(r *results.Row) {
		if r.Converged() && r.Batch <= 2 {
			r.AnalysisStatus = results.AnalysisIterationLimit
		}
	})
	cases := map[string][]results.Row{"none": nil, "all diverged": allDiverged, "single": single, "bad values": bad,
		"quick grid": quick, "flagged": flagged}
	for name, rows := range cases {
		figs, err := Figures(rows)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range figs {
			for _, format := range []string{"png", "svg"} {
				var buf bytes.Buffer
				if err := f.Encode(&buf, format); err != nil {
					t.Errorf("%s: %s: %v", name, f.Name, err)
				} else if buf.Len() == 0 {
					t.Errorf("%s: %s.%s is empty", name, f.Name, format)
				}
			}
		}
		if name == "quick grid" && !strings.Contains(figs[1].Caption, "η = 0.043: no step size in the table within 10%") {
			t.Errorf("Figure 1(b) caption does not say that 0.043 is missing: %q", figs[1].Caption)
		}
		if name == "bad values" && !strings.Contains(figs[0].Caption, "2 converged run(s) without a usable sharpness") {
			t.Errorf("caption does not count the two non-positive sharpness values: %q", figs[0].Caption)
		}
		if name == "flagged" && !strings.Contains(figs[3].Caption, "14 converged run(s) whose generalized sharpness stopped at its iteration limit") {
			t.Errorf("Figure 3 caption does not count the 14 flagged runs at B <= 2: %q", figs[3].Caption)
		}
		if name == "all diverged" && !strings.Contains(figs[0].Caption, fmt.Sprintf("%d run(s) that did not converge (diverged %d)", len(base), len(base))) {
			t.Errorf("caption does not count the diverged runs: %q", figs[0].Caption)
		}
	}
}

func TestSaveAtomicAndFormats(t *testing.T) {
	f, err := Figure1a(tinyRows(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := f.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, size %d", p, err, st.Size())
		}
	}
	if _, err := f.Save(dir, "gif"); err == nil {
		t.Error("unknown format accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files after a failed save, want the 2 figures (no temporary leftovers)", len(entries))
	}
	// Figure 1(b) with the paper's step sizes is matched to the tiny grid exactly.
	if lr, ok := MatchLR(tinyRows(t), 0.0125, LRMatchTol); !ok || lr != 0.012 {
		t.Errorf("MatchLR(0.0125) = %g, %v; want 0.012, true", lr, ok)
	}
	if _, ok := MatchLR(tinyRows(t), 0.02, LRMatchTol); ok {
		t.Error("MatchLR(0.02) matched a step size more than 10% away")
	}
}

// TestFlaggedGenSharpnessNotDrawn: a generalized sharpness that stopped at its iteration limit
// is not drawn in Figures 2 and 3 (nor its bracket), and is counted in captions and legends;
// the same value unflagged is drawn.
func TestFlaggedGenSharpnessNotDrawn(t *testing.T) {
	target := func(r *results.Row) bool { return r.Batch == 2 && r.LR == 0.012 }
	outlier := resultstest.Set(resultstest.Default().Rows(), func(r *results.Row) {
		if target(r) {
			g := 30 * 2 / r.LR // eta/eta* = 30: far above every other point
			r.GenSharpness, r.GenLo, r.GenHi = jsonfloat.Ptr(g), jsonfloat.Ptr(0.9*g), jsonfloat.Ptr(1.1*g)
		}
	})
	flagged := resultstest.Set(outlier, func(r *results.Row) {
		if target(r) {
			r.AnalysisStatus = results.AnalysisIterationLimit
		}
	})
	why := "1 converged run(s) whose generalized sharpness stopped at its iteration limit"
	for name, tc := range map[string]struct {
		rows    []results.Row
		drawn   bool
		caption bool
	}{"unflagged": {outlier, true, false}, "flagged": {flagged, false, true}} {
		f3, err := Figure3(tc.rows)
		if err != nil {
			t.Fatal(err)
		}
		if top := f3.Panels[0].Y.Max; (top > 2.5) != tc.drawn {
			t.Errorf("%s: Figure 3 y axis ends at %.3g; outlier drawn = %v", name, top, tc.drawn)
		}
		if strings.Contains(f3.Caption, why) != tc.caption || strings.Contains(string(render(t, f3, "svg")), "B = 2 (1 not conv., 1 iter. limit)") != tc.caption {
			t.Errorf("%s: Figure 3 caption/legend count of the flagged run wrong: %s", name, f3.Caption)
		}
		f2, err := Figure2(tc.rows, nil)
		if err != nil {
			t.Fatal(err)
		}
		b2 := f2.Panels[1] // B = 1, 2, 8
		if top := b2.Y.Max; (top > 10*2/0.012) != tc.drawn {
			t.Errorf("%s: Figure 2 (B = 2) y axis ends at %.4g; outlier drawn = %v", name, top, tc.drawn)
		}
		if strings.Contains(f2.Caption, "B = 2: 7 converged run(s) drawn, 1 not converged left out; λgen and its bracket left out for 1 run(s) whose generalized sharpness stopped") != tc.caption ||
			strings.Contains(string(render(t, f2, "svg")), "generalized sharpness λgen (1 iter. limit)") != tc.caption {
			t.Errorf("%s: Figure 2 caption/legend count of the flagged run wrong: %s", name, f2.Caption)
		}
		// Figure 1 draws the sharpness, which the flag does not concern.
		f1, err := Figure1a(tc.rows)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f1.Caption, "iteration limit") {
			t.Errorf("%s: Figure 1(a) counts the flag: %s", name, f1.Caption)
		}
	}
}
