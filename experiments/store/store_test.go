package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

type trainSettings struct {
	Hidden     int     `json:"hidden"`
	InitFactor float64 `json:"init_factor"`
	InitSeed   uint64  `json:"init_seed"`
	LR         float64 `json:"lr"`
	Batch      int     `json:"batch"`
	Seed       uint64  `json:"seed"`
}

type analysisSettings struct {
	Eta  float64 `json:"eta"`
	Seed uint64  `json:"seed"`
}

func spec(t *testing.T, lr float64, batch int, seed uint64) Spec {
	t.Helper()
	s, err := NewSpec(data.DefaultSelection(), 512,
		trainSettings{Hidden: 20, InitFactor: 1, InitSeed: 3, LR: lr, Batch: batch, Seed: seed},
		analysisSettings{Eta: lr, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyIdentity(t *testing.T) {
	a := spec(t, 0.01, 8, 1)
	if a.Key() != spec(t, 0.01, 8, 1).Key() {
		t.Fatal("equal specs give different keys")
	}
	sel := data.DefaultSelection()
	sel.Dir = "/somewhere/else"
	moved, _ := NewSpec(sel, 512, trainSettings{Hidden: 20, InitFactor: 1, InitSeed: 3, LR: 0.01, Batch: 8, Seed: 1}, analysisSettings{Eta: 0.01, Seed: 1})
	if moved.Key() != a.Key() {
		t.Error("the MNIST directory changed the key")
	}
	others := map[string]Spec{
		"lr":    spec(t, 0.02, 8, 1),
		"batch": spec(t, 0.01, 16, 1),
		"seed":  spec(t, 0.01, 8, 2),
	}
	s := a
	s.Data.PerClass = 64
	others["data"] = s
	s = a
	s.Format++
	others["format"] = s
	s = a
	s.Analysis = json.RawMessage(`{"eta":0.01,"seed":2}`)
	others["analysis"] = s
	s = a
	s.Train = json.RawMessage(strings.Replace(string(a.Train), `"init_seed":3`, `"init_seed":4`, 1))
	others["init_seed"] = s
	seen := map[string]string{a.Key(): "base"}
	for name, o := range others {
		k := o.Key()
		if prev, dup := seen[k]; dup {
			t.Errorf("changing %s gives the key of %s", name, prev)
		}
		seen[k] = name
		if len(k) != 64 {
			t.Errorf("key %q is not a hex SHA-256", k)
		}
	}
}

func record(t *testing.T, lr float64, batch int) *Record {
	return &Record{
		Spec: spec(t, lr, batch, 1), Status: "converged", Epochs: 300, Steps: 19200,
		FinalLoss: 3e-7, LossCurve: []jsonfloat.Float{1, 0.5, 3e-7}, TrainSeconds: 1.5,
		Analysis:         json.RawMessage(`{"p":0.5,"sharpness":10,"gd_threshold":0.2,"generalized_sharpness":40,"generalized_sharpness_bracket":[39.5,40.5],"eta_star":0.05,"bound15":20,"bound16":15,"bound25":30,"nonuniformity":2,"covariance_trace":null,"diagnostics":{"iters":3}}`),
		HessianSharpness: jsonfloat.Ptr(10.001), ResidualRel: jsonfloat.Ptr(1e-4), AnalysisSeconds: 0.25,
	}
}

func TestPutGet(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, 0.01, 8)
	key := r.Spec.Key()
	if _, err := st.Get(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put: %v", err)
	}
	if err := st.Put(r, nil); err != nil {
		t.Fatal(err)
	}
	if r.Key != key || r.Checksum == "" {
		t.Fatalf("Put did not seal: key %q checksum %q", r.Key, r.Checksum)
	}
	got, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epochs != 300 || float64(got.FinalLoss) != 3e-7 || float64(*got.HessianSharpness) != 10.001 || !bytes.Equal(got.Spec.Train, r.Spec.Train) {
		t.Errorf("round trip changed the record: %+v", got)
	}
	// Nothing but the record in its directory (no temporary file left).
	ents, _ := os.ReadDir(filepath.Dir(st.Path(key)))
	if len(ents) != 1 {
		t.Errorf("%d files beside the record", len(ents)-1)
	}

	// Non-finite losses survive.
	d := record(t, 0.5, 1)
	d.Status, d.FinalLoss, d.LossCurve, d.Analysis = "diverged", jsonfloat.Float(math.Inf(1)), []jsonfloat.Float{1, jsonfloat.Float(math.NaN())}, nil
	d.HessianSharpness, d.ResidualRel = nil, nil
	if err := st.Put(d, nil); err != nil {
		t.Fatal(err)
	}
	gd, err := st.Get(d.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(gd.FinalLoss), 1) || !math.IsNaN(float64(gd.LossCurve[1])) {
		t.Errorf("non-finite values: %v %v", gd.FinalLoss, gd.LossCurve)
	}
}

func TestCorruptRecords(t *testing.T) {
	st, _ := Open(t.TempDir())
	r := record(t, 0.01, 8)
	if err := st.Put(r, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(st.Path(r.Key))
	other := record(t, 0.02, 8)
	if err := st.Put(other, nil); err != nil {
		t.Fatal(err)
	}
	otherRaw, _ := os.ReadFile(st.Path(other.Key))

	// A tampered spec with a recomputed checksum: only the key check can catch it.
	var tampered Record
	json.Unmarshal(good, &tampered)
	tampered.Spec.N = 256
	tampered.Checksum = ""
	b, _ := json.Marshal(&tampered)
	tampered.Checksum = sha(b)
	tamperedRaw, _ := json.Marshal(&tampered)

	head := fmt.Sprintf(`{"format":%d,`, Format)
	cases := map[string][]byte{
		"empty":           {},
		"truncated":       good[:len(good)/2],
		"not json":        []byte("hello\n"),
		"changed number":  bytes.Replace(good, []byte(`"epochs":300`), []byte(`"epochs":301`), 1),
		"changed status":  bytes.Replace(good, []byte(`"converged"`), []byte(`"diverged"`), 1),
		"other key":       otherRaw,
		"tampered spec":   tamperedRaw,
		"unknown field":   bytes.Replace(good, []byte(head), []byte(head+`"extra":2,`), 1),
		"trailing record": append(slices.Clone(good), good...),
		"old format":      bytes.Replace(good, []byte(head), []byte(`{"format":1,`), 1),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(raw, good) {
				t.Fatal("test case did not change the record")
			}
			if err := os.WriteFile(st.Path(r.Key), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := st.Get(r.Key)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Get = %v, want a CorruptError", err)
			}
			if ce.Path != st.Path(r.Key) || ce.Reason == "" {
				t.Errorf("error %v", ce)
			}
			if name == "old format" && !strings.Contains(ce.Reason, "use a new store directory") {
				t.Errorf("old format: %q does not say what to do", ce.Reason)
			}
		})
	}
	// Quarantine moves the bad file aside; the run then counts as missing.
	moved, err := st.Quarantine(r.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Errorf("quarantined file: %v", err)
	}
	if _, err := st.Get(r.Key); !errors.Is(err, ErrNotFound) {
		t.Errorf("after quarantine Get = %v", err)
	}
}

func TestCleanTemp(t *testing.T) {
	st, _ := Open(t.TempDir())
	dir := filepath.Join(st.Dir, "ab")
	os.MkdirAll(dir, 0o755)
	old := filepath.Join(dir, ".abc.json.tmp-123")
	young := filepath.Join(dir, ".abd.json.tmp-456")
	keep := filepath.Join(dir, "abe.json")
	for _, p := range []string{old, young, keep} {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(keep, past, past)
	n, err := st.CleanTemp(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1 removed", n, err)
	}
	for p, want := range map[string]bool{old: false, young: true, keep: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

// TestSharpnessPathRecord: a record's sharpness path survives the store, non-finite values
// included, and a record without one encodes as records did before the field existed (no
// sharpness_path key), so that their checksums still verify.
func TestSharpnessPathRecord(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, 0.02, 4)
	r.SharpnessPath = &train.SharpnessPath{Epochs: []int{0, 10, 17}, Sharpness: []float64{400, 120, math.NaN()},
		StepSize: []float64{1e-4, 0.01, 0.02}, Residual: []float64{1e-3, 5e-3, math.NaN()}}
	if err := st.Put(r, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(r.Key)
	if err != nil {
		t.Fatal(err)
	}
	sp := got.SharpnessPath
	if sp == nil || !slices.Equal(sp.Epochs, []int{0, 10, 17}) || sp.Sharpness[1] != 120 || !math.IsNaN(sp.Sharpness[2]) || sp.StepSize[0] != 1e-4 {
		t.Errorf("path after the round trip: %+v", sp)
	}
	plain := record(t, 0.02, 8)
	b, err := plain.seal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("sharpness_path")) {
		t.Errorf("a record without tracking mentions a path: %s", b)
	}
}
