//go:build openblas

package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
)

// TestKernelSelection checks that the generic fallback kernels are not left in use on a
// processor with a wider instruction set (the case betterCore exists for), and that an explicit
// OPENBLAS_CORETYPE or a recognized processor is left alone.
func TestKernelSelection(t *testing.T) {
	t.Logf("OpenBLAS detected %q, in use %q (%s)", detected, kernel, Backend())
	if want := betterCore(detected, os.Getenv("OPENBLAS_CORETYPE")); want != "" && kernel != want {
		t.Errorf("OpenBLAS fell back to %q, kernel set %q was wanted, %q is in use", detected, want, kernel)
	}
	if got := betterCore("Prescott", "Prescott"); got != "" {
		t.Errorf("an explicit OPENBLAS_CORETYPE was overridden by %q", got)
	}
	for _, core := range []string{"Haswell", "SkylakeX", "Cooperlake", "Zen"} {
		if got := betterCore(core, ""); got != "" {
			t.Errorf("detected %q replaced by %q", core, got)
		}
	}
}

// TestKernelProducts compares OpenBLAS's matrix products (level 3 and 2, with the kernel set in
// use) with gonum's pure-Go ones on sizes that exercise the blocked code paths and the edges.
func TestKernelProducts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ref := gonumblas.Implementation{}
	for _, sz := range [][3]int{{1, 1, 1}, {7, 5, 3}, {64, 64, 64}, {300, 257, 129}, {513, 40, 700}} {
		m, k, n := sz[0], sz[1], sz[2]
		a, b := make([]float64, m*k), make([]float64, k*n)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		got, want := make([]float64, m*n), make([]float64, m*n)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, blas64.General{Rows: m, Cols: k, Stride: k, Data: a},
			blas64.General{Rows: k, Cols: n, Stride: n, Data: b}, 0, blas64.General{Rows: m, Cols: n, Stride: n, Data: got})
		ref.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12*float64(k) {
				t.Fatalf("Gemm %dx%dx%d: entry %d = %v, pure Go %v", m, k, n, i, got[i], want[i])
			}
		}
		x, y, yref := b[:k], make([]float64, m), make([]float64, m)
		blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: m, Cols: k, Stride: k, Data: a}, blas64.Vector{N: k, Inc: 1, Data: x}, 0, blas64.Vector{N: m, Inc: 1, Data: y})
		ref.Dgemv(blas.NoTrans, m, k, 1, a, k, x, 1, 0, yref, 1)
		for i := range y {
			if math.Abs(y[i]-yref[i]) > 1e-12*float64(k) {
				t.Fatalf("Gemv %dx%d: entry %d = %v, pure Go %v", m, k, i, y[i], yref[i])
			}
		}
	}
}

// TestThreadTimeout checks that the thread pool was restarted with threadTimeout (unless the
// environment sets OPENBLAS_THREAD_TIMEOUT) and still computes a product large enough to be
// split between its threads.
func TestThreadTimeout(t *testing.T) {
	if v, set := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); set {
		if threadTimeoutSet != 0 {
			t.Errorf("OPENBLAS_THREAD_TIMEOUT=%s in the environment, but the pool was restarted with %d", v, threadTimeoutSet)
		}
	} else if threadTimeoutSet == 0 {
		t.Log("the OpenBLAS library has no thread server entry points (an OpenMP build?): timeout left alone")
	} else if want := threadTimeout; fmt.Sprint(threadTimeoutSet) != want {
		t.Errorf("thread timeout in effect %d, want %s", threadTimeoutSet, want)
	}
	const n = 512
	rng := rand.New(rand.NewPCG(7, 8))
	a := make([]float64, n*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	got, want := make([]float64, n*n), make([]float64, n*n)
	g := func(d []float64) blas64.General { return blas64.General{Rows: n, Cols: n, Stride: n, Data: d} }
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, g(a), g(a), 0, g(got))
	gonumblas.Implementation{}.Dgemm(blas.NoTrans, blas.Trans, n, n, n, 1, a, n, a, n, 0, want, n)
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12*n {
			t.Fatalf("Gemm %d^3 after the restart: entry %d = %v, pure Go %v", n, i, got[i], want[i])
		}
	}
}
