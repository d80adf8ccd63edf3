package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/lapack"
	gonumlapack "gonum.org/v1/gonum/lapack/gonum"
)

// randSym returns a random symmetric n x n matrix of the given rank (rank >= n: full rank,
// indefinite), row-major.
func randSym(rng *rand.Rand, n, rank int) []float64 {
	a := make([]float64, n*n)
	if rank >= n {
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := rng.NormFloat64()
				a[i*n+j], a[j*n+i] = v, v
			}
		}
		return a
	}
	for r := 0; r < rank; r++ {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i*n+j] += x[i] * x[j]
			}
		}
	}
	return a
}

func TestBackendMatchesBlas64(t *testing.T) {
	impl := fmt.Sprintf("%T", blas64.Implementation())
	if got := strings.Contains(impl, "netlib"); got != strings.HasPrefix(Backend(), "openblas/") {
		t.Fatalf("Backend()=%q but blas64 implementation is %s", Backend(), impl)
	}
	t.Logf("backend %s, blas64 implementation %s", Backend(), impl)
}

// TestEigSym checks A v = w v, orthonormality and ascending order, and compares the eigenvalues
// with gonum's own Dsyev (an independent algorithm when the backend is LAPACKE's dsyevd).
func TestEigSym(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, rank int }{{1, 1}, {2, 2}, {5, 5}, {7, 3}, {60, 60}, {150, 20}, {300, 300}} {
		a := randSym(rng, tc.n, tc.rank)
		n := tc.n
		norm := 0.0
		for _, v := range a {
			norm = math.Max(norm, math.Abs(v))
		}
		norm *= float64(n)
		vec := append([]float64(nil), a...)
		w := make([]float64, n)
		if err := EigSym(n, vec, w, true); err != nil {
			t.Fatal(err)
		}
		tol := 1e-13 * norm * float64(n)
		for j := 0; j < n; j++ {
			if j > 0 && w[j] < w[j-1] {
				t.Fatalf("n=%d: eigenvalues not ascending at %d", n, j)
			}
			v := vec[j*n : (j+1)*n]
			for i := 0; i < n; i++ {
				s := 0.0
				for k := 0; k < n; k++ {
					s += a[i*n+k] * v[k]
				}
				if math.Abs(s-w[j]*v[i]) > tol {
					t.Fatalf("n=%d: residual of pair %d row %d: %g", n, j, i, s-w[j]*v[i])
				}
			}
			for k := 0; k <= j; k++ {
				d := blas64.Dot(blas64.Vector{N: n, Inc: 1, Data: v}, blas64.Vector{N: n, Inc: 1, Data: vec[k*n : (k+1)*n]})
				want := 0.0
				if k == j {
					want = 1
				}
				if math.Abs(d-want) > 1e-12*float64(n) {
					t.Fatalf("n=%d: <v%d,v%d> = %g", n, j, k, d)
				}
			}
		}
		// values only
		w2 := make([]float64, n)
		if err := EigSym(n, append([]float64(nil), a...), w2, false); err != nil {
			t.Fatal(err)
		}
		// gonum's Dsyev as oracle
		ref := append([]float64(nil), a...)
		wr := make([]float64, n)
		work := make([]float64, 1)
		impl := gonumlapack.Implementation{}
		impl.Dsyev(lapack.EVNone, blas.Upper, n, ref, n, wr, work, -1)
		work = make([]float64, int(work[0]))
		if !impl.Dsyev(lapack.EVNone, blas.Upper, n, ref, n, wr, work, len(work)) {
			t.Fatal("gonum Dsyev failed")
		}
		for j := range wr {
			if math.Abs(w[j]-wr[j]) > tol || math.Abs(w2[j]-wr[j]) > tol {
				t.Fatalf("n=%d: eigenvalue %d: %v (vectors) %v (values) vs gonum %v", n, j, w[j], w2[j], wr[j])
			}
		}
	}
}

func TestEigSymErrors(t *testing.T) {
	if err := EigSym(2, []float64{1, math.NaN(), math.NaN(), 1}, make([]float64, 2), false); err == nil {
		t.Fatal("NaN input accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("short slice did not panic")
		}
	}()
	_ = EigSym(3, make([]float64, 8), make([]float64, 3), false)
}

// TestGemmAgreesWithPureGo compares blas64 (OpenBLAS with the tag) with gonum's pure-Go BLAS.
func TestGemmAgreesWithPureGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, k, n := 130, 257, 70
	a := make([]float64, m*k)
	b := make([]float64, n*k)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	c1 := make([]float64, m*n)
	c2 := make([]float64, m*n)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1,
		blas64.General{Rows: m, Cols: k, Stride: k, Data: a},
		blas64.General{Rows: n, Cols: k, Stride: k, Data: b}, 0,
		blas64.General{Rows: m, Cols: n, Stride: n, Data: c1})
	gonumblas.Implementation{}.Dgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, b, k, 0, c2, n)
	for i := range c1 {
		if math.Abs(c1[i]-c2[i]) > 1e-12*math.Sqrt(float64(k)) {
			t.Fatalf("entry %d: %v vs %v", i, c1[i], c2[i])
		}
	}
}

func BenchmarkEigSym512(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := randSym(rng, 512, 512)
	w := make([]float64, 512)
	buf := make([]float64, len(a))
	for b.Loop() {
		copy(buf, a)
		if err := EigSym(512, buf, w, true); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPositiveDefinite: random positive definite matrices (up to the blocked sizes of both
// backends) are, with L L^T = a in the lower triangle afterwards and the upper triangle never
// read (NaN there); the same matrices shifted to one slightly negative eigenvalue are not.
func TestPositiveDefinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 2, 7, 130, 300} {
		q := randSym(rng, n, n)
		w := make([]float64, n)
		if err := EigSym(n, q, w, true); err != nil {
			t.Fatal(err)
		}
		for _, lowest := range []float64{1e-3, -1e-6} {
			// a = Q^T diag(d) Q with d from lowest to 1
			a := make([]float64, n*n)
			for k := 0; k < n; k++ {
				d := lowest + (1-lowest)*float64(k)/float64(max(1, n-1))
				if n == 1 {
					d = lowest
				}
				row := q[k*n : (k+1)*n]
				for i := 0; i < n; i++ {
					for j := 0; j < n; j++ {
						a[i*n+j] += d * row[i] * row[j]
					}
				}
			}
			f := append([]float64(nil), a...)
			for i := 0; i < n; i++ {
				for j := i + 1; j < n; j++ {
					f[i*n+j] = math.NaN()
				}
			}
			ok := PositiveDefinite(n, f)
			if ok != (lowest > 0) {
				t.Errorf("n %d, lowest eigenvalue %g: positive definite %v", n, lowest, ok)
				continue
			}
			if !ok {
				continue
			}
			worst := 0.0
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					s := 0.0
					for k := 0; k <= j; k++ {
						s += f[i*n+k] * f[j*n+k]
					}
					worst = math.Max(worst, math.Abs(s-a[i*n+j]))
				}
			}
			if worst > 1e-13 {
				t.Errorf("n %d: L L^T differs from a by %.3g", n, worst)
			}
		}
	}
}
