package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// JSON input that encoding/json would let through or misreport.
func TestStrictJSON(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"null number", `{"n": 2, "batch_size": 1, "hessians": [[[null]], [[3]]]}`, `"hessians" contains null`},
		{"null n", `{"n": null, "batch_size": 1, "hessians": [[[1]], [[3]]]}`, `"n" contains null`},
		{"null eta", `{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]], "eta": null}`, `"eta" contains null`},
		{"case-folded key", `{"N": 2, "batch_size": 1, "hessians": [[[1]], [[3]]]}`, `unknown key "N"`},
		{"case-folded key 2", `{"n": 2, "Batch_Size": 1, "hessians": [[[1]], [[3]]]}`, `unknown key "Batch_Size"`},
		{"duplicate key", `{"n": 2, "n": 3, "batch_size": 1, "hessians": [[[1]], [[3]]]}`, `key "n" given twice`},
		{"duplicate array", `{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]], "hessians": [[[1]], [[3]]]}`, `key "hessians" given twice`},
		// sum ||g_i||^2 overflows: not "json: unsupported value: NaN"
		{"huge gradients", `{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]], "gradients": [[1e200], [-1e200]], "eta": 0.1}`, "gradients are too large for float64"},
		// (1e308 + 1e308)/2 overflowed in the symmetrization: the input has no NaN or Inf
		{"huge entries", `{"n": 2, "batch_size": 1, "hessians": [[[1, 1e308], [1e308, 1]], [[3, 0], [0, 1]]]}`, "Hessian 0 is not positive semi-definite"},
	} {
		code, out, errs := runCmd(t, tc.input)
		if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tc.want) || strings.Contains(errs, "NaN or Inf") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want one line containing %q)", tc.name, code, out, errs, tc.want)
		}
	}
	// huge but symmetric PSD entries: analysed, not misreported as NaN
	code, _, errs := runCmd(t, `{"n": 2, "batch_size": 2, "hessians": [[[1e307, 1e307], [1e307, 1e307]], [[1e307, 1e307], [1e307, 1e307]]]}`)
	if code != 0 {
		t.Errorf("huge PSD entries: exit %d, %s", code, errs)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		code, out, errs := runCmd(t, "", arg)
		if code != 0 || !strings.HasPrefix(out, "usage: analyze") || errs != "" || !strings.Contains(out, "-batch") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
}

func TestBatchFlag(t *testing.T) {
	in := `{"n": 5, "batch_size": 1, "hessians": [[[1]], [[3]], [[2]], [[0.5]], [[4]]]}`
	code, out, errs := runCmd(t, in, "-batch", "all-powers")
	if code != 0 {
		t.Fatal(errs)
	}
	lines := parseLines(t, out)
	var bs []float64
	for i, l := range lines {
		bs = append(bs, l["batch_size"].(float64))
		// d = 1: lambda_gen = (1-p) h^2/h + p mean(h_i^2)/h in closed form
		p := l["p"].(float64)
		want := (1-p)*2.1 + p*(1+9+4+0.25+16)/5/2.1
		if g := l["generalized_sharpness"].(float64); !(g <= want*(1+1e-9) && g >= want*(1-1e-9)) {
			t.Errorf("B=%v: lambda_gen %v, want %v", bs[i], g, want)
		}
	}
	if len(bs) != 4 || bs[0] != 1 || bs[1] != 2 || bs[2] != 4 || bs[3] != 5 {
		t.Errorf("all-powers of n = 5 gave %v, want [1 2 4 5]", bs)
	}
	code, out, _ = runCmd(t, in, "-batch", "2,n", "-format", "csv")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 3 || !strings.HasPrefix(rows[0], "batch_size,p,sharpness") || !strings.HasPrefix(rows[2], "5,0,2.1") {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"0", "6", "x", "1,,2"} {
		if code, _, errs := runCmd(t, in, "-batch", bad); code != 1 || !strings.Contains(errs, "-batch") {
			t.Errorf("-batch %q: exit %d, %q", bad, code, errs)
		}
	}
}

func TestPlotFlag(t *testing.T) {
	in := `{"n": 5, "batch_size": 1, "hessians": [[[1]], [[3]], [[2]], [[0.5]], [[4]]]}`
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(t.TempDir(), "eta."+ext)
		code, out, errs := runCmd(t, in, "-batch", "all-powers", "-plot", path)
		b, err := os.ReadFile(path)
		if code != 0 || err != nil || len(b) < 100 || len(parseLines(t, out)) != 4 {
			t.Errorf("%s: exit %d %s, file %v", ext, code, errs, err)
		}
	}
	if code, _, errs := runCmd(t, in, "-plot", "x.pdf"); code != 1 || !strings.Contains(errs, "-plot") {
		t.Errorf("-plot x.pdf: exit %d, %q", code, errs)
	}
}
