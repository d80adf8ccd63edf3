package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestJSONOutputGradients: "output_gradients" in the JSON input (q_i with g_i = J_i^T q_i) give
// the same covariance limit as the gradients alone, centred or not, and bad ones are rejected
// with a message naming what is wrong.
func TestJSONOutputGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	const n, k, d = 6, 2, 9
	factors := make([][][]float64, n)
	q := make([][]float64, n)
	grads := make([][]float64, n)
	for i := range factors {
		factors[i] = make([][]float64, k)
		q[i] = make([]float64, k)
		grads[i] = make([]float64, d)
		for a := range factors[i] {
			factors[i][a] = make([]float64, d)
			for x := range factors[i][a] {
				factors[i][a][x] = rng.NormFloat64()
			}
			q[i][a] = 0.1 * rng.NormFloat64()
			for x := range grads[i] {
				grads[i][x] += q[i][a] * factors[i][a][x]
			}
		}
	}
	input := func(extra map[string]any, drop ...string) string {
		in := map[string]any{"n": n, "batch_size": 2, "factors": factors,
			"output_hessian": [][]float64{{2, 0.3}, {0.3, 1}}, "gradients": grads, "eta": 1e-3}
		for key, v := range extra {
			in[key] = v
		}
		for _, key := range drop {
			delete(in, key)
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	withQ := map[string]any{"output_gradients": q}
	code, want, errs := runCmd(t, input(nil), "-center-gradients")
	if code != 0 {
		t.Fatalf("without output gradients: %s", errs)
	}
	code, got, errs := runCmd(t, input(withQ), "-center-gradients")
	if code != 0 {
		t.Fatalf("with output gradients: %s", errs)
	}
	wm, _ := keysOf(t, want)
	gm, _ := keysOf(t, got)
	sameLimits(t, wm, gm)
	other := make([][]float64, n)
	for i := range other {
		other[i] = append([]float64(nil), q[i]...)
	}
	other[1][1] += 0.05
	hessians := make([][][]float64, n)
	for i := range hessians {
		hessians[i] = make([][]float64, d)
		for r := range hessians[i] {
			hessians[i][r] = make([]float64, d)
		}
	}
	dense := map[string]any{"hessians": hessians, "output_gradients": q}
	for _, tc := range []struct {
		name, input, want string
	}{
		{"hessians", input(dense, "factors", "output_hessian"), "belong to the factored form"},
		{"no gradients", input(withQ, "gradients"), `without "gradients"`},
		{"rows", input(map[string]any{"output_gradients": q[:n-1]}), "output_gradients has 5 rows, want 6"},
		{"columns", input(map[string]any{"output_gradients": [][]float64{{1}, {1}, {1}, {1}, {1}, {1}}}), "output_gradients: row 0 has 1 entries, want 2"},
		{"case", strings.Replace(input(withQ), "output_gradients", "Output_gradients", 1), `unknown key "Output_gradients"`},
		{"not the gradients'", input(map[string]any{"output_gradients": other}), "do not match the gradients"},
	} {
		code, out, errs := runCmd(t, tc.input, "-center-gradients")
		if code != 1 || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want one containing %q)", tc.name, code, out, errs, tc.want)
		}
	}
}
