package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/train"
)

func runCmd(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	if input != "" {
		p := filepath.Join(t.TempDir(), "in.json")
		if err := os.WriteFile(p, []byte(input), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"-in", p}, args...)
	}
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

var baseKeys = []string{"p", "sharpness", "gd_threshold", "generalized_sharpness", "generalized_sharpness_bracket",
	"eta_star", "bound15", "bound16", "bound25", "nonuniformity", "top_eigenmatrix_effective_rank",
	"top_eigenmatrix_top_share", "top_eigenmatrix_min_eig_rel", "diagnostics"}
var covKeys = []string{"covariance_trace", "expected_loss", "expected_grad_norm2"}

func keysOf(t *testing.T, out string) (map[string]any, []string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return m, ks
}

func sorted(xs ...[]string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x...)
	}
	sort.Strings(out)
	return out
}

func TestDenseInput(t *testing.T) {
	// two samples, d = 1: lambda_gen = (1 + 9)/2 / 2 = 2.5 at B = 1 (see analysis.ExampleAnalyzeDense)
	code, out, errs := runCmd(t, `{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]]}`)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	m, ks := keysOf(t, out)
	if strings.Join(ks, ",") != strings.Join(sorted(baseKeys), ",") {
		t.Errorf("keys %v, want %v", ks, sorted(baseKeys))
	}
	if g := m["generalized_sharpness"].(float64); math.Abs(g-2.5) > 1e-12 {
		t.Errorf("generalized sharpness %v, want 2.5", g)
	}
	if e := m["eta_star"].(float64); math.Abs(e-0.8) > 1e-12 {
		t.Errorf("eta* %v, want 0.8", e)
	}
	if r := m["top_eigenmatrix_effective_rank"].(float64); r != 1 { // d = 1: S* is 1 x 1
		t.Errorf("effective rank %v, want 1", r)
	}
	// with gradients and eta: the covariance keys appear, and agree with the library
	in := `{"n": 3, "batch_size": 2, "hessians": [[[2, 1], [1, 2]], [[1, 0], [0, 3]], [[0.5, 0], [0, 0]]],
		"gradients": [[1, 0.5], [-0.5, 0.25], [-0.5, -0.75]], "eta": 0.2}`
	code, out, errs = runCmd(t, in, "-seed", "4")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	m, ks = keysOf(t, out)
	if strings.Join(ks, ",") != strings.Join(sorted(baseKeys, covKeys), ",") {
		t.Errorf("keys %v, want %v", ks, sorted(baseKeys, covKeys))
	}
	rep, err := analysis.AnalyzeDense(&analysis.Dense{N: 3, D: 2,
		Hessians:  [][]float64{{2, 1, 1, 2}, {1, 0, 0, 3}, {0.5, 0, 0, 0}},
		Gradients: [][]float64{{1, 0.5}, {-0.5, 0.25}, {-0.5, -0.75}}}, 2, analysis.Options{Eta: 0.2, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"generalized_sharpness": rep.GeneralizedSharpness, "bound25": rep.Bound25,
		"covariance_trace": *rep.CovarianceTrace, "expected_loss": *rep.ExpectedLoss, "expected_grad_norm2": *rep.ExpectedGradNorm2} {
		if got := m[k].(float64); got != want {
			t.Errorf("%s = %v, library gives %v", k, got, want)
		}
	}
}

func TestFactoredInput(t *testing.T) {
	// H_1 = J_1^T M J_1 = diag(2, 0), H_2 = diag(0, 8): the same as the dense form
	fact := `{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]], "output_hessian": [[2]]}`
	dense := `{"n": 2, "batch_size": 1, "hessians": [[[2, 0], [0, 0]], [[0, 0], [0, 8]]]}`
	c1, o1, e1 := runCmd(t, fact)
	c2, o2, e2 := runCmd(t, dense)
	if c1 != 0 || c2 != 0 {
		t.Fatalf("exit %d %d: %s %s", c1, c2, e1, e2)
	}
	m1, _ := keysOf(t, o1)
	m2, _ := keysOf(t, o2)
	for _, k := range []string{"sharpness", "generalized_sharpness", "bound15", "bound16", "bound25", "nonuniformity"} {
		a, b := m1[k].(float64), m2[k].(float64)
		if math.Abs(a-b) > 1e-10*math.Abs(b) {
			t.Errorf("%s: factored %v dense %v", k, a, b)
		}
	}
}

func TestBadInput(t *testing.T) {
	good := `"hessians": [[[2, 1], [1, 2]], [[1, 0], [0, 3]]]`
	cases := []struct{ name, input, want string }{
		{"unparsable", `{"n": 2,`, "not valid JSON"},
		{"not an object", `[1, 2]`, "not valid JSON"},
		{"trailing data", `{"n": 2, "batch_size": 1, ` + good + `} {}`, "data after the JSON object"},
		{"unknown key", `{"n": 2, "batch_size": 1, "hessian": [], ` + good + `}`, "unknown field"},
		{"number out of range", `{"n": 2, "batch_size": 1, "hessians": [[[1e999, 1], [1, 2]], [[1, 0], [0, 3]]]}`, "not valid JSON"},
		{"missing n", `{"batch_size": 1, ` + good + `}`, `lacks "n"`},
		{"missing batch", `{"n": 2, ` + good + `}`, `lacks "batch_size"`},
		{"fractional n", `{"n": 2.5, "batch_size": 1, ` + good + `}`, "not valid JSON"},
		{"batch 0", `{"n": 2, "batch_size": 0, ` + good + `}`, "batch_size 0 outside 1..n"},
		{"batch > n", `{"n": 2, "batch_size": 3, ` + good + `}`, "batch_size 3 outside 1..n"},
		{"n inconsistent", `{"n": 3, "batch_size": 1, ` + good + `}`, "n = 3 but 2 Hessians"},
		{"n zero", `{"n": 0, "batch_size": 1, ` + good + `}`, "n = 0"},
		{"neither form", `{"n": 2, "batch_size": 1}`, "neither"},
		{"both forms", `{"n": 2, "batch_size": 1, "factors": [[[1]], [[1]]], "output_hessian": [[1]], ` + good + `}`, "both"},
		{"ragged Hessian", `{"n": 2, "batch_size": 1, "hessians": [[[2, 1], [1]], [[1, 0], [0, 3]]]}`, "Hessian 0: row 1 has 1 entries"},
		{"mismatched d", `{"n": 2, "batch_size": 1, "hessians": [[[2, 1], [1, 2]], [[1]]]}`, "Hessian 1 has 1 rows"},
		{"non-symmetric", `{"n": 2, "batch_size": 1, "hessians": [[[2, 1], [0, 2]], [[1, 0], [0, 3]]]}`, "not symmetric"},
		{"not PSD", `{"n": 2, "batch_size": 1, "hessians": [[[1, 2], [2, 1]], [[1, 0], [0, 3]]]}`, "not positive semi-definite"},
		{"gradient mean", `{"n": 2, "batch_size": 1, ` + good + `, "gradients": [[1, 0], [0, 1]]}`, "do not average to zero"},
		{"gradient length", `{"n": 2, "batch_size": 1, ` + good + `, "gradients": [[1, 0], [0]]}`, "gradient 1 has length 1"},
		{"gradient count", `{"n": 2, "batch_size": 1, ` + good + `, "gradients": [[1, 0]]}`, "1 gradients given"},
		{"eta above eta*", `{"n": 2, "batch_size": 1, ` + good + `, "gradients": [[1, 0], [-1, 0]], "eta": 5}`, "not in (0, eta*)"},
		{"eta negative", `{"n": 2, "batch_size": 1, ` + good + `, "eta": -0.1}`, "eta = -0.1 must be positive"},
		{"all zero", `{"n": 2, "batch_size": 1, "hessians": [[[0]], [[0]]]}`, "is zero"},
		{"factored without M", `{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]]}`, `lacks "output_hessian"`},
		{"M not PSD", `{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]], "output_hessian": [[-1]]}`, "not positive semi-definite"},
		{"M wrong size", `{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]], "output_hessian": [[1, 0], [0, 1]]}`, "output_hessian has 2 rows"},
		{"factor rows", `{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2], [1, 1]]], "output_hessian": [[1]]}`, "factor 1 has 2 rows"},
		{"empty factor", `{"n": 1, "batch_size": 1, "factors": [[]], "output_hessian": [[1]]}`, "factor 0 is empty"},
		{"output_hessian with hessians", `{"n": 2, "batch_size": 1, "output_hessian": [[1]], ` + good + `}`, "belongs to the factored form"},
	}
	for _, tc := range cases {
		code, out, errs := runCmd(t, tc.input)
		if code == 0 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "analyze: ") || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want one line containing %q)", tc.name, code, out, errs, tc.want)
		}
	}
	for _, args := range [][]string{{}, {"-in", "/nonexistent/x.json"}, {"-in", "a", "-run", "b"}, {"-bogus"}, {"-in", "a", "extra"}} {
		var out, errb bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &errb)
		if code == 0 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("args %v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}

func TestStdin(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-in", "-"}, strings.NewReader(`{"n": 1, "batch_size": 1, "hessians": [[[4]]]}`), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), `"eta_star": 0.5`) {
		t.Errorf("exit %d, stdout %s, stderr %s", code, out.String(), errb.String())
	}
}

// TestBuiltBinary builds the command and runs it, checking exit codes and streams.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "analyze")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]]}`), 0o644)
	os.WriteFile(bad, []byte(`{"n": 2, "batch_size": 1, "hessians": [[[1]], [[-3]]]}`), 0o644)
	var so, se bytes.Buffer
	cmd := exec.Command(bin, "-in", good)
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil || se.Len() != 0 || !json.Valid(so.Bytes()) {
		t.Errorf("good input: %v, stdout %q, stderr %q", err, so.String(), se.String())
	}
	so.Reset()
	se.Reset()
	cmd = exec.Command(bin, "-in", bad)
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || so.Len() != 0 || strings.Count(se.String(), "\n") != 1 {
		t.Errorf("bad input: %v, stdout %q, stderr %q", err, so.String(), se.String())
	}
}

// TestRunRecord trains a tiny network on 16 MNIST images, writes its run record and analyses it
// with -run: the Gauss-Newton sharpness must equal the trainer's own Lanczos value
// (train.Curvature.GNSharpness), an independent computation.
func TestRunRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	sel := data.Selection{Classes: []int{0, 1, 2, 3}, PerClass: 4}
	ds, err := data.Load(sel)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	cfg := train.Config{Model: train.Model{Hidden: 10}, LR: 0.02, Batch: 4, Seed: 1, Procedure: train.Procedure{MaxEpochs: 300}}
	res, err := train.Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.json")
	if err := train.WriteRunRecord(path, train.NewRunRecord(ds, sel, res)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "", "-run", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m, ks := keysOf(t, out)
	for _, k := range append(append([]string{}, baseKeys...), "hessian_sharpness", "residual_rel") {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %v", k, ks)
		}
	}
	curv, err := train.PerSampleCurvature(ds, res.Params, res.Config.Loss)
	if err != nil {
		t.Fatal(err)
	}
	if s := m["sharpness"].(float64); math.Abs(s-curv.GNSharpness) > 1e-6*curv.GNSharpness {
		t.Errorf("sharpness %v, trainer's Gauss-Newton sharpness %v", s, curv.GNSharpness)
	}
	t.Logf("status %s: sharpness %v, hessian_sharpness %v, eta* %v, lr %v", res.Status, m["sharpness"], m["hessian_sharpness"], m["eta_star"], cfg.LR)
}
