package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestMemoryEstimate checks the formula against a count by hand at the shapes of the paper's
// runs and the saturation at absurd shapes.
func TestMemoryEstimate(t *testing.T) {
	// n = 512, k = 4, d = 15,784: nk = r = 2048, m = 2048*2049/2 = 2,098,176, b = 80.
	n, k, d := 512.0, 4.0, 15784.0
	nk, r := n*k, 2048.0
	m := r * (r + 1) / 2
	want := 8 * (nk*d + n*d + 4*nk*nk + 512*nk + 4*nk*r + n*r + 17*r*r + 86*m + 1.5*nk*r + 0.5*r*r)
	if got := float64(MemoryEstimate(512, 4, 15784, true)); got != want {
		t.Errorf("factored estimate %g, want %g", got, want)
	}
	// dense n = 3, d = 4: r = 4, m = 10, b = min(max(floor(1.5e9/80), 10), 80, 10) = 10, 6 Ritz pairs
	want = 8 * (2*3*16 + 3*16 + 3*4 + 3*16 + 2*16 + 17*16 + 16*10)
	if got := float64(MemoryEstimate(3, 0, 4, false)); got != want {
		t.Errorf("dense estimate %g, want %g", got, want)
	}
	// hidden = 1e9: the factors alone are 512 * 4 * 7.89e11 floats = 1.6e16 bytes
	if got := MemoryEstimate(512, 4, 789*1_000_000_000+4, true); got < 1.6e16 {
		t.Errorf("hidden = 1e9: estimate %d is below the factors' size", got)
	}
	if got := MemoryEstimate(1<<40, 1<<20, 1<<40, true); got != math.MaxUint64 {
		t.Errorf("absurd shapes: estimate %d, want saturation", got)
	}
	if a, b := MemoryEstimate(100, 4, 1000, true), MemoryEstimate(200, 4, 1000, true); !(a < b) {
		t.Errorf("estimate does not grow with n: %d, %d", a, b)
	}
}

// TestMemoryRefused: shapes whose estimate exceeds the limit are refused by both entry points
// before anything is allocated (the inputs below hold no data at all) with the estimate, the
// limit and how to raise it; the default limit is a fraction of the machine's memory.
func TestMemoryRefused(t *testing.T) {
	def, from := MemoryLimit()
	if total := machineMemory(); total > 0 && (def != total/4*3 || !strings.Contains(from, "3/4")) {
		t.Errorf("default limit %d (%s), machine %d", def, from, total)
	}
	SetMemoryLimit(1 << 20)
	defer SetMemoryLimit(0)
	for name, call := range map[string]func() error{
		"factored": func() error {
			_, err := AnalyzeFactored(&Factored{N: 30000, K: 1, D: 30000}, 1, Options{})
			return err
		},
		"dense": func() error { _, err := AnalyzeDense(&Dense{N: 10, D: 1000}, 1, Options{}); return err },
	} {
		err := call()
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		for _, want := range []string{"needs about", "above the limit of 1.05 MB", "-max-memory", "SetMemoryLimit"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", name, err, want)
			}
		}
	}
	if err := CheckMemory(30000, 1, 30000, true); err == nil || !strings.Contains(err.Error(), "274 GB") || !strings.Contains(err.Error(), "Gram matrix") {
		// d = nk: the Gram path. The Gram matrix alone is 7.2 GB, 28.8 GB with a given one, its
		// eigenvectors and the eigensolver's workspace; the r x r matrices (r = 30000) add
		// 17 x 7.2 GB, the single-precision copies 2 x 7.2 GB and the Lanczos basis (10 vectors
		// of r(r+1)/2) with 6 Ritz vectors 58 GB
		t.Errorf("n = 30000, k = 1, d = 30000: %v", err)
	}
	// a small problem fits under the small limit and is analysed
	in := randDense(rand.New(rand.NewPCG(3, 4)), problemSpec{n: 5, d: 4, k: 1})
	if _, err := AnalyzeDense(in, 2, Options{}); err != nil {
		t.Errorf("small problem: %v", err)
	}
}
