package train

import (
	"math/rand/v2"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// sampler produces the index sets of successive SGD steps.
type sampler struct {
	rng     *rand.Rand
	perm    []int
	batch   int
	shuffle bool
	perEp   int // steps per epoch (shuffle mode)
	step    int
	// mixture mode (ALG(p)): single-sample step with probability pmix; all holds 0..n-1
	mixture bool
	pmix    float64
	all     []int
	one     [1]int
}

func newSampler(n int, cfg Config) *sampler {
	s := &sampler{rng: rand.New(rand.NewPCG(cfg.Seed, sampleStream)), perm: make([]int, n),
		batch: cfg.Batch, shuffle: cfg.Sampling == SamplingShuffle, perEp: cfg.StepsPerEpoch(n)}
	for i := range s.perm {
		s.perm[i] = i
	}
	if cfg.Sampling == SamplingMixture {
		s.mixture, s.pmix, s.all = true, cfg.MixtureP(n), append([]int(nil), s.perm...)
	}
	return s
}

// next returns the batch of the next step (valid until the following call). Independent mode:
// sampling.Batch, a partial Fisher-Yates shuffle of the first B positions of the running
// permutation, which makes perm[:B] a uniform random size-B subset whatever perm was before.
// Shuffle mode: a full Fisher-Yates shuffle at the start of each epoch, then consecutive slices.
// Mixture mode: one uniform draw u; u < p gives the single index IntN(n), otherwise all n samples.
func (s *sampler) next() []int {
	n, b := len(s.perm), s.batch
	if s.mixture {
		s.step++
		if s.rng.Float64() < s.pmix {
			s.one[0] = s.rng.IntN(n)
			return s.one[:]
		}
		return s.all
	}
	if !s.shuffle {
		s.step++
		return sampling.Batch(s.rng, s.perm, b)
	}
	k := s.step % s.perEp
	if k == 0 {
		s.rng.Shuffle(n, func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
	}
	s.step++
	return s.perm[k*b : (k+1)*b]
}
