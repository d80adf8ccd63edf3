package linalg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas64"
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

// spectrumCase returns a psdWithGap matrix (n x n, top gap 1 - ratio), its eigenvalues
// ascending from the dense eigensolver, and a random start vector.
func spectrumCase(t *testing.T, rng *rand.Rand, n int, ratio float64) (a, ev, x0 []float64) {
	t.Helper()
	a, _ = psdWithGap(rng, n, ratio)
	ev = make([]float64, n)
	if err := EigSym(n, append([]float64(nil), a...), ev, false); err != nil {
		t.Fatal(err)
	}
	x0 = make([]float64, n)
	for i := range x0 {
		x0[i] = rng.NormFloat64()
	}
	return a, ev, x0
}

// TestTopPairs compares the top Ritz pairs of a basis with the dense eigensolver: with a basis
// that spans an invariant subspace they are the top eigenpairs; after a few steps their
// residuals are the measured ||A x - theta x|| and the vectors are orthonormal.
func TestTopPairs(t *testing.T) {
	const n, k = 40, 4
	a, ev, x0 := spectrumCase(t, rand.New(rand.NewPCG(3, 4)), n, 0.8)
	op := denseOp(n, a)
	for _, steps := range []int{n, 8} {
		lz := NewLanczos(n, op, n)
		if err := lz.Start(x0); err != nil {
			t.Fatal(err)
		}
		if _, err := lz.Run(1e-300, steps); err != nil {
			t.Fatal(err)
		}
		pairs, err := lz.TopPairs(k, math.Inf(1))
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
		// with a residual tolerance: exactly the pairs within it, with the same vectors
		rel := make([]float64, len(pairs))
		for j, p := range pairs {
			rel[j] = p.Residual / math.Abs(p.Value)
		}
		tol := rel[len(rel)/2]
		some, err := lz.TopPairs(k, tol)
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		for j, p := range pairs {
			if rel[j] > tol {
				continue
			}
			if next >= len(some) {
				t.Fatalf("%d steps, tolerance %.3g: pair %d (relative residual %.3g) missing", steps, tol, j, rel[j])
			}
			q := some[next]
			next++
			if q.Value != p.Value || q.Residual != p.Residual {
				t.Errorf("%d steps, tolerance %.3g: pair (%v, %v), want (%v, %v)", steps, tol, q.Value, q.Residual, p.Value, p.Residual)
			}
			for x := range q.Vector {
				if q.Vector[x] != p.Vector[x] {
					t.Fatalf("%d steps, tolerance %.3g: pair %d's vector differs at %d", steps, tol, j, x)
				}
			}
		}
		if next != len(some) {
			t.Errorf("%d steps, tolerance %.3g: %d pairs, want %d", steps, tol, len(some), next)
		}
	}
}

// randomBasis returns a Lanczos on dimension dim whose basis holds m random normal vectors (not
// orthogonalized: the basis operations do not need it), and a random normal vector.
func randomBasis(rng *rand.Rand, dim, m int) (*Lanczos[float64], []float64) {
	l := NewLanczos[float64](dim, nil, m)
	for i := 0; i < m; i++ {
		q := make([]float64, dim)
		for j := range q {
			q[j] = rng.NormFloat64()
		}
		l.q = append(l.q, q)
	}
	x := make([]float64, dim)
	for j := range x {
		x[j] = rng.NormFloat64()
	}
	return l, x
}

// TestBasisOperations checks Dots and AddCombination against one dot and one axpy per basis
// vector (to rounding) at dimensions below, at and above a chunk and the parallel threshold,
// with basis sizes around the block of four, on 1 and 3 goroutines, and the norm's fallback
// for sums of squares that over- or underflow.
func TestBasisOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, procs := range []int{1, 3} {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		for _, dim := range []int{1, 7, basisChunk, basisChunk + 5, basisMinParallel + 3*basisChunk + 1} {
			for _, m := range []int{1, 3, 4, 9} {
				l, x := randomBasis(rng, dim, m)
				h := make([]float64, m)
				Dots(h, l.q, x)
				want := append([]float64(nil), x...)
				for i, q := range l.q {
					d := 0.0
					for j := range q {
						d += q[j] * x[j]
					}
					if math.Abs(h[i]-d) > 1e-12*float64(dim) {
						t.Errorf("procs %d dim %d m %d: <q_%d, x> = %v, want %v", procs, dim, m, i, h[i], d)
					}
					for j := range want {
						want[j] += h[i] * q[j]
					}
				}
				nrm := AddCombination(x, l.q, h)
				ss := 0.0
				for j := range x {
					if math.Abs(x[j]-want[j]) > 1e-12*float64(m)*(1+math.Abs(want[j])) {
						t.Fatalf("procs %d dim %d m %d: x[%d] = %v after the update, want %v", procs, dim, m, j, x[j], want[j])
					}
					ss += want[j] * want[j]
				}
				if math.Abs(nrm-math.Sqrt(ss)) > 1e-12*math.Sqrt(ss) {
					t.Errorf("procs %d dim %d m %d: norm %v, want %v", procs, dim, m, nrm, math.Sqrt(ss))
				}
			}
		}
	}
	for _, scale := range []float64{1e-160, 1e160} {
		l := NewLanczos[float64](5, nil, 1)
		l.q = append(l.q, []float64{1, 0, 0, 0, 0})
		x := []float64{3 * scale, 0, 4 * scale, 0, 0}
		if got := AddCombination(x, l.q, []float64{0}); math.Abs(got-5*scale) > 1e-14*5*scale {
			t.Errorf("norm of (3, 0, 4) x %g: %v, want %v", scale, got, 5*scale)
		}
	}
}

// checkSubtractDots checks that subtractDots(x, u, coef, out, v) gives the bits of
// AddCombination(x, u, coef) followed by Dots(out, v, x): the combination, its norm and the dot
// products. x is overwritten.
func checkSubtractDots[T Float](t *testing.T, label string, x []T, u [][]T, coef []float64, v [][]T) {
	t.Helper()
	want := append([]T(nil), x...)
	wantNrm := AddCombination(want, u, coef)
	wantDots := make([]float64, len(v))
	Dots(wantDots, v, want)
	got := make([]float64, len(v))
	if nrm := subtractDots(x, u, coef, got, v); nrm != wantNrm {
		t.Errorf("%s: norm %v, AddCombination's %v", label, nrm, wantNrm)
	}
	for j := range x {
		if x[j] != want[j] {
			t.Fatalf("%s: x[%d] = %v, AddCombination's %v", label, j, x[j], want[j])
		}
	}
	for i := range got {
		if got[i] != wantDots[i] {
			t.Errorf("%s: dot %d = %v, Dots' %v", label, i, got[i], wantDots[i])
		}
	}
}

// TestSubtractDots: subtractDots gives the bits of AddCombination followed by Dots (the
// combination, its norm and the dot products with another set of vectors), and scaledCopy those
// of a copy followed by blas64.Scal, at dimensions around a chunk and the parallel threshold, on
// 1 and 3 goroutines.
func TestSubtractDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, procs := range []int{1, 3} {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		for _, dim := range []int{1, 7, basisChunk + 5, basisMinParallel + 3*basisChunk + 1} {
			for _, m := range []int{1, 2, 5} {
				l, x := randomBasis(rng, dim, m+3)
				u, v := l.q[:2], l.q[2:]
				coef := []float64{rng.NormFloat64(), rng.NormFloat64()}
				u = u[:min(2, m)]
				want := append([]float64(nil), x...)
				checkSubtractDots(t, fmt.Sprintf("procs %d dim %d m %d", procs, dim, m), x, u, coef, v)
				AddCombination(want, u, coef)
				s := 1 / (1 + rng.Float64())
				dst := make([]float64, dim+1)
				scaledCopy(dst, x, s)
				blas64.Scal(s, vec(want))
				for j := range want {
					if dst[j] != want[j] {
						t.Fatalf("procs %d dim %d: scaledCopy entry %d = %v, copy and Scal %v", procs, dim, j, dst[j], want[j])
					}
				}
			}
		}
	}
}

// BenchmarkOrthogonalize times one pass of classical Gram-Schmidt of a vector against a basis of
// 12 vectors at the dimension of the generalized sharpness' Lanczos at the paper's size
// (r (r+1)/2 for rank r = 2048): one dot and one axpy per basis vector (the BLAS backend's
// level-1 calls), against Dots and AddCombination.
func BenchmarkOrthogonalize(b *testing.B) {
	const dim, m = 2048 * 2049 / 2, 12
	l, w := randomBasis(rand.New(rand.NewPCG(1, 2)), dim, m)
	h := make([]float64, m)
	b.Run("level1", func(b *testing.B) {
		for b.Loop() {
			for i, q := range l.q {
				h[i] = blas64.Dot(vec(q), vec(w))
			}
			for i, q := range l.q {
				blas64.Axpy(-h[i], vec(q), vec(w))
			}
			_ = blas64.Nrm2(vec(w))
		}
	})
	b.Run("chunked", func(b *testing.B) {
		for b.Loop() {
			Dots(h, l.q, w)
			for i := range h {
				h[i] = -h[i]
			}
			_ = AddCombination(w, l.q, h)
		}
	})
	// a Lanczos step's Gram-Schmidt after the three-term recurrence: the recurrence's update and
	// the dot products in one pass (subtractDots), then the combination
	b.Run("fused", func(b *testing.B) {
		c := []float64{0, 0}
		for b.Loop() {
			subtractDots(w, l.q[m-2:], c, h, l.q)
			for i := range h {
				h[i] = -h[i]
			}
			_ = AddCombination(w, l.q, h)
		}
	})
}

// TestLanczosOrthogonality: the basis stays orthonormal to rounding over many steps on a matrix
// whose top eigenvalues converge fast (where the three-term recurrence alone loses orthogonality
// within a few steps and repeats converged Ritz values), and the Ritz values are the dense
// eigenvalues.
func TestLanczosOrthogonality(t *testing.T) {
	const n, steps = 150, 90
	a, ev, x0 := spectrumCase(t, rand.New(rand.NewPCG(21, 22)), n, 0.7)
	lz := NewLanczos(n, denseOp(n, a), n)
	if err := lz.Start(x0); err != nil {
		t.Fatal(err)
	}
	if _, err := lz.Run(1e-300, steps); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, qi := range lz.q[:lz.m] {
		for j, qj := range lz.q[:i+1] {
			d := 0.0
			for x := range qi {
				d += qi[x] * qj[x]
			}
			if i == j {
				d--
			}
			worst = math.Max(worst, math.Abs(d))
		}
	}
	if worst > 1e-13 {
		t.Errorf("after %d steps the basis is orthonormal only to %.3g", lz.m, worst)
	}
	pairs, err := lz.TopPairs(3, math.Inf(1))
	if err != nil {
		t.Fatal(err)
	}
	for j, p := range pairs {
		if math.Abs(p.Value-ev[n-1-j]) > 1e-12 {
			t.Errorf("Ritz value %d: %v, dense %v", j, p.Value, ev[n-1-j])
		}
	}
}

// TestBasisOperations32: Dots, AddCombination and subtractDots on float32 vectors agree with the
// same operations in float64 on the same (float32) numbers to float32 rounding, at dimensions
// around a float32 chunk and the parallel threshold, on 1 and 3 goroutines; the dot products
// are float64 sums of the float32 products, so that they agree to float64 rounding.
func TestBasisOperations32(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, procs := range []int{1, 3} {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		for _, dim := range []int{1, 7, basisChunk32 + 5, basisMinParallel + 3*basisChunk32 + 1} {
			for _, m := range []int{1, 3, 6} {
				l, x := randomBasis(rng, dim, m)
				q32 := make([][]float32, m)
				for i, q := range l.q {
					q32[i] = make([]float32, dim)
					for j, v := range q {
						q32[i][j] = float32(v)
						q[j] = float64(q32[i][j]) // the float64 reference holds the same numbers
					}
				}
				x32 := make([]float32, dim)
				for j, v := range x {
					x32[j] = float32(v)
					x[j] = float64(x32[j])
				}
				h, h32 := make([]float64, m), make([]float64, m)
				Dots(h, l.q, x)
				Dots(h32, q32, x32)
				for i := range h {
					if math.Abs(h32[i]-h[i]) > 1e-14*float64(dim) {
						t.Errorf("procs %d dim %d m %d: float32 <q_%d, x> = %v, float64 %v", procs, dim, m, i, h32[i], h[i])
					}
				}
				coef := make([]float64, m)
				for i := range coef {
					coef[i] = rng.NormFloat64()
				}
				want := append([]float64(nil), x...)
				wantNrm := AddCombination(want, l.q, coef)
				y32 := append([]float32(nil), x32...)
				nrm := AddCombination(y32, q32, coef)
				worst := 0.0
				for j := range want {
					worst = math.Max(worst, math.Abs(float64(y32[j])-want[j])/(1+math.Abs(want[j])))
				}
				if worst > 1e-6*float64(m) {
					t.Errorf("procs %d dim %d m %d: float32 combination off by %.3g (relative)", procs, dim, m, worst)
				}
				if math.Abs(nrm-wantNrm) > 1e-6*wantNrm {
					t.Errorf("procs %d dim %d m %d: float32 norm %v, float64 %v", procs, dim, m, nrm, wantNrm)
				}
				checkSubtractDots(t, fmt.Sprintf("float32, procs %d dim %d m %d", procs, dim, m), x32, q32, coef, q32)
			}
		}
	}
}

// TestLanczos32: Lanczos with a float32 basis on an operator applied in float32 finds the top
// eigenvalue of the dense eigensolver to float32 accuracy, keeps its basis orthonormal to
// float32 rounding, and its Ritz vector and image satisfy A x = theta x to the residual it
// reports (plus float32 rounding).
func TestLanczos32(t *testing.T) {
	const n = 300
	rng := rand.New(rand.NewPCG(23, 24))
	a, top := psdWithGap(rng, n, 0.9)
	a32 := make([]float32, n*n)
	for i, v := range a {
		a32[i] = float32(v)
	}
	op := func(dst, x []float32) error {
		for i := 0; i < n; i++ {
			s := 0.0
			for j, v := range a32[i*n : (i+1)*n] {
				s += float64(v) * float64(x[j])
			}
			dst[i] = float32(s)
		}
		return nil
	}
	x0 := make([]float32, n)
	for i := range x0 {
		x0[i] = float32(rng.NormFloat64())
	}
	// the start vector's norm in float64: a float32 sum of squares of many entries (gonum's Snrm2)
	// would leave q_0 off unit length by about 1e-4
	long := make([]float32, 3<<20)
	for i := range long {
		long[i] = float32(rng.NormFloat64())
	}
	ll := NewLanczos(len(long), op, 1)
	if err := ll.Start(long); err != nil {
		t.Fatal(err)
	}
	if d := dot(ll.q[0], ll.q[0]) - 1; math.Abs(d) > 1e-6 {
		t.Errorf("||q_0||^2 - 1 = %.3g for a start vector of %d entries", d, len(long))
	}
	lz := NewLanczos(n, op, 60)
	if err := lz.Start(x0); err != nil {
		t.Fatal(err)
	}
	rz, err := lz.Run(1e-5, 60)
	if err != nil {
		t.Fatal(err)
	}
	if !rz.Converged {
		t.Fatalf("no convergence to 1e-5 in %d applications (residual %.3g)", lz.Applications(), rz.Residual/rz.Value)
	}
	if math.Abs(rz.Value-top) > 1e-6*top {
		t.Errorf("top Ritz value %v, dense %v (relative error %.3g)", rz.Value, top, math.Abs(rz.Value-top)/top)
	}
	worst := 0.0
	for i := 0; i < lz.m; i++ {
		for j := 0; j <= i; j++ {
			d := dot(lz.q[i], lz.q[j])
			if i == j {
				d--
			}
			worst = math.Max(worst, math.Abs(d))
		}
	}
	if worst > 1e-5 {
		t.Errorf("basis of %d float32 vectors orthonormal only to %.3g", lz.m, worst)
	}
	// the Ritz vector against the matrix in float64: ||A x - theta x|| within the estimate
	res := 0.0
	for i := 0; i < n; i++ {
		s := 0.0
		for j, v := range a[i*n : (i+1)*n] {
			s += v * float64(rz.Vector[j])
		}
		d := s - rz.Value*float64(rz.Vector[i])
		res += d * d
		if e := math.Abs(float64(rz.Image[i]) - s); e > rz.Residual+1e-5*top {
			t.Fatalf("image entry %d: %v, A x %v", i, rz.Image[i], s)
		}
	}
	if math.Sqrt(res) > rz.Residual+1e-5*top {
		t.Errorf("||A x - theta x|| = %.3g, Lanczos estimate %.3g", math.Sqrt(res), rz.Residual)
	}
}
