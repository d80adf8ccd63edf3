package train

// Defaults of the model and schedule. How they were chosen, with the measurements, is in
// experiments/EXPLORATION.md.
const (
	DefaultInitFactor   = 10.0
	DefaultWarmupEpochs = 100.0
	DefaultMaxEpochs    = 20000
)
