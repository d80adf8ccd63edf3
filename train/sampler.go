package train

import "math/rand/v2"

// sampler produces the index sets of successive SGD steps.
type sampler struct {
	rng     *rand.Rand
	perm    []int
	batch   int
	shuffle bool
	perEp   int // steps per epoch (shuffle mode)
	step    int
}

func newSampler(n int, cfg Config) *sampler {
	s := &sampler{rng: rand.New(rand.NewPCG(cfg.Seed, sampleStream)), perm: make([]int, n),
		batch: cfg.Batch, shuffle: cfg.Sampling == SamplingShuffle, perEp: cfg.StepsPerEpoch(n)}
	for i := range s.perm {
		s.perm[i] = i
	}
	return s
}

// next returns the batch of the next step (valid until the following call). Independent mode:
// a partial Fisher-Yates shuffle of the first B positions of the running permutation, which makes
// perm[:B] a uniform random size-B subset (in random order) whatever the permutation was before.
// Shuffle mode: a full Fisher-Yates shuffle at the start of each epoch, then consecutive slices.
func (s *sampler) next() []int {
	n, b := len(s.perm), s.batch
	if !s.shuffle {
		for t := 0; t < b; t++ {
			j := t + s.rng.IntN(n-t)
			s.perm[t], s.perm[j] = s.perm[j], s.perm[t]
		}
		s.step++
		return s.perm[:b]
	}
	k := s.step % s.perEp
	if k == 0 {
		s.rng.Shuffle(n, func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
	}
	s.step++
	return s.perm[k*b : (k+1)*b]
}
