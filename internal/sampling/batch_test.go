package sampling

import (
	"math/rand/v2"
	"testing"
)

// TestBatchUniform checks that every size-b subset of n indices is drawn with probability
// 1 / C(n, b), by a chi-square test over all subsets (n = 5), with perm carried over.
func TestBatchUniform(t *testing.T) {
	const n, draws = 5, 200000
	rng := rand.New(rand.NewPCG(3, 4))
	for b := 1; b <= n; b++ {
		perm := []int{0, 1, 2, 3, 4}
		counts := map[int]int{}
		for range draws {
			mask := 0
			for _, i := range Batch(rng, perm, b) {
				if mask>>i&1 == 1 {
					t.Fatalf("b = %d: index %d drawn twice", b, i)
				}
				mask |= 1 << i
			}
			counts[mask]++
		}
		subsets := 1
		for i := 0; i < b; i++ {
			subsets = subsets * (n - i) / (i + 1)
		}
		if len(counts) != subsets {
			t.Fatalf("b = %d: %d distinct subsets drawn, want %d", b, len(counts), subsets)
		}
		want := float64(draws) / float64(subsets)
		chi2 := 0.0
		for _, c := range counts {
			chi2 += (float64(c) - want) * (float64(c) - want) / want
		}
		// chi-square with subsets-1 <= 9 degrees of freedom: 30 is beyond its 99.9 % quantile (27.9)
		if chi2 > 30 {
			t.Errorf("b = %d: chi-square %.1f over %d subsets: not uniform", b, chi2, subsets)
		}
	}
}
