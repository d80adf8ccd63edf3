package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/internal/cmdtest"
	"github.com/sgdstability/sgdstab/experiments/runspec"
	"github.com/sgdstability/sgdstab/experiments/store"
)

// jsonBracket is validate.Bracket as written (a missing end is null).
type jsonBracket struct {
	Lo          *float64 `json:"lo"`
	Hi          *float64 `json:"hi"`
	Consistent  bool     `json:"consistent"`
	ContainsOne bool     `json:"contains_one"`
}

// jsonOutput is the part of validation.json the test checks, decoded independently of Output.
type jsonOutput struct {
	Minima []struct {
		Name      string  `json:"name"`
		Batch     int     `json:"batch"`
		LR        float64 `json:"lr"`
		EtaStar   float64 `json:"eta_star"`
		Source    string  `json:"source"`
		FinalLoss float64 `json:"final_loss"`
		Linear    []struct {
			Process string  `json:"process"`
			C       float64 `json:"c"`
			Eta     float64 `json:"eta"`
			Rate    float64 `json:"rate"`
			Lo      float64 `json:"rate_lo"`
			Hi      float64 `json:"rate_hi"`
			Verdict string  `json:"verdict"`
		} `json:"linear"`
		LinBracket map[string]jsonBracket `json:"linear_bracket"`
		Nonlinear  []struct {
			Process string  `json:"process"`
			C       float64 `json:"c"`
		} `json:"nonlinear"`
		EscBracket map[string]jsonBracket `json:"escape_bracket"`
	} `json:"minima"`
}

func TestMain(m *testing.M) { cmdtest.Main(m) }

// tinyDir writes the tiny grid and validation config (c = 0.7, 0.9, 1.1, 1.4) into a new
// directory, runs the sweep of the grid into its store, and returns the validation config's path.
func tinyDir(t *testing.T) string {
	t.Helper()
	bin := cmdtest.Build(t, "../sweep")
	mnist, err := data.Locate("")
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	path := writeConfig(t, dir, "tiny.yaml", mutate(t, tinyYAML, "c: [0.8, 1.25]", "c: [0.7, 0.9, 1.1, 1.4]"))
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "tiny-grid.yaml"), "-mnist", mnist, "-progress", "plain",
		"-workers", "1")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	return path
}

// tinyRun runs the command's main logic on the tiny config with output dir.
func tinyRun(t *testing.T, path, dir string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(path), "run-"+filepath.Base(dir)+".yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(string(raw), "output: OUTPUT", "output: "+dir, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// withoutSeconds decodes a JSON file and drops every "seconds" key (wall-clock times), leaving
// the numbers that must be reproducible.
func withoutSeconds(t *testing.T, path string) any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var strip func(any)
	strip = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			delete(v, "seconds")
			for _, y := range v {
				strip(y)
			}
		case []any:
			for _, y := range v {
				strip(y)
			}
		}
	}
	strip(x)
	return x
}

func readOutput(t *testing.T, dir string) *jsonOutput {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "validation", "validation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out jsonOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// checkBrackets recomputes every linearized bracket from its rate points: lo = the largest c whose
// interval lies below 0, hi = the smallest c whose interval lies above 0 (null when none), and
// checks that the rates are negative at and below lo and positive at and above hi; a bracket with
// a missing end must not claim to contain 1.
func checkBrackets(t *testing.T, out *jsonOutput, cs []float64) {
	t.Helper()
	if len(out.Minima) != 2 {
		t.Fatalf("%d minima in validation.json, want 2", len(out.Minima))
	}
	for _, m := range out.Minima {
		if !(m.EtaStar > 0) {
			t.Errorf("%s: eta* = %v", m.Name, m.EtaStar)
		}
		for _, proc := range []string{"independent", "mixture"} {
			var lo, hi *float64
			var got []float64
			decayMax, growMin := math.Inf(-1), math.Inf(1)
			for _, l := range m.Linear {
				if l.Process != proc {
					continue
				}
				got = append(got, l.C)
				if !(l.Lo <= l.Rate && l.Rate <= l.Hi) {
					t.Errorf("%s %s c=%g: rate %g outside its interval [%g, %g]", m.Name, proc, l.C, l.Rate, l.Lo, l.Hi)
				}
				if math.Abs(l.Eta-l.C*m.EtaStar) > 1e-12*l.Eta {
					t.Errorf("%s %s c=%g: eta %g != c eta* = %g", m.Name, proc, l.C, l.Eta, l.C*m.EtaStar)
				}
				want := "ambiguous"
				if l.Hi < 0 {
					want = "decay"
					decayMax = math.Max(decayMax, l.C)
					c := l.C
					if lo == nil || c > *lo {
						lo = &c
					}
				} else if l.Lo > 0 {
					want = "growth"
					growMin = math.Min(growMin, l.C)
					c := l.C
					if hi == nil || c < *hi {
						hi = &c
					}
				}
				if l.Verdict != want {
					t.Errorf("%s %s c=%g: verdict %q, interval [%g, %g] says %q", m.Name, proc, l.C, l.Verdict, l.Lo, l.Hi, want)
				}
			}
			sort.Float64s(got)
			if !reflect.DeepEqual(got, cs) {
				t.Errorf("%s %s: linear points at c = %v, want %v", m.Name, proc, got, cs)
			}
			b, ok := m.LinBracket[proc]
			if !ok {
				t.Fatalf("%s: no linear bracket for %s", m.Name, proc)
			}
			if !reflect.DeepEqual(b.Lo, lo) || !reflect.DeepEqual(b.Hi, hi) {
				t.Errorf("%s %s: bracket [%v, %v], the rate points give [%v, %v]", m.Name, proc, ptr(b.Lo), ptr(b.Hi), ptr(lo), ptr(hi))
			}
			consistent := decayMax < growMin
			if b.Consistent != consistent {
				t.Errorf("%s %s: consistent = %v, rate points say %v", m.Name, proc, b.Consistent, consistent)
			}
			open := lo == nil || hi == nil
			if b.ContainsOne && (open || !consistent || !(*lo < 1 && 1 < *hi)) {
				t.Errorf("%s %s: bracket [%v, %v] claims to contain 1", m.Name, proc, ptr(lo), ptr(hi))
			}
			if !open && consistent {
				for _, l := range m.Linear {
					if l.Process == proc && ((l.C <= *lo && !(l.Rate < 0)) || (l.C >= *hi && !(l.Rate > 0))) {
						t.Errorf("%s %s c=%g: rate %g on the wrong side of bracket [%g, %g]", m.Name, proc, l.C, l.Rate, *lo, *hi)
					}
				}
			}
			// The physics: the transition of linearized SGD / ALG(p) is at eta* (c = 1). On this
			// problem the rates at c = 0.7, 0.9 and 1.1 (pure Go), 1.4 are clearly resolved.
			if !b.ContainsOne {
				t.Errorf("%s %s: linearized bracket [%v, %v] does not contain c = 1", m.Name, proc, ptr(b.Lo), ptr(b.Hi))
			}
			// nonlinear: one restart per c and process, and an escape bracket
			n := 0
			for _, x := range m.Nonlinear {
				if x.Process == proc {
					n++
				}
			}
			if _, ok := m.EscBracket[proc]; !ok || n != len(cs) {
				t.Errorf("%s %s: %d nonlinear restarts (want %d), escape bracket present %v", m.Name, proc, n, len(cs), ok)
			}
		}
	}
}

func ptr(x *float64) any {
	if x == nil {
		return "none"
	}
	return *x
}

// TestRunTiny runs the command on the minima of a tiny sweep (n = 16, hidden 5): outputs written,
// brackets consistent with the rate points, the minima taken from the sweep's records (eta* and
// parameters, nothing retrained), and a second run reproducing every number.
func TestRunTiny(t *testing.T) {
	cfgPath := tinyDir(t)
	dir := t.TempDir()
	tinyRun(t, cfgPath, dir)
	cs := []float64{0.7, 0.9, 1.1, 1.4}

	md, err := os.ReadFile(filepath.Join(dir, "validation.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| B=1, lr=0.02 |", "| B=4, lr=0.05 |", "every linearized bracket contains c = 1", "figures/fig4.png"} {
		if !bytes.Contains(md, []byte(s)) {
			t.Errorf("validation.md lacks %q:\n%s", s, md)
		}
	}
	f, err := os.Open(filepath.Join(dir, "figures", "fig4.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("fig4.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("fig4.png is %v", b)
	}
	out := readOutput(t, dir)
	checkBrackets(t, out, cs)
	// each record file is that minimum's entry of validation.json
	all := withoutSeconds(t, filepath.Join(dir, "validation", "validation.json")).(map[string]any)["minima"].([]any)
	for i, m := range out.Minima {
		rec := withoutSeconds(t, filepath.Join(dir, "validation", "records", m.Name+".json"))
		if !reflect.DeepEqual(rec, all[i]) {
			t.Errorf("records/%s.json differs from validation.json's minimum %d", m.Name, i)
		}
	}
	// The minima are the sweep's records: eta* and final loss from the record of that run (found by
	// its spec), and no cache of minima of the validation's own.
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.grid.Store)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range out.Minima {
		r, err := cfg.run(cfg.Minima[i])
		if err != nil {
			t.Fatal(err)
		}
		rs, err := runspec.Of(cfg.grid, r)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.Find(rs.Spec)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			EtaStar float64 `json:"eta_star"`
		}
		if err := json.Unmarshal(rec.Analysis, &rep); err != nil {
			t.Fatal(err)
		}
		if m.EtaStar != rep.EtaStar || m.Source != "store:"+rec.Key || m.FinalLoss != float64(rec.FinalLoss) {
			t.Errorf("%s: eta* %v source %s loss %v; the sweep's record %s has eta* %v loss %v", m.Name, m.EtaStar, m.Source, m.FinalLoss,
				rec.Key, rep.EtaStar, rec.FinalLoss)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "validation", "minima")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("validation/minima exists (%v): the validation keeps no cache of its own", err)
	}

	// a second run into a fresh output directory reproduces every number
	first := withoutSeconds(t, filepath.Join(dir, "validation", "validation.json"))
	dir2 := t.TempDir()
	tinyRun(t, cfgPath, dir2)
	second := stripOutput(withoutSeconds(t, filepath.Join(dir2, "validation", "validation.json")), dir2, dir)
	if sgdDiffs := compareRuns(t, "second run", first, second); len(sgdDiffs) > 0 {
		t.Errorf("linearized SGD not reproducible: %d values differ, first %s", len(sgdDiffs), sgdDiffs[0])
	}
}

// A minimum whose run has no record in the store is an error that says to run the sweep.
func TestRunNeedsTheSweep(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "tiny.yaml", mutate(t, tinyYAML, "output: OUTPUT", "output: "+filepath.Join(dir, "out")))
	if _, err := data.Locate(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	err := run(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "has no record of this run: run the sweep first") ||
		!strings.Contains(err.Error(), "minima[0]") {
		t.Errorf("error %v", err)
	}
}

// compareRuns fails the test on any difference between two validation.json documents except in
// the linearized SGD points, whose differing paths it returns.
func compareRuns(t *testing.T, what string, a, b any) []string {
	t.Helper()
	var sgd []string
	for _, p := range jsonDiff(a, b, "") {
		if isLinearSGD(a, p) {
			sgd = append(sgd, p)
			continue
		}
		t.Errorf("%s differs from the first run at %s", what, p)
	}
	return sgd
}

// jsonDiff lists the paths (".minima[0].linear[3].rate") where two decoded JSON values differ.
func jsonDiff(a, b any, path string) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return []string{path}
		}
		var out []string
		for k, v := range x {
			w, ok := y[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, jsonDiff(v, w, path+"."+k)...)
		}
		sort.Strings(out)
		return out
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return []string{path}
		}
		var out []string
		for i := range x {
			out = append(out, jsonDiff(x[i], y[i], path+"["+strconv.Itoa(i)+"]")...)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return []string{path}
	}
	return nil
}

// isLinearSGD reports whether path lies inside a linear point of process "independent" of doc or in the
// linearized SGD bracket computed from those points.
func isLinearSGD(doc any, path string) bool {
	var mi, li int
	if n, _ := fmt.Sscanf(path, ".minima[%d].linear_bracket.independent", &mi); n == 1 {
		return true
	}
	if n, _ := fmt.Sscanf(path, ".minima[%d].linear[%d]", &mi, &li); n != 2 {
		return false
	}
	ms, _ := doc.(map[string]any)["minima"].([]any)
	if mi >= len(ms) {
		return false
	}
	ls, _ := ms[mi].(map[string]any)["linear"].([]any)
	if li >= len(ls) {
		return false
	}
	return ls[li].(map[string]any)["process"] == "independent"
}

// stripOutput replaces the output directory echoed in validation.json's config.
func stripOutput(x any, from, to string) any {
	if m, ok := x.(map[string]any); ok {
		if c, ok := m["config"].(map[string]any); ok {
			// Config has no json tags: the field is "Output"
			for k, v := range c {
				if s, ok := v.(string); ok && strings.EqualFold(k, "output") && s == from {
					c[k] = to
				}
			}
		}
	}
	return x
}
