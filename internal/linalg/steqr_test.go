//go:build !openblas

package linalg

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// TestSyevVectorsMatchesGonum checks syevVectors against gonum's Dsyev bit for bit: eigenvalues
// and eigenvectors, on random symmetric matrices of several sizes (with and without the work
// split between two or three goroutines), with a clustered spectrum, a matrix that splits into
// blocks, and norms that make Dsyev scale (1e-160, 1e160).
func TestSyevVectorsMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	random := func(n int, scale float64) []float64 {
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := scale * rng.NormFloat64()
				a[i*n+j], a[j*n+i] = v, v
			}
		}
		return a
	}
	// clustered: Q diag(1, 1, 1+1e-12, 2, 2, ...) Q^T for a random orthogonal Q
	clustered := func(n int) []float64 {
		q := random(n, 1)
		tau := make([]float64, n)
		work := make([]float64, 64*n)
		g := blas64.General{Rows: n, Cols: n, Stride: n, Data: q}
		lapack64.Geqrf(g, tau, work, len(work))
		lapack64.Orgqr(g, tau, work, len(work))
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					lk := float64(1 + k/3)
					if k%3 == 2 {
						lk += 1e-12
					}
					s += q[i*n+k] * lk * q[j*n+k]
				}
				a[i*n+j] = s
			}
		}
		return a
	}
	// blocks: two random blocks on the diagonal and zeros elsewhere (the tridiagonal matrix splits)
	blocks := func(n int) []float64 {
		a := make([]float64, n*n)
		b1, b2 := random(n/2, 1), random(n-n/2, 1)
		for i := 0; i < n/2; i++ {
			copy(a[i*n:i*n+n/2], b1[i*(n/2):(i+1)*(n/2)])
		}
		m := n - n/2
		for i := 0; i < m; i++ {
			copy(a[(n/2+i)*n+n/2:(n/2+i+1)*n], b2[i*m:(i+1)*m])
		}
		return a
	}
	cases := []struct {
		name string
		n    int
		a    []float64
	}{
		{"n=1", 1, random(1, 1)},
		{"n=2", 2, random(2, 1)},
		{"n=7", 7, random(7, 1)},
		{"n=64", 64, random(64, 1)},
		{"n=300 (rows on two goroutines)", 300, random(300, 1)},
		{"n=300 scale 1e-160", 300, random(300, 1e-160)},
		{"n=200 scale 1e160", 200, random(200, 1e160)},
		{"n=150 clustered", 150, clustered(150)},
		{"n=257 blocks", 257, blocks(257)},
		{"n=600 (reduction on two goroutines)", 600, random(600, 1)},
		{"n=800 on three goroutines", -800, random(800, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.n
			if n < 0 { // run with GOMAXPROCS 3: uneven ranges
				n = -n
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
			}
			want := append([]float64(nil), c.a...)
			wantW := make([]float64, n)
			s := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: want}
			work := []float64{0}
			lapack64.Syev(lapack.EVCompute, s, wantW, work, -1)
			work = make([]float64, int(work[0]))
			if !lapack64.Syev(lapack.EVCompute, s, wantW, work, len(work)) {
				t.Fatal("gonum's Dsyev did not converge")
			}
			got := append([]float64(nil), c.a...)
			gotW := make([]float64, n)
			if !syevVectors(n, got, gotW) {
				t.Fatal("syevVectors did not converge")
			}
			for i := range wantW {
				if math.Float64bits(gotW[i]) != math.Float64bits(wantW[i]) {
					t.Fatalf("eigenvalue %d: %v, gonum %v", i, gotW[i], wantW[i])
				}
			}
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("eigenvector entry (%d, %d): %v, gonum %v", i/n, i%n, got[i], want[i])
				}
			}
		})
	}
}

// TestRotateColumnsMatchesDlasr checks rotateColumns against gonum's Dlasr (side = Right,
// pivot = Variable) bit for bit in both directions, with identity rotations (skipped by both)
// next to -0 entries, on a matrix large enough to be split between goroutines.
func TestRotateColumnsMatchesDlasr(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const m, n, lda = 300, 130, 133
	for _, forward := range []bool{true, false} {
		a := make([]float64, m*lda)
		for i := range a {
			a[i] = rng.NormFloat64()
			if i%17 == 0 {
				a[i] = math.Copysign(0, -1)
			}
		}
		c, s := make([]float64, n-1), make([]float64, n-1)
		for j := range c {
			th := rng.Float64() * 2 * math.Pi
			c[j], s[j] = math.Cos(th), math.Sin(th)
			if j%5 == 0 {
				c[j], s[j] = 1, 0
			}
		}
		want := append([]float64(nil), a...)
		dir := lapack.Backward
		if forward {
			dir = lapack.Forward
		}
		gonum.Implementation{}.Dlasr(blas.Right, lapack.Variable, dir, m, n, c, s, want, lda)
		rotateColumns(forward, m, n, c, s, a, lda)
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(want[i]) {
				t.Fatalf("forward %v: entry (%d, %d): %v, Dlasr %v", forward, i/lda, i%lda, a[i], want[i])
			}
		}
	}
}

// BenchmarkEigSymVectors2048 times the pure-Go eigendecomposition with vectors at the analysis'
// rank 2048 (the basis of one minimum): gonum's Dsyev against syevVectors.
func BenchmarkEigSymVectors2048(b *testing.B) {
	const n = 2048
	a := randSym(rand.New(rand.NewPCG(5, 6)), n, n)
	w := make([]float64, n)
	buf := make([]float64, len(a))
	b.Run("gonum-Dsyev", func(b *testing.B) {
		for b.Loop() {
			copy(buf, a)
			s := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: buf}
			work := []float64{0}
			lapack64.Syev(lapack.EVCompute, s, w, work, -1)
			work = make([]float64, int(work[0]))
			if !lapack64.Syev(lapack.EVCompute, s, w, work, len(work)) {
				b.Fatal("no convergence")
			}
		}
	})
	b.Run("syevVectors", func(b *testing.B) {
		for b.Loop() {
			copy(buf, a)
			if !syevVectors(n, buf, w) {
				b.Fatal("no convergence")
			}
		}
	})
}
