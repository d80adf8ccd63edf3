package sampling

import (
	"fmt"
	"math/rand/v2"
)

// The batch schemes (the values of train.Config.Sampling and of the validation's processes).
const (
	// Independent draws every step's batch as a uniform random size-B subset of the n samples
	// (without replacement inside the batch), independently of all other steps: SGD as THEORY.md
	// (Setting) defines it. An epoch is ceil(n/B) steps.
	Independent = "independent"
	// Shuffle permutes the samples at the start of every epoch and takes consecutive slices of
	// B; an epoch is floor(n/B) steps (the last n mod B samples of each permutation are dropped,
	// so that every batch has exactly B samples).
	Shuffle = "shuffle"
	// Mixture is the process ALG(p) of Prop. 2, which has the same second-moment dynamics (hence
	// the same mean-square threshold) as Independent with batch size B: every step is a
	// single-sample step on a uniform random index with probability p = P(n, B), and a
	// full-batch step on all n samples otherwise. An epoch is ceil(n/B) steps.
	Mixture = "mixture"
)

// Check returns an error unless scheme is one of Independent, Shuffle and Mixture.
func Check(scheme string) error {
	switch scheme {
	case Independent, Shuffle, Mixture:
		return nil
	}
	return fmt.Errorf("unknown sampling %q (want %q, %q or %q)", scheme, Independent, Shuffle, Mixture)
}

// StepsPerEpoch is the number of steps of one epoch of scheme for n samples and batch size b:
// floor(n/b) for Shuffle, ceil(n/b) otherwise.
func StepsPerEpoch(scheme string, n, b int) int {
	if scheme == Shuffle {
		return n / b
	}
	return (n + b - 1) / b
}

// Sampler draws the index sets of successive steps of one scheme. Its random draws come from the
// generator given to [NewSampler], in this order per step:
//   - Independent: [Batch], b draws rng.IntN(n - t), t = 0..b-1 (a partial Fisher-Yates shuffle
//     of a permutation carried over from step to step, which starts as the identity);
//   - Shuffle: rng.Shuffle(n, ...) of the carried permutation at the first step of every epoch,
//     nothing at the other steps;
//   - Mixture: one rng.Float64() u; u < p adds one rng.IntN(n) (a single-sample step).
//
// A Sampler holds its buffers; it is not safe for concurrent use.
type Sampler struct {
	rng    *rand.Rand
	n      int
	scheme string
	b      int
	p      float64 // Mixture: probability of a single-sample step
	perEp  int     // Shuffle: steps per epoch
	step   int
	perm   []int // Independent, Shuffle: the carried permutation
	all    []int // Mixture: 0..n-1, the full batch
	one    [1]int
}

// NewSampler returns a sampler of scheme for n samples and batch size b that draws from rng.
// It panics unless 1 <= b <= n and scheme is known (the caller validates its configuration).
func NewSampler(rng *rand.Rand, scheme string, n, b int) *Sampler {
	if err := Check(scheme); err != nil {
		panic("sampling: " + err.Error())
	}
	if b < 1 || b > n {
		panic(fmt.Sprintf("sampling: batch size %d outside 1..%d", b, n))
	}
	s := &Sampler{rng: rng, n: n, scheme: scheme, b: b, perEp: StepsPerEpoch(scheme, n, b)}
	ident := make([]int, n)
	for i := range ident {
		ident[i] = i
	}
	if scheme == Mixture {
		s.p, s.all = P(n, b), ident
	} else {
		s.perm = ident
	}
	return s
}

// Next returns the batch of the next step, valid until the following call (the caller must not
// modify it). Every step averages over its batch: the weight of each index is 1/len(batch).
// For Mixture, a full-batch step returns all n indices in increasing order.
func (s *Sampler) Next() []int {
	switch s.scheme {
	case Mixture:
		s.step++
		if s.rng.Float64() < s.p {
			s.one[0] = s.rng.IntN(s.n)
			return s.one[:]
		}
		return s.all
	case Shuffle:
		k := s.step % s.perEp
		if k == 0 {
			s.rng.Shuffle(s.n, func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
		}
		s.step++
		return s.perm[k*s.b : (k+1)*s.b]
	}
	s.step++
	return Batch(s.rng, s.perm, s.b)
}
