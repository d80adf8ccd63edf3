package analysis

import (
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

func TestOpTiming(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	n, k, r := 512, 4, 2048
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]float64, n*k*r)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	c := &factCurv{n: n, k: k, r: r, b: b}
	s := make([]float64, r*r)
	for i := 0; i < r; i++ {
		for j := i; j < r; j++ {
			v := rng.NormFloat64()
			s[i*r+j], s[j*r+i] = v, v
		}
	}
	dst := make([]float64, r*r)
	w := make([]float64, n*k*r)
	t0 := time.Now()
	blas64.Symm(blas.Right, 1, blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: s}, gen(n*k, r, b), 0, gen(n*k, r, w))
	t.Logf("symm %v", time.Since(t0))
	t0 = time.Now()
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(n*k, r, b), gen(r, r, s), 0, gen(n*k, r, w))
	t.Logf("gemm %v", time.Since(t0))
	t0 = time.Now()
	blas64.Syrk(blas.Trans, 1, gen(n*k, r, b), 0, blas64.Symmetric{Uplo: blas.Upper, N: r, Stride: r, Data: dst})
	t.Logf("syrk %v", time.Since(t0))
	t0 = time.Now()
	c.sandwich(dst, s)
	t.Logf("sandwich %v", time.Since(t0))
	t0 = time.Now()
	c.sandwich(dst, s)
	t.Logf("sandwich %v", time.Since(t0))
}
