package main

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the input decoder; small decoded problems are analysed as
// well. Nothing may panic, and a successful analysis must give finite, ordered numbers that
// encode as JSON. Seed corpus: testdata/fuzz/FuzzDecode plus the inputs below.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"n": 2, "batch_size": 1, "hessians": [[[1]], [[3]]]}`,
		`{"n": 3, "batch_size": 2, "hessians": [[[2, 1], [1, 2]], [[1, 0], [0, 3]], [[0.5, 0], [0, 0]]], "gradients": [[1, 0.5], [-0.5, 0.25], [-0.5, -0.75]], "eta": 0.2}`,
		`{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]], "output_hessian": [[2]]}`,
		`{"n": 2, "batch_size": 2, "factors": [[[1, 0], [0, 1]], [[0, 2], [1, 1]]], "output_hessian": [[2, 0], [0, 1]], "gradients": [[1, 0], [-1, 0]]}`,
		`{"n": 2, "batch_size": 1, "hessians": [[[1, 2], [2, 1]], [[1, 0], [0, 3]]]}`,
		`{"n": 0}`, `[]`, `{"n": 1, "batch_size": 1, "hessians": [[[0]]]}`, `{"n": 1, "batch_size": 1, "hessians": [[[1e300]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decode(b)
		if err != nil {
			if req != nil {
				t.Fatal("request and error")
			}
			return
		}
		var n, d, k int
		if req.Dense != nil {
			n, d, k = req.Dense.N, req.Dense.D, 1
		} else {
			n, d, k = req.Factored.N, req.Factored.D, req.Factored.K
		}
		if len(req.Batches) != 1 || req.Batches[0] < 1 || req.Batches[0] > n {
			t.Fatalf("batches %v accepted for n = %d", req.Batches, n)
		}
		if n > 6 || d > 5 || k > 3 {
			return
		}
		res, err := req.analyzeAll(config{})
		if err != nil {
			return
		}
		rep := res[0].Report
		vals := []float64{rep.P, rep.Sharpness, rep.GDThreshold, rep.GeneralizedSharpness, rep.Bracket[0], rep.Bracket[1],
			rep.EtaStar, rep.Bound15, rep.Bound16, rep.Bound25, rep.Nonuniformity}
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite result %v in %+v", v, vals)
			}
		}
		tol := 1e-9 * rep.Bracket[1]
		if rep.Bracket[0] > rep.GeneralizedSharpness+tol || rep.GeneralizedSharpness > rep.Bracket[1]+tol || rep.Bound25 > rep.GeneralizedSharpness+tol {
			t.Fatalf("ordering violated: bracket %v value %v bound25 %v", rep.Bracket, rep.GeneralizedSharpness, rep.Bound25)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
	})
}
