package train

import (
	"math/rand/v2"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// newSampler returns the batch sampler of a run on n samples: scheme cfg.Sampling (defaults
// filled in), drawing from the run's own stream PCG(cfg.Seed, sampleStream).
func newSampler(n int, cfg Config) *sampling.Sampler {
	return sampling.NewSampler(rand.New(rand.NewPCG(cfg.Seed, sampleStream)), cfg.Sampling, n, cfg.Batch)
}
