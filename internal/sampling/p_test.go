package sampling

import (
	"math"
	"testing"
)

// TestPMatchesBatchMeanVariance checks p against its definition: for a batch drawn without
// replacement, Var(batch mean) = p * (1/n) sum_i (x_i - mean)^2, by enumerating every batch.
func TestPMatchesBatchMeanVariance(t *testing.T) {
	x := []float64{0.3, -1.2, 2.5, 0.9, -0.4}
	n := len(x)
	mean, pop := 0.0, 0.0
	for _, v := range x {
		mean += v / float64(n)
	}
	for _, v := range x {
		pop += (v - mean) * (v - mean) / float64(n)
	}
	for b := 1; b <= n; b++ {
		var sum, count float64
		for mask := 0; mask < 1<<n; mask++ {
			var m float64
			k := 0
			for i := 0; i < n; i++ {
				if mask>>i&1 == 1 {
					m += x[i]
					k++
				}
			}
			if k != b {
				continue
			}
			m /= float64(b)
			sum += (m - mean) * (m - mean)
			count++
		}
		if got, want := P(n, b)*pop, sum/count; math.Abs(got-want) > 1e-12 {
			t.Errorf("B = %d: p * population variance = %v, enumerated Var(batch mean) = %v", b, got, want)
		}
	}
	if P(1, 1) != 0 {
		t.Errorf("P(1, 1) = %v, want 0", P(1, 1))
	}
}
