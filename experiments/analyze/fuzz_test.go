package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
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

// FuzzNumpy feeds arbitrary bytes to the .npz reader's entry point (the same path as -in
// FILE.npz); small decoded problems are analysed. Nothing may panic or allocate beyond what
// the archive's sizes allow, and an accepted input must be shape-consistent.
func FuzzNumpy(f *testing.F) {
	rng := rand.New(rand.NewPCG(91, 92))
	for _, ps := range []bool{false, true} {
		a, _ := testArrays(rng, 3, 2, 3, ps)
		a["batch_size"] = npyArray{dtype: "<i8", shape: []int{2}, data: []float64{1, 3}}
		f.Add(encodeNpz(a, false))
		a["jacobians"] = npyArray{dtype: ">f4", fortran: true, shape: a["jacobians"].shape, data: a["jacobians"].data}
		f.Add(encodeNpz(a, true))
	}
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := npzMembers(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		req, err := decodeNumpy(ms)
		if err != nil {
			if req != nil {
				t.Fatal("request and error")
			}
			return
		}
		n := req.n()
		for _, bs := range req.Batches {
			if bs < 1 || bs > n {
				t.Fatalf("batch %d accepted for n = %d", bs, n)
			}
		}
		if fa := req.Factored; fa != nil {
			if len(fa.Factors) != n || len(fa.Factors[0]) != fa.K*fa.D {
				t.Fatalf("factors of inconsistent shape")
			}
			if n*fa.K > 12 || fa.D > 6 {
				return
			}
		} else if n > 6 || req.Dense.D > 5 {
			return
		}
		if len(req.Batches) == 0 {
			req.Batches = []int{1}
		}
		res, err := req.analyzeAll(config{ignore: true})
		if err != nil {
			return
		}
		for _, r := range res {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("report does not encode: %v", err)
			}
		}
	})
}
