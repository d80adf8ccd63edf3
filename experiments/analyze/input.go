package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/sgdstability/sgdstab/analysis"
)

// fileInput is the JSON input of -in (see the package comment).
type fileInput struct {
	N             *int          `json:"n"`
	BatchSize     *int          `json:"batch_size"`
	Hessians      [][][]float64 `json:"hessians"`
	Factors       [][][]float64 `json:"factors"`
	OutputHessian [][]float64   `json:"output_hessian"`
	Gradients     [][]float64   `json:"gradients"`
	OutputGrads   [][]float64   `json:"output_gradients"`
	Eta           *float64      `json:"eta"`
}

// request is a decoded, shape-checked input: exactly one of Dense and Factored is set.
type request struct {
	Dense    *analysis.Dense
	Factored *analysis.Factored
	Batches  []int   // batch sizes of the input file (nil: not given, -batch must say)
	Eta      float64 // 0: not given
	// numpy: read from NumPy arrays (an exporter's output at a trained minimum), whose gradients
	// are centred by default as with -run
	numpy bool
}

func (req *request) n() int {
	if req.Dense != nil {
		return req.Dense.N
	}
	return req.Factored.N
}

// setGradients sets the gradients; nil also drops the output gradients that come with them.
func (req *request) setGradients(g [][]float64) {
	if req.Dense != nil {
		req.Dense.Gradients = g
	} else {
		req.Factored.Gradients = g
		if g == nil {
			req.Factored.OutputGradients = nil
		}
	}
}

func (req *request) gradients() [][]float64 {
	if req.Dense != nil {
		return req.Dense.Gradients
	}
	return req.Factored.Gradients
}

// jsonKeys are the keys of the JSON input, matched exactly (encoding/json alone would also take
// "N" for "n").
var jsonKeys = []string{"n", "batch_size", "hessians", "factors", "output_hessian", "gradients", "output_gradients", "eta"}

// checkJSON walks the tokens of the input before it is decoded and rejects what encoding/json
// would let through silently: a key that matches a known key only up to case, a key given
// twice (the last would win), and null anywhere (a null number would decode as 0), each named
// by its top-level key.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil // not an object: the decoder gives the message
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		for _, k := range jsonKeys {
			if key != k && strings.EqualFold(key, k) {
				return fmt.Errorf("unknown key %q (keys are case-sensitive: %q)", key, k)
			}
		}
		if seen[key] {
			return fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		depth := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil
			}
			switch tok {
			case nil:
				return fmt.Errorf("%q contains null (want a number)", key)
			case json.Delim('['), json.Delim('{'):
				depth++
			case json.Delim(']'), json.Delim('}'):
				depth--
			}
			if depth == 0 {
				break
			}
		}
	}
	return nil
}

// decode parses and shape-checks an input file. Numerical checks (symmetry, PSD, zero mean of
// the gradients, eta below eta*) are done by package analysis.
func decode(data []byte) (*request, error) {
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in fileInput
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("input is not valid JSON of the expected form: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("input has data after the JSON object")
	}
	if in.N == nil {
		return nil, fmt.Errorf(`input lacks "n"`)
	}
	if in.BatchSize == nil {
		return nil, fmt.Errorf(`input lacks "batch_size"`)
	}
	n, b := *in.N, *in.BatchSize
	if n < 1 {
		return nil, fmt.Errorf("n = %d must be at least 1", n)
	}
	if b < 1 || b > n {
		return nil, fmt.Errorf("batch_size %d outside 1..n = 1..%d", b, n)
	}
	req := &request{Batches: []int{b}}
	if in.Eta != nil {
		if !(*in.Eta > 0) || math.IsInf(*in.Eta, 0) {
			return nil, fmt.Errorf("eta = %v must be positive and finite (the covariance limit needs 0 < eta < eta*)", *in.Eta)
		}
		req.Eta = *in.Eta
	}
	switch {
	case in.Hessians != nil && in.Factors != nil:
		return nil, fmt.Errorf(`input has both "hessians" and "factors": give one form`)
	case in.Hessians == nil && in.Factors == nil:
		return nil, fmt.Errorf(`input has neither "hessians" nor "factors"`)
	case in.Hessians != nil && in.OutputHessian != nil:
		return nil, fmt.Errorf(`"output_hessian" belongs to the factored form, not to "hessians"`)
	}
	var d int
	if in.Hessians != nil {
		if len(in.Hessians) != n {
			return nil, fmt.Errorf("n = %d but %d Hessians given", n, len(in.Hessians))
		}
		d = len(in.Hessians[0])
		if d == 0 {
			return nil, errors.New("hessians[0] is empty")
		}
		dn := &analysis.Dense{N: n, D: d}
		for i, h := range in.Hessians {
			flat, err := flatten(h, d, d, fmt.Sprintf("Hessian %d", i))
			if err != nil {
				return nil, err
			}
			dn.Hessians = append(dn.Hessians, flat)
		}
		req.Dense = dn
	} else {
		if len(in.Factors) != n {
			return nil, fmt.Errorf("n = %d but %d factors given", n, len(in.Factors))
		}
		k := len(in.Factors[0])
		if k == 0 || len(in.Factors[0][0]) == 0 {
			return nil, fmt.Errorf("factor 0 is empty (want k x d)")
		}
		d = len(in.Factors[0][0])
		if in.OutputHessian == nil {
			return nil, fmt.Errorf(`factored input lacks "output_hessian" (k x k)`)
		}
		m, err := flatten(in.OutputHessian, k, k, "output_hessian")
		if err != nil {
			return nil, err
		}
		f := &analysis.Factored{N: n, K: k, D: d, OutputHessian: m}
		for i, j := range in.Factors {
			flat, err := flatten(j, k, d, fmt.Sprintf("factor %d", i))
			if err != nil {
				return nil, err
			}
			f.Factors = append(f.Factors, flat)
		}
		req.Factored = f
	}
	if in.Gradients != nil {
		if len(in.Gradients) != n {
			return nil, fmt.Errorf("n = %d but %d gradients given", n, len(in.Gradients))
		}
		for i, g := range in.Gradients {
			if len(g) != d {
				return nil, fmt.Errorf("gradient %d has length %d, want d = %d", i, len(g), d)
			}
		}
		req.setGradients(in.Gradients)
	}
	if in.OutputGrads != nil {
		switch {
		case req.Factored == nil:
			return nil, errors.New(`"output_gradients" belong to the factored form, not to "hessians"`)
		case in.Gradients == nil:
			return nil, errors.New(`"output_gradients" given without "gradients"`)
		}
		q, err := flatten(in.OutputGrads, n, req.Factored.K, "output_gradients")
		if err != nil {
			return nil, err
		}
		req.Factored.OutputGradients = q
	}
	return req, nil
}

// flatten checks that m is rows x cols and returns it row-major.
func flatten(m [][]float64, rows, cols int, what string) ([]float64, error) {
	if len(m) != rows {
		return nil, fmt.Errorf("%s has %d rows, want %d", what, len(m), rows)
	}
	out := make([]float64, 0, rows*cols)
	for r, row := range m {
		if len(row) != cols {
			return nil, fmt.Errorf("%s: row %d has %d entries, want %d", what, r, len(row), cols)
		}
		out = append(out, row...)
	}
	return out, nil
}
