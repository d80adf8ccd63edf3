package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npyArray is a test array: values in row-major order, written as dtype (e.g. "<f8", ">f4",
// "<i8") in C or Fortran order.
type npyArray struct {
	dtype   string
	fortran bool
	shape   []int
	data    []float64
}

// encodeNpy writes a .npy file of format version 1.0 the way numpy does (independent of the
// reader under test).
func encodeNpy(a npyArray) []byte {
	shape := "("
	for _, s := range a.shape {
		shape += fmt.Sprintf("%d, ", s)
	}
	if len(a.shape) > 0 {
		shape = strings.TrimSuffix(shape, " ")
		if len(a.shape) > 1 {
			shape = strings.TrimSuffix(shape, ",")
		}
	}
	shape += ")"
	fo := "False"
	if a.fortran {
		fo = "True"
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", a.dtype, fo, shape)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	var order binary.ByteOrder = binary.LittleEndian
	if a.dtype[0] == '>' {
		order = binary.BigEndian
	}
	// file order: C, or Fortran (first index fastest)
	n := len(a.data)
	for t := 0; t < n; t++ {
		off := t
		if a.fortran { // t-th element in Fortran order: index (t % s_0, (t / s_0) % s_1, ...)
			off = 0
			rest, st := t, n
			for _, s := range a.shape {
				st /= s // row-major stride of this dimension
				off += (rest % s) * st
				rest /= s
			}
		}
		writeOne(&b, order, a.dtype, a.data[off])
	}
	return b.Bytes()
}

func writeOne(b *bytes.Buffer, order binary.ByteOrder, dtype string, v float64) {
	switch dtype[1:] {
	case "f8":
		binary.Write(b, order, v)
	case "f4":
		binary.Write(b, order, float32(v))
	case "i8":
		binary.Write(b, order, int64(v))
	case "i4":
		binary.Write(b, order, int32(v))
	default:
		panic("test dtype " + dtype)
	}
}

// encodeNpz writes the arrays as a zip of NAME.npy members (deflated when deflate is set).
func encodeNpz(arrays map[string]npyArray, deflate bool) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, name := range numpyArrays {
		a, ok := arrays[name]
		if !ok {
			continue
		}
		m := zip.Store
		if deflate {
			m = zip.Deflate
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: m})
		if err != nil {
			panic(err)
		}
		w.Write(encodeNpy(a))
	}
	z.Close()
	return b.Bytes()
}

// testCase is a small cross-entropy-like problem with per-sample M_i and its JSON twin
// (factors M_i^{1/2} J_i with M = I give the same H_i: checked through the JSON path).
func testArrays(rng *rand.Rand, n, k, d int, perSample bool) (map[string]npyArray, []byte) {
	j := make([]float64, n*k*d)
	for x := range j {
		j[x] = rng.NormFloat64()
	}
	m := []float64{}
	mShape := []int{k, k}
	if perSample {
		mShape = []int{n, k, k}
	}
	nm := 1
	if perSample {
		nm = n
	}
	// M_i = a_i a_i^T + diag: PSD; keep it simple and diagonal so that its root is obvious
	roots := make([][]float64, nm)
	for i := 0; i < nm; i++ {
		roots[i] = make([]float64, k)
		for a := 0; a < k; a++ {
			roots[i][a] = 0.5 + rng.Float64()
			for b := 0; b < k; b++ {
				v := 0.0
				if a == b {
					v = roots[i][a] * roots[i][a]
				}
				m = append(m, v)
			}
		}
	}
	arrays := map[string]npyArray{
		"jacobians":      {dtype: "<f8", shape: []int{n, k, d}, data: j},
		"output_hessian": {dtype: "<f8", shape: mShape, data: m},
	}
	// JSON twin: factors root_i J_i, output_hessian I
	var factors [][][]float64
	for i := 0; i < n; i++ {
		r := roots[0]
		if perSample {
			r = roots[i]
		}
		var fi [][]float64
		for a := 0; a < k; a++ {
			row := make([]float64, d)
			for c := 0; c < d; c++ {
				row[c] = r[a] * j[(i*k+a)*d+c]
			}
			fi = append(fi, row)
		}
		factors = append(factors, fi)
	}
	eye := make([][]float64, k)
	for a := range eye {
		eye[a] = make([]float64, k)
		eye[a][a] = 1
	}
	js, _ := json.Marshal(map[string]any{"n": n, "batch_size": 1, "factors": factors, "output_hessian": eye})
	return arrays, js
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func parseLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		res = append(res, m)
	}
	return res
}

// The npz reader against the JSON path: every dtype, order, shared or per-sample M, archive or
// directory gives the JSON input's numbers.
func TestNumpyInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	for _, perSample := range []bool{false, true} {
		arrays, js := testArrays(rng, 5, 3, 7, perSample)
		code, want, errs := runCmd(t, string(js), "-batch", "1,2,5")
		if code != 0 {
			t.Fatalf("JSON twin: %s", errs)
		}
		for _, v := range []struct {
			dtype   string
			fortran bool
			deflate bool
			dir     bool
		}{{"<f8", false, false, false}, {"<f8", true, true, false}, {">f8", true, false, true}, {">f8", false, true, true}} {
			a := map[string]npyArray{}
			for name, x := range arrays {
				x.dtype, x.fortran = v.dtype, v.fortran
				a[name] = x
			}
			var path string
			if v.dir {
				path = t.TempDir()
				for name, x := range a {
					if err := os.WriteFile(filepath.Join(path, name+".npy"), encodeNpy(x), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				path = writeTemp(t, "in.npz", encodeNpz(a, v.deflate))
			}
			code, out, errs := runCmd(t, "", "-in", path, "-batch", "1,2,5")
			if code != 0 {
				t.Fatalf("%+v per-sample %v: exit %d: %s", v, perSample, code, errs)
			}
			got, exp := parseLines(t, out), parseLines(t, want)
			for i := range exp {
				for _, key := range []string{"sharpness", "generalized_sharpness", "eta_star", "bound15", "bound16"} {
					g, w := got[i][key].(float64), exp[i][key].(float64)
					if math.Abs(g-w) > 1e-12*math.Abs(w) {
						t.Errorf("%+v per-sample %v B=%v %s: npz %v, JSON %v", v, perSample, got[i]["batch_size"], key, g, w)
					}
				}
			}
		}
	}
}

// float32 input is widened exactly: its numbers equal those of the float64 file holding the
// rounded values.
func TestNumpyFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(83, 84))
	arrays, _ := testArrays(rng, 4, 2, 5, true)
	a32, a64 := map[string]npyArray{}, map[string]npyArray{}
	for name, x := range arrays {
		r := make([]float64, len(x.data))
		for i, v := range x.data {
			r[i] = float64(float32(v))
		}
		a32[name] = npyArray{dtype: "<f4", shape: x.shape, data: r}
		a64[name] = npyArray{dtype: "<f8", shape: x.shape, data: r}
	}
	_, o32, e32 := runCmd(t, "", "-in", writeTemp(t, "a.npz", encodeNpz(a32, false)), "-batch", "2")
	_, o64, e64 := runCmd(t, "", "-in", writeTemp(t, "b.npz", encodeNpz(a64, false)), "-batch", "2")
	if o32 == "" || o32 != o64 {
		t.Errorf("float32 and float64 files differ:\n%s%s\n%s%s", o32, e32, o64, e64)
	}
}

func TestNumpyBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(85, 86))
	base, _ := testArrays(rng, 3, 2, 4, true)
	mod := func(f func(a map[string]npyArray)) []byte {
		a := map[string]npyArray{}
		for k, v := range base {
			v.data = append([]float64(nil), v.data...)
			a[k] = v
		}
		f(a)
		return encodeNpz(a, false)
	}
	good := encodeNpz(base, false)
	notPSD := mod(func(a map[string]npyArray) { a["output_hessian"].data[4] = -1 })
	nan := mod(func(a map[string]npyArray) { a["jacobians"].data[5] = math.NaN() })
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/3] ^= 0xff // inside the jacobians data: the zip checksum fails
	for _, tc := range []struct {
		name string
		file []byte
		args []string
		want string
	}{
		{"missing jacobians", mod(func(a map[string]npyArray) { delete(a, "jacobians") }), nil, `missing array "jacobians"`},
		{"missing M", mod(func(a map[string]npyArray) { delete(a, "output_hessian") }), nil, `missing array "output_hessian"`},
		{"M shape", mod(func(a map[string]npyArray) { x := a["output_hessian"]; x.shape = []int{2, 6}; a["output_hessian"] = x }), nil, "output_hessian has shape [2 6]"},
		{"J dims", mod(func(a map[string]npyArray) { x := a["jacobians"]; x.shape = []int{3, 8}; a["jacobians"] = x }), nil, "jacobians has shape [3 8]: want 3 dimensions"},
		{"gradient shape", mod(func(a map[string]npyArray) {
			a["gradients"] = npyArray{dtype: "<f8", shape: []int{3, 3}, data: make([]float64, 9)}
		}), nil, "gradients has shape [3 3]: want (n, d) = (3, 4)"},
		{"int dtype", mod(func(a map[string]npyArray) { x := a["jacobians"]; x.dtype = "<i8"; a["jacobians"] = x }), nil, "jacobians: integer dtype"},
		{"not PSD", notPSD, []string{"-batch", "1"}, "output Hessian 1 is not positive semi-definite"},
		{"NaN", nan, nil, "jacobians: entry [0 1 1] is NaN"},
		{"truncated", good[:len(good)/2], nil, "not a readable .npz"},
		{"corrupt", corrupt, nil, "jacobians"},
		{"empty", []byte("PK\x03\x04"), nil, "not a readable .npz"},
		{"batch too large", good, []string{"-batch", "1,4"}, "batch size 4 outside 1..n = 1..3"},
		{"no batch", good, nil, "no batch size"},
	} {
		args := append([]string{"-in", writeTemp(t, "x.npz", tc.file)}, tc.args...)
		code, out, errs := runCmd(t, "", args...)
		if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want one line containing %q)", tc.name, code, out, errs, tc.want)
		}
	}
}

// sameLimits requires the covariance limit and lambda_gen of the analysis with output gradients
// (got) to be those without (want), to 1e-10, and positive.
func sameLimits(t *testing.T, want, got map[string]any) {
	t.Helper()
	for _, key := range []string{"covariance_trace", "expected_loss", "expected_grad_norm2", "generalized_sharpness"} {
		w, ok := want[key].(float64)
		if !ok || !(w > 0) {
			t.Fatalf("%s = %v without output gradients: the case tests nothing", key, want[key])
		}
		if g, _ := got[key].(float64); !(math.Abs(g-w) <= 1e-10*w) {
			t.Errorf("%s: %v with output gradients, %v without", key, got[key], w)
		}
	}
}

// output_gradients (q_i with g_i = J_i^T q_i, as scripts/export_curvature.py writes them) give
// the covariance limit of the gradients alone; -ignore-gradients drops them with the gradients;
// they are rejected with hessians, without gradients, in the wrong shape, or when g_i is not
// J_i^T q_i.
func TestNumpyOutputGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(87, 88))
	const n, k, d = 6, 2, 9
	arrays, _ := testArrays(rng, n, k, d, true)
	j := arrays["jacobians"].data
	q := make([]float64, n*k)
	for i := range q {
		q[i] = 0.1 * rng.NormFloat64()
	}
	g := make([]float64, n*d)
	for i := 0; i < n; i++ {
		for a := 0; a < k; a++ {
			for x := 0; x < d; x++ {
				g[i*d+x] += q[i*k+a] * j[(i*k+a)*d+x]
			}
		}
	}
	with := func(extra map[string]npyArray, drop ...string) string {
		a := map[string]npyArray{"gradients": {dtype: "<f8", shape: []int{n, d}, data: g}}
		for name, x := range arrays {
			a[name] = x
		}
		for name, x := range extra {
			a[name] = x
		}
		for _, name := range drop {
			delete(a, name)
		}
		return writeTemp(t, "in.npz", encodeNpz(a, false))
	}
	qa := npyArray{dtype: "<f8", shape: []int{n, k}, data: q}
	args := []string{"-batch", "2", "-eta", "1e-3"}
	code, want, errs := runCmd(t, "", append([]string{"-in", with(nil)}, args...)...)
	if code != 0 {
		t.Fatalf("without output gradients: %s", errs)
	}
	code, got, errs := runCmd(t, "", append([]string{"-in", with(map[string]npyArray{"output_gradients": qa})}, args...)...)
	if code != 0 {
		t.Fatalf("with output gradients: %s", errs)
	}
	sameLimits(t, parseLines(t, want)[0], parseLines(t, got)[0])
	if code, out, errs := runCmd(t, "", "-in", with(map[string]npyArray{"output_gradients": qa}), "-batch", "2", "-ignore-gradients"); code != 0 || strings.Contains(out, "covariance_trace") {
		t.Errorf("-ignore-gradients with output gradients: exit %d, %s%s", code, out, errs)
	}
	other := append([]float64(nil), q...)
	other[3] += 0.05
	dense := map[string]npyArray{"hessians": {dtype: "<f8", shape: []int{n, d, d}, data: make([]float64, n*d*d)}, "output_gradients": qa}
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"hessians", with(dense, "jacobians", "output_hessian"), "belong to the factored form"},
		{"no gradients", with(map[string]npyArray{"output_gradients": qa}, "gradients"), `without "gradients"`},
		{"shape", with(map[string]npyArray{"output_gradients": {dtype: "<f8", shape: []int{k, n}, data: q}}), "output_gradients has shape [2 6]"},
		{"not the gradients'", with(map[string]npyArray{"output_gradients": {dtype: "<f8", shape: []int{n, k}, data: other}}), "do not match the gradients"},
	} {
		code, out, errs := runCmd(t, "", append([]string{"-in", tc.path}, args...)...)
		if code != 1 || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want one containing %q)", tc.name, code, out, errs, tc.want)
		}
	}
}
