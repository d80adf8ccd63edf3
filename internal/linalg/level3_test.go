package linalg

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
)

// TestRecursiveLevel3 checks the recursive Syrk and Trmm (syrkRec, trmmRec over gonum's pure-Go
// BLAS, in both precisions, on orders that recurse two and three levels, odd splits, and strides
// wider than the matrices) against plain triple loops, and the exported SyrkTrans and
// TrmmRightUpper (whichever path the backend takes) against the same loops. The lower triangle
// of c and the entries outside the matrices' columns must be left alone.
func TestRecursiveLevel3(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	fill := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		return x
	}
	to32 := func(x []float64) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(v)
		}
		return y
	}
	to64 := func(x []float32) []float64 {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = float64(v)
		}
		return y
	}
	// relErr is the largest |got - want| over the entries in mask, relative to the largest |want|;
	// entries outside mask must be unchanged from before.
	check := func(t *testing.T, what string, got, want, before []float64, in func(i int) bool, tol float64) {
		t.Helper()
		scale, worst := 0.0, 0.0
		for i := range want {
			if !in(i) {
				if math.Float64bits(got[i]) != math.Float64bits(before[i]) {
					t.Fatalf("%s: entry %d outside the result changed", what, i)
				}
				continue
			}
			scale = math.Max(scale, math.Abs(want[i]))
			worst = math.Max(worst, math.Abs(got[i]-want[i]))
		}
		if !(worst <= tol*scale) {
			t.Fatalf("%s: error %.3g relative to %.3g, tolerance %.3g", what, worst/scale, scale, tol)
		}
	}
	g64 := level3Of64(gonumblas.Implementation{})
	g32 := level3Of32(gonumblas.Implementation{})
	// k = 0: no rows (the sandwich's F- is empty when no eigenvalue is negative)
	for _, sz := range []struct{ n, k, ld int }{{300, 70, 305}, {129, 40, 129}, {557, 33, 560}, {90, 20, 91}, {300, 0, 300}} {
		n, k, ld := sz.n, sz.k, sz.ld
		// syrk: c (n x n, stride ld) = alpha a^T a + beta c, a k x n with stride ld
		a := fill(k * ld)
		c0 := fill(n * ld)
		alpha, beta := -0.7, 0.3
		want := append([]float64(nil), c0...)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				var s float64
				for l := 0; l < k; l++ {
					s += a[l*ld+i] * a[l*ld+j]
				}
				want[i*ld+j] = alpha*s + beta*c0[i*ld+j]
			}
		}
		upper := func(i int) bool { r, q := i/ld, i%ld; return q < n && q >= r && r < n }
		got := append([]float64(nil), c0...)
		syrkRec(g64, n, k, alpha, a, ld, beta, got, ld)
		check(t, "syrkRec float64", got, want, c0, upper, 1e-13)
		got = append([]float64(nil), c0...)
		SyrkTrans(alpha, blas64.General{Rows: k, Cols: n, Stride: ld, Data: a}, beta, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: ld, Data: got})
		check(t, "SyrkTrans", got, want, c0, upper, 1e-13)
		got32 := to32(c0)
		syrkRec(g32, n, k, float32(alpha), to32(a), ld, float32(beta), got32, ld)
		check(t, "syrkRec float32", to64(got32), want, to64(to32(c0)), upper, 1e-5)
		got32 = to32(c0)
		SyrkTrans32(float32(alpha), blas32.General{Rows: k, Cols: n, Stride: ld, Data: to32(a)}, float32(beta), blas32.Symmetric{Uplo: blas.Upper, N: n, Stride: ld, Data: got32})
		check(t, "SyrkTrans32", to64(got32), want, to64(to32(c0)), upper, 1e-5)

		// trmm: b (k x n, stride ld) = b u, u n x n upper (stride ld; its lower triangle is garbage
		// that must not be read)
		u := fill(n * ld)
		b0 := fill(k * ld)
		wantB := append([]float64(nil), b0...)
		for i := 0; i < k; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for l := 0; l <= j; l++ {
					s += b0[i*ld+l] * u[l*ld+j]
				}
				wantB[i*ld+j] = s
			}
		}
		inB := func(i int) bool { return i%ld < n }
		gotB := append([]float64(nil), b0...)
		trmmRec(g64, k, n, u, ld, gotB, ld)
		check(t, "trmmRec float64", gotB, wantB, b0, inB, 1e-13)
		gotB = append([]float64(nil), b0...)
		TrmmRightUpper(blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n, Stride: ld, Data: u}, blas64.General{Rows: k, Cols: n, Stride: ld, Data: gotB})
		check(t, "TrmmRightUpper", gotB, wantB, b0, inB, 1e-13)
		gotB32 := to32(b0)
		trmmRec(g32, k, n, to32(u), ld, gotB32, ld)
		check(t, "trmmRec float32", to64(gotB32), wantB, to64(to32(b0)), inB, 1e-5)
		gotB32 = to32(b0)
		TrmmRightUpper32(blas32.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: n, Stride: ld, Data: to32(u)}, blas32.General{Rows: k, Cols: n, Stride: ld, Data: gotB32})
		check(t, "TrmmRightUpper32", to64(gotB32), wantB, to64(to32(b0)), inB, 1e-5)
	}
}
