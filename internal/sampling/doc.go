// Package sampling holds what the trainer, the linearized simulator and the validation all need
// about SGD's batches: the three batch schemes under one set of names ([Independent], [Shuffle],
// [Mixture]) drawn by one [Sampler], the batch rule itself ([Batch]) and the covariance factor
// p of batches drawn without replacement ([P]). Every random draw comes from the *rand.Rand the
// caller passes in, so the same seed draws the same batches everywhere.
package sampling
