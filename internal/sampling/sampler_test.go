package sampling

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestMixtureSampler: ALG(p) takes single-sample steps with frequency p = (n-B)/(B(n-1)) on
// uniform indices and full-batch steps (all n samples in order) otherwise.
func TestMixtureSampler(t *testing.T) {
	const n, steps = 10, 40000
	for _, b := range []int{1, 2, 3, n} {
		p := P(n, b)
		if want := float64(n-b) / float64(b*(n-1)); p != want {
			t.Fatalf("B=%d: p = %v, want %v", b, p, want)
		}
		s := NewSampler(rand.New(rand.NewPCG(uint64(b), 1)), Mixture, n, b)
		singles := 0
		hits := make([]int, n)
		for k := 0; k < steps; k++ {
			batch := s.Next()
			switch len(batch) {
			case 1:
				singles++
				hits[batch[0]]++
			case n:
				for i, v := range batch {
					if v != i {
						t.Fatalf("B=%d: full batch %v is not 0..n-1 in order", b, batch)
					}
				}
			default:
				t.Fatalf("B=%d: batch of size %d", b, len(batch))
			}
		}
		sd := math.Sqrt(p * (1 - p) / steps)
		frac := float64(singles) / steps
		if math.Abs(frac-p) > 5*sd || (p == 0 && singles != 0) || (p == 1 && singles != steps) {
			t.Errorf("B=%d: fraction of single-sample steps %v, want p = %v (sd %.2g)", b, frac, p, sd)
		}
		if singles == 0 {
			continue
		}
		// chi-square of the single indices against uniform, 9 degrees of freedom
		chi, e := 0.0, float64(singles)/n
		for _, h := range hits {
			chi += (float64(h) - e) * (float64(h) - e) / e
		}
		if chi > 33 { // P(chi2_9 > 33) < 2e-4
			t.Errorf("B=%d: single indices not uniform: chi2 = %v, counts %v", b, chi, hits)
		}
	}
}

// TestShuffleEpochs: every epoch of Shuffle is floor(n/B) batches of B distinct samples that
// together cover floor(n/B) B distinct samples, and the permutation changes between epochs.
func TestShuffleEpochs(t *testing.T) {
	const n, b = 11, 3
	s := NewSampler(rand.New(rand.NewPCG(5, 6)), Shuffle, n, b)
	per := StepsPerEpoch(Shuffle, n, b)
	if per != 3 {
		t.Fatalf("shuffle epoch of %d steps, want floor(11/3) = 3", per)
	}
	var prev []int
	changed := false
	for ep := 0; ep < 20; ep++ {
		seen := map[int]bool{}
		var order []int
		for k := 0; k < per; k++ {
			batch := s.Next()
			if len(batch) != b {
				t.Fatalf("epoch %d: batch of %d", ep, len(batch))
			}
			for _, i := range batch {
				if seen[i] || i < 0 || i >= n {
					t.Fatalf("epoch %d: sample %d twice or out of range", ep, i)
				}
				seen[i] = true
				order = append(order, i)
			}
		}
		if prev != nil && !equal(prev, order) {
			changed = true
		}
		prev = order
	}
	if !changed {
		t.Error("the same order in every epoch: no reshuffle")
	}
}

func equal(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestIndependentIsBatch: Independent draws exactly the batches of Batch on the carried
// permutation, from the same stream.
func TestIndependentIsBatch(t *testing.T) {
	const n, b = 9, 4
	s := NewSampler(rand.New(rand.NewPCG(1, 2)), Independent, n, b)
	rng := rand.New(rand.NewPCG(1, 2))
	perm := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	for step := 0; step < 100; step++ {
		if got, want := s.Next(), Batch(rng, perm, b); !equal(got, want) {
			t.Fatalf("step %d: %v, Batch draws %v", step, got, want)
		}
	}
	if StepsPerEpoch(Independent, n, b) != 3 || StepsPerEpoch(Mixture, n, b) != 3 {
		t.Error("an independent or mixture epoch is ceil(9/4) = 3 steps")
	}
}

func TestSchemeNames(t *testing.T) {
	for _, s := range []string{Independent, Shuffle, Mixture} {
		if err := Check(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if err := Check("sgd"); err == nil || !strings.Contains(err.Error(), `unknown sampling "sgd"`) {
		t.Errorf("Check(sgd) = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("batch 0 accepted")
		}
	}()
	NewSampler(rand.New(rand.NewPCG(1, 1)), Independent, 3, 0)
}
