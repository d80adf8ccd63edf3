package linalg

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// denseOp returns the operator x -> A x of the row-major n x n matrix a.
func denseOp(n int, a []float64) func(dst, x []float64) error {
	return func(dst, x []float64) error {
		for i := 0; i < n; i++ {
			s := 0.0
			for j, v := range a[i*n : (i+1)*n] {
				s += v * x[j]
			}
			dst[i] = s
		}
		return nil
	}
}

// psdWithGap returns a random n x n PSD matrix whose eigenvalues are geometric from 1 down
// (top gap 1 - ratio) and its top eigenvalue, from the dense eigensolver.
func psdWithGap(rng *rand.Rand, n int, ratio float64) ([]float64, float64) {
	q := randSym(rng, n, n)
	w := make([]float64, n)
	if err := EigSym(n, q, w, true); err != nil {
		panic(err)
	}
	a := make([]float64, n*n)
	l := 1.0
	for j := n - 1; j >= 0; j-- {
		v := q[j*n : (j+1)*n]
		for x := 0; x < n; x++ {
			for y := 0; y < n; y++ {
				a[x*n+y] += l * v[x] * v[y]
			}
		}
		l *= ratio
	}
	ev := make([]float64, n)
	if err := EigSym(n, append([]float64(nil), a...), ev, false); err != nil {
		panic(err)
	}
	return a, ev[n-1]
}

// TestLanczosTop compares the top Ritz value with the dense eigensolver, with a basis large
// enough for an invariant subspace, a small one that needs restarts, and a budget too small to
// converge (status IterationLimit, value still below the top eigenvalue: a Rayleigh quotient).
func TestLanczosTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 80
	a, top := psdWithGap(rng, n, 0.97)
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = rng.NormFloat64()
	}
	for _, tc := range []struct {
		name      string
		opt       LanczosOptions
		want      Status
		restarted bool
	}{
		{"full basis", LanczosOptions{Tol: 1e-10, MaxApplications: 200}, Converged, false},
		{"restarts", LanczosOptions{Tol: 1e-10, MaxBasis: 12, MaxApplications: 2000}, Converged, true},
		{"budget", LanczosOptions{Tol: 1e-12, MaxBasis: 5, MaxApplications: 5}, IterationLimit, false},
	} {
		count := 0
		op := denseOp(n, a)
		rz, st, err := LanczosTop(n, func(dst, x []float64) error { count++; return op(dst, x) }, x0, tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st != tc.want {
			t.Errorf("%s: status %s, want %s", tc.name, st, tc.want)
		}
		if tc.restarted && count <= tc.opt.MaxBasis {
			t.Errorf("%s: %d applications with a basis of 12: no restart happened", tc.name, count)
		}
		if count > tc.opt.MaxApplications {
			t.Errorf("%s: %d applications, budget %d", tc.name, count, tc.opt.MaxApplications)
		}
		// residual of the returned pair, measured
		ax := make([]float64, n)
		_ = op(ax, rz.Vector)
		res := 0.0
		for i := range ax {
			res += (ax[i] - rz.Value*rz.Vector[i]) * (ax[i] - rz.Value*rz.Vector[i])
		}
		res = math.Sqrt(res)
		// the image from the Lanczos relation is A x without an application
		imErr := 0.0
		for i := range ax {
			imErr = math.Max(imErr, math.Abs(ax[i]-rz.Image[i]))
		}
		if imErr > 1e-13*top {
			t.Errorf("%s: Image differs from A x by %.2g (top %v)", tc.name, imErr, top)
		}
		if count != 0 && len(rz.Image) != n {
			t.Errorf("%s: Image of length %d", tc.name, len(rz.Image))
		}
		if st == Converged {
			if math.Abs(rz.Value-top) > 1e-9*top || res > 1e-8*top {
				t.Errorf("%s: top %v (residual %.2g), dense %v", tc.name, rz.Value, res, top)
			}
		} else if !(rz.Value <= top*(1+1e-14)) || rz.Value < 0.5*top || res <= 1e-12*top {
			t.Errorf("%s: unconverged value %v (residual %.2g) against the top %v", tc.name, rz.Value, res, top)
		}
	}
}

// TestLanczosErrors: operator failures, a non-finite operator and a zero start vector are
// errors with context, not panics.
func TestLanczosErrors(t *testing.T) {
	x0 := []float64{1, 2, 3}
	boom := errors.New("boom")
	_, _, err := LanczosTop(3, func(dst, x []float64) error { return boom }, x0, LanczosOptions{Tol: 1e-8, MaxApplications: 10})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "application 1") {
		t.Errorf("operator error: %v", err)
	}
	nan := func(dst, x []float64) error {
		for i := range dst {
			dst[i] = math.NaN()
		}
		return nil
	}
	if _, _, err := LanczosTop(3, nan, x0, LanczosOptions{Tol: 1e-8, MaxApplications: 10}); err == nil || !strings.Contains(err.Error(), "tridiagonal") {
		t.Errorf("NaN operator: %v", err)
	}
	if _, _, err := LanczosTop(3, denseOp(3, make([]float64, 9)), []float64{0, 0, 0}, LanczosOptions{Tol: 1e-8, MaxApplications: 10}); err == nil {
		t.Error("zero start vector accepted")
	}
	lz := NewLanczos(3, denseOp(3, make([]float64, 9)), 3)
	if _, err := lz.Run(1e-8, 3); err == nil {
		t.Error("Run before Start accepted")
	}
}

// TestTopPairs compares the top Ritz pairs of a basis with the dense eigensolver: with a basis
// that spans an invariant subspace they are the top eigenpairs; after a few steps their
// residuals are the measured ||A x - theta x|| and the vectors are orthonormal.
func TestTopPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, k = 40, 4
	a, _ := psdWithGap(rng, n, 0.8)
	ev := make([]float64, n)
	if err := EigSym(n, append([]float64(nil), a...), ev, false); err != nil {
		t.Fatal(err)
	}
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = rng.NormFloat64()
	}
	op := denseOp(n, a)
	for _, steps := range []int{n, 8} {
		lz := NewLanczos(n, op, n)
		if err := lz.Start(x0); err != nil {
			t.Fatal(err)
		}
		if _, err := lz.Run(1e-300, steps); err != nil {
			t.Fatal(err)
		}
		pairs, err := lz.TopPairs(k)
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != k {
			t.Fatalf("%d steps: %d pairs, want %d", steps, len(pairs), k)
		}
		ax := make([]float64, n)
		for j, p := range pairs {
			if steps == n && math.Abs(p.Value-ev[n-1-j]) > 1e-12 {
				t.Errorf("pair %d: value %v, dense %v", j, p.Value, ev[n-1-j])
			}
			if j > 0 && p.Value > pairs[j-1].Value {
				t.Errorf("pair %d: value %v above pair %d's %v", j, p.Value, j-1, pairs[j-1].Value)
			}
			_ = op(ax, p.Vector)
			res := 0.0
			for i := range ax {
				res += (ax[i] - p.Value*p.Vector[i]) * (ax[i] - p.Value*p.Vector[i])
			}
			if res = math.Sqrt(res); math.Abs(res-p.Residual) > 1e-10 {
				t.Errorf("%d steps, pair %d: residual %.3g, measured %.3g", steps, j, p.Residual, res)
			}
			for i, q := range pairs[:j+1] {
				dot := 0.0
				for x := range q.Vector {
					dot += q.Vector[x] * p.Vector[x]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-12 {
					t.Errorf("%d steps: <x_%d, x_%d> = %v", steps, i, j, dot)
				}
			}
		}
	}
}
