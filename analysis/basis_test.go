package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGramMatrix compares the chunked, sparsity-aware Gram matrix with a direct computation on
// matrices with dense, sparse and empty column chunks.
func TestGramMatrix(t *testing.T) {
	rng := rand.New(rand.NewPCG(131, 132))
	rows, cols := 37, 200
	g := make([]float64, rows*cols)
	for x := 0; x < rows; x++ {
		for c := 0; c < cols; c++ {
			switch {
			case c < 60: // dense
				g[x*cols+c] = rng.NormFloat64()
			case c < 120: // a few active rows
				if x%7 == 0 && rng.Float64() < 0.7 {
					g[x*cols+c] = rng.NormFloat64()
				}
			case c < 150: // empty
			default: // about half the rows
				if x%2 == 1 {
					g[x*cols+c] = rng.NormFloat64()
				}
			}
		}
	}
	for _, chunk := range []int{1, 7, 30, 64, 512} {
		fill := func(dst []float64, c0, w int) {
			for x := 0; x < rows; x++ {
				copy(dst[x*w:(x+1)*w], g[x*cols+c0:x*cols+c0+w])
			}
		}
		got := gramMatrix(rows, cols, chunk, fill)
		for a := 0; a < rows; a++ {
			for b := 0; b < rows; b++ {
				want := 0.0
				for c := 0; c < cols; c++ {
					want += g[a*cols+c] * g[b*cols+c]
				}
				if math.Abs(got[a*rows+b]-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("chunk %d: entry (%d,%d) = %v, want %v", chunk, a, b, got[a*rows+b], want)
				}
			}
		}
	}
}
