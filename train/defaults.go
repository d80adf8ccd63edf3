package train

// Defaults chosen by the convergence exploration (see the comment below; provisional until the
// exploration is recorded).
const (
	DefaultInitFactor   = 1.0
	DefaultWarmupEpochs = 100.0
	DefaultMaxEpochs    = 5000
)
