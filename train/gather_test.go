package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGatherDot10 checks the assembly kernel against the portable loop bit for bit, and both
// against a plain sum.
func TestGatherDot10(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		rows, stride := 1+rng.IntN(40), 10+rng.IntN(15)
		off := rng.IntN(stride - 9)
		m := make([]float64, rows*stride)
		for i := range m {
			m[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
		}
		n := rng.IntN(60)
		idx, val := make([]int, n), make([]float64, n)
		for q := range idx {
			idx[q], val[q] = rng.IntN(rows), rng.NormFloat64()
		}
		var a, b [10]float64
		gatherDot10(idx, val, m, stride, off, rows-1, &a)
		gatherDot10Go(idx, val, m, stride, off, &b)
		for k := 0; k < 10; k++ {
			want := 0.0
			for q, p := range idx {
				want += val[q] * m[p*stride+off+k]
			}
			if math.Float64bits(a[k]) != math.Float64bits(b[k]) || b[k] != want {
				t.Fatalf("trial %d, k %d: kernel %v, portable %v, sum %v", trial, k, a[k], b[k], want)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("out-of-range rows accepted")
		}
	}()
	var out [10]float64
	gatherDot10([]int{3}, []float64{1}, make([]float64, 30), 10, 0, 3, &out)
}
