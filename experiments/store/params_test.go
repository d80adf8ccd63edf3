package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/train"
)

// readNPY decodes a .npy file by the NumPy format specification (magic, version, header length,
// a Python dict literal, the raw little-endian data), independently of the library that wrote it.
func readNPY(t *testing.T, raw []byte) (descr string, fortran bool, shape []int, data []float64) {
	t.Helper()
	if !bytes.HasPrefix(raw, []byte("\x93NUMPY")) || len(raw) < 12 {
		t.Fatalf("no NumPy magic: %q", raw[:min(len(raw), 12)])
	}
	var hlen, off int
	switch raw[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	case 2, 3:
		hlen, off = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	default:
		t.Fatalf("version %d.%d", raw[6], raw[7])
	}
	header := string(raw[off : off+hlen])
	if !strings.HasSuffix(header, "\n") {
		t.Fatalf("header %q does not end in a newline", header)
	}
	m := regexp.MustCompile(`^\{'descr': '([^']*)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), \}\s*$`).FindStringSubmatch(header)
	if m == nil {
		t.Fatalf("header %q", header)
	}
	for _, f := range strings.Split(m[3], ",") {
		if f = strings.TrimSpace(f); f != "" {
			v, _ := strconv.Atoi(f)
			shape = append(shape, v)
		}
	}
	body := raw[off+hlen:]
	for i := 0; i+8 <= len(body); i += 8 {
		data = append(data, math.Float64frombits(binary.LittleEndian.Uint64(body[i:])))
	}
	if len(body)%8 != 0 {
		t.Fatalf("data of %d bytes", len(body))
	}
	return m[1], m[2] == "True", shape, data
}

func testParams() train.Params {
	// a 5 -> 3 -> 2 network with distinct, non-round values (and a negative zero and a subnormal)
	p := train.InitParams(5, 3, 2, 1.5, 7)
	p.B1[0] = math.Copysign(0, -1)
	p.W2[1] = 5e-324
	return p
}

func TestParamsFile(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, 0.01, 8)
	p := testParams()
	if err := st.Put(r, &p); err != nil {
		t.Fatal(err)
	}
	if r.Params == nil || r.Params.File != r.Key+".npy" || r.Params.Hidden != 3 || r.Params.Inputs != 5 || r.Params.Outputs != 2 {
		t.Fatalf("params reference %+v", r.Params)
	}
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(st.Path(r.Key)), r.Params.File))
	if err != nil {
		t.Fatal(err)
	}
	if sha(raw) != r.Params.SHA256 {
		t.Errorf("record's checksum %s, file's %s", r.Params.SHA256, sha(raw))
	}
	descr, fortran, shape, data := readNPY(t, raw)
	flat := p.Flat()
	if descr != "<f8" || fortran || len(shape) != 1 || shape[0] != len(flat) || len(data) != len(flat) {
		t.Fatalf("npy %s fortran=%v shape %v, %d values; want <f8, shape (%d,)", descr, fortran, shape, len(data), len(flat))
	}
	for i := range flat {
		if math.Float64bits(data[i]) != math.Float64bits(flat[i]) {
			t.Fatalf("value %d: file %v, parameters %v", i, data[i], flat[i])
		}
	}
	// Size: 8 bytes per parameter plus a header of at most 128 bytes (126 KB at h = 20, d = 15,784).
	if len(raw) > 8*len(flat)+128 {
		t.Errorf("params file of %d bytes for %d parameters", len(raw), len(flat))
	}

	got, err := st.Find(r.Spec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := st.Params(got)
	if err != nil {
		t.Fatal(err)
	}
	bf := back.Flat()
	for i := range flat {
		if math.Float64bits(bf[i]) != math.Float64bits(flat[i]) {
			t.Fatalf("round trip changed parameter %d: %v -> %v", i, flat[i], bf[i])
		}
	}
	if back.Hidden != 3 || len(back.W1) != 15 || len(back.B2) != 2 {
		t.Errorf("round trip shapes: %+v", back)
	}
	// A record without parameters says so.
	d := record(t, 0.5, 1)
	if err := st.Put(d, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Params(d); err == nil {
		t.Error("Params of a record without a params file")
	}
}

func TestParamsCorrupt(t *testing.T) {
	p := testParams()
	for _, tc := range []struct {
		name, reason string
		spoil        func(path string, raw []byte) error
	}{
		{"flipped bit", "checksum", func(path string, raw []byte) error {
			raw[len(raw)-3] ^= 1
			return os.WriteFile(path, raw, 0o644)
		}},
		{"truncated", "checksum", func(path string, raw []byte) error { return os.WriteFile(path, raw[:len(raw)/2], 0o644) }},
		{"missing", "missing", func(path string, _ []byte) error { return os.Remove(path) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := Open(t.TempDir())
			r := record(t, 0.01, 8)
			if err := st.Put(r, &p); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(filepath.Dir(st.Path(r.Key)), r.Params.File)
			raw, _ := os.ReadFile(path)
			if err := tc.spoil(path, raw); err != nil {
				t.Fatal(err)
			}
			for what, err := range map[string]error{"Get": errOf(st.Get(r.Key)), "Find": errOf(st.Find(r.Spec)), "Params": errOf(st.Params(r))} {
				var ce *CorruptError
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.reason) {
					t.Errorf("%s = %v, want a CorruptError about %q", what, err, tc.reason)
				}
			}
			// Quarantine moves both files aside; the run is then missing and can be redone.
			if _, err := st.Quarantine(r.Key); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(r.Key); !errors.Is(err, ErrNotFound) {
				t.Errorf("after quarantine: %v", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("params file still in place after quarantine: %v", err)
			}
			if err := st.Put(r, &p); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(r.Key); err != nil {
				t.Errorf("redone run: %v", err)
			}
		})
	}
}

func errOf[T any](_ T, err error) error { return err }

// A kill between the params file and the record leaves a params file without a record: the run
// counts as not done, and redoing it replaces the params file.
func TestParamsWithoutRecord(t *testing.T) {
	st, _ := Open(t.TempDir())
	r := record(t, 0.01, 8)
	r.setKey()
	path := st.paramsPath(r.Key)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("half a file from a killed sweep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find(r.Spec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find with only a params file: %v, want ErrNotFound", err)
	}
	p := testParams()
	if err := st.Put(r, &p); err != nil {
		t.Fatal(err)
	}
	got, err := st.Find(r.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Params(got); err != nil {
		t.Error(err)
	}
}

func TestOldFormatStore(t *testing.T) {
	// A store of format 1: records but no FORMAT file.
	old := t.TempDir()
	os.MkdirAll(filepath.Join(old, "ab"), 0o755)
	os.WriteFile(filepath.Join(old, "ab", "abcdef.json"), []byte(`{"format":1}`), 0o644)
	// A FORMAT file of another format.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "FORMAT"), []byte("sgdstab store format 99\n"), 0o644)
	for name, dir := range map[string]string{"format 1": old, "format 99": other} {
		for what, err := range map[string]error{"Open": errOf(Open(dir)), "CheckFormat": CheckFormat(dir)} {
			if err == nil || !strings.Contains(err.Error(), "use a new store directory (or delete the old one)") || !strings.Contains(err.Error(), dir) {
				t.Errorf("%s: %s = %v, want a refusal naming the directory and what to do", name, what, err)
			}
		}
	}
	// A new store, an empty directory and a missing one are fine; Open marks them.
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new")} {
		if err := CheckFormat(dir); err != nil {
			t.Errorf("CheckFormat(%s): %v", dir, err)
		}
		st, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(record(t, 0.01, 8), nil); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "FORMAT"))
		if string(raw) != fmt.Sprintf("sgdstab store format %d\n", Format) {
			t.Errorf("FORMAT file %q", raw)
		}
		if _, err := Open(dir); err != nil {
			t.Errorf("reopening: %v", err)
		}
	}
}
