package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// Defaults of the fields of Config (the zero value of a field means its default). The choice of
// Hidden, InitFactor, WarmupSteps and MaxEpochs comes from the convergence exploration recorded
// in experiments/EXPLORATION.md.
const (
	DefaultHidden        = 100
	DefaultLoss          = LossSum
	DefaultConvThreshold = 1e-6
	DefaultConvEpochs    = 200
	DefaultSampling      = sampling.Independent
	DefaultDivergeLoss   = 1e6
	DefaultEngine        = EngineFused
)

// Loss options: the per-sample loss is l_i = c ||f(x_i) - y_i||^2 with c given by LossScale.
const (
	LossSum      = "sum"       // c = 1
	LossHalfSum  = "half_sum"  // c = 1/2
	LossMean     = "mean"      // c = 1/K
	LossHalfMean = "half_mean" // c = 1/(2K)
)

// Engines.
const (
	EngineFused    = "fused"    // hand-written kernel (sparse inputs, blas64.Gemm at large B)
	EngineGorgonia = "gorgonia" // gorgonia expression graph on a TapeMachine
)

// Config is one training run: the network (Model), the step size, batch size and sampling seed
// (the swept quantities), and the rest of the SGD procedure (Procedure). The zero value of every
// field except LR and Batch means the default named in the field's comment; LR and Batch must be
// set. Model and Procedure are embedded, so their fields read as fields of Config and its JSON and
// YAML encodings are flat (hidden, init_factor, ..., lr, batch, seed, warmup_steps, ...).
type Config struct {
	Model `yaml:",inline"`
	// LR is the target step size eta (> 0, required).
	LR float64 `json:"lr" yaml:"lr"`
	// Batch is the batch size B, 1..n (required).
	Batch int `json:"batch" yaml:"batch"`
	// Seed seeds the batch sampling. Default 0.
	Seed      uint64 `json:"seed" yaml:"seed"`
	Procedure `yaml:",inline"`
}

// Model is the network and its initial point.
type Model struct {
	// Hidden is the number of hidden ReLU units h. Default DefaultHidden (the paper's regime: experiments/EXPLORATION.md).
	Hidden int `json:"hidden" yaml:"hidden"`
	// InitFactor multiplies every weight and bias of PyTorch's default initialization.
	// Default DefaultInitFactor.
	InitFactor float64 `json:"init_factor" yaml:"init_factor"`
	// InitSeed seeds the initial point (the same for every run of a sweep). Default 0.
	InitSeed uint64 `json:"init_seed" yaml:"init_seed"`
	// Loss is the per-sample normalization: "sum" (default), "half_sum", "mean", "half_mean".
	Loss string `json:"loss" yaml:"loss"`
}

// Procedure is the SGD procedure apart from the step size, the batch size and the seed: warm-up,
// convergence rule, epoch limit, sampling scheme, divergence bound and engine.
type Procedure struct {
	// WarmupSteps is the length W of the linear warm-up eta_t = eta min(1, (t+1)/W), counted in
	// SGD steps (t = 0, 1, ...); a negative value means no warm-up. 0: the length is given by
	// WarmupEpochs instead.
	WarmupSteps int `json:"warmup_steps" yaml:"warmup_steps"`
	// WarmupEpochs gives the warm-up length in epochs when WarmupSteps is 0:
	// W = ceil(WarmupEpochs * StepsPerEpoch). Default (both 0) DefaultWarmupEpochs; negative: no
	// warm-up. Counting in epochs gives small batches the long warm-up (in steps) that their noisy
	// steps need, without spending thousands of epochs on it at B = n (see experiments/EXPLORATION.md).
	WarmupEpochs float64 `json:"warmup_epochs" yaml:"warmup_epochs"`
	// ConvThreshold and ConvEpochs: converged when the full-batch loss stayed below ConvThreshold
	// for ConvEpochs consecutive epochs. Defaults 1e-6 and 200 (the paper's rule).
	ConvThreshold float64 `json:"conv_threshold" yaml:"conv_threshold"`
	ConvEpochs    int     `json:"conv_epochs" yaml:"conv_epochs"`
	// MaxEpochs ends a run that has not converged (status "epoch_limit"). Default DefaultMaxEpochs.
	MaxEpochs int `json:"max_epochs" yaml:"max_epochs"`
	// Sampling is the batch scheme (internal/sampling): "independent" (default: a uniform random
	// size-B subset every step), "shuffle" (a permutation per epoch, consecutive slices) or
	// "mixture" (ALG(p) of THEORY.md Prop. 2, fused engine only).
	Sampling string `json:"sampling" yaml:"sampling"`
	// DivergeLoss: a full-batch loss above it (or NaN/Inf) ends the run as "diverged". Default 1e6.
	DivergeLoss float64 `json:"diverge_loss" yaml:"diverge_loss"`
	// Engine is "fused" (default) or "gorgonia".
	Engine string `json:"engine" yaml:"engine"`
	// SharpnessEvery, when positive, records the sharpness lambda_max of the Gauss-Newton matrix
	// every SharpnessEvery epochs, at epoch 0 and at the last epoch (Result.SharpnessPath); it
	// does not change the training. 0 (the default, left out of the JSON encoding so that run
	// identities without tracking stay what they were): off.
	SharpnessEvery int `json:"sharpness_every,omitempty" yaml:"sharpness_every"`
}

// WithDefaults returns c with every unset field replaced by its default. LR and Batch are kept.
func (c Config) WithDefaults() Config {
	if c.Hidden == 0 {
		c.Hidden = DefaultHidden
	}
	if c.InitFactor == 0 {
		c.InitFactor = DefaultInitFactor
	}
	if c.Loss == "" {
		c.Loss = DefaultLoss
	}
	if c.WarmupSteps == 0 && c.WarmupEpochs == 0 {
		c.WarmupEpochs = DefaultWarmupEpochs
	}
	if c.ConvThreshold == 0 {
		c.ConvThreshold = DefaultConvThreshold
	}
	if c.ConvEpochs == 0 {
		c.ConvEpochs = DefaultConvEpochs
	}
	if c.MaxEpochs == 0 {
		c.MaxEpochs = DefaultMaxEpochs
	}
	if c.Sampling == "" {
		c.Sampling = DefaultSampling
	}
	if c.DivergeLoss == 0 {
		c.DivergeLoss = DefaultDivergeLoss
	}
	if c.Engine == "" {
		c.Engine = DefaultEngine
	}
	return c
}

// FieldError is a problem with one field of a Config; Field is its JSON/YAML key (e.g.
// "init_factor"), so that a caller reading the config from a file can name the key.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return "train: " + e.Reason }

// Validate reports the first problem of c (after defaults) for a data set of n samples, naming the
// field, before any training happens. A problem with a field is a *FieldError.
func (c Config) Validate(n int) error {
	c = c.WithDefaults()
	finitePos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	bad := func(field, format string, a ...any) error {
		return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case n < 1:
		return fmt.Errorf("train: data set has %d samples, want at least 1", n)
	case c.Hidden < 1:
		return bad("hidden", "hidden = %d, want at least 1", c.Hidden)
	case math.IsNaN(c.InitFactor) || math.IsInf(c.InitFactor, 0) || c.InitFactor < 0:
		return bad("init_factor", "init_factor = %v, want a finite number > 0 (0: the default)", c.InitFactor)
	case c.LR == 0:
		return bad("lr", "lr is not set (want a step size > 0)")
	case !finitePos(c.LR):
		return bad("lr", "lr = %v, want a finite step size > 0", c.LR)
	case c.Batch == 0:
		return bad("batch", "batch is not set (want a batch size in 1..%d)", n)
	case c.Batch < 1 || c.Batch > n:
		return bad("batch", "batch = %d, want a batch size in 1..n = %d", c.Batch, n)
	case !finitePos(c.ConvThreshold):
		return bad("conv_threshold", "conv_threshold = %v, want a finite number > 0", c.ConvThreshold)
	case math.IsNaN(c.WarmupEpochs) || math.IsInf(c.WarmupEpochs, 0):
		return bad("warmup_epochs", "warmup_epochs = %v, want a finite number", c.WarmupEpochs)
	case c.WarmupSteps > 0 && c.WarmupEpochs > 0:
		return bad("warmup_steps", "warmup_steps = %d and warmup_epochs = %v: set one of them, not both", c.WarmupSteps, c.WarmupEpochs)
	case c.ConvEpochs < 1:
		return bad("conv_epochs", "conv_epochs = %d, want at least 1", c.ConvEpochs)
	case c.MaxEpochs < 1:
		return bad("max_epochs", "max_epochs = %d, want at least 1", c.MaxEpochs)
	case !(c.DivergeLoss > 0) || math.IsNaN(c.DivergeLoss):
		return bad("diverge_loss", "diverge_loss = %v, want a number > 0", c.DivergeLoss)
	case c.SharpnessEvery < 0:
		return bad("sharpness_every", "sharpness_every = %d, want an interval in epochs >= 1 (0: off)", c.SharpnessEvery)
	}
	if _, err := LossScale(c.Loss, 1); err != nil {
		return bad("loss", "%s", strings.TrimPrefix(err.Error(), "train: "))
	}
	if err := sampling.Check(c.Sampling); err != nil {
		return bad("sampling", "%v", err)
	}
	switch c.Engine {
	case EngineFused, EngineGorgonia:
	default:
		return bad("engine", "unknown engine %q (want %q or %q)", c.Engine, EngineFused, EngineGorgonia)
	}
	if c.Sampling == sampling.Mixture && c.Engine == EngineGorgonia {
		// the gorgonia graph is built for one batch size; ALG(p) mixes sizes 1 and n
		return bad("sampling", "sampling %q needs engine %q (the gorgonia graph has one fixed batch size)", sampling.Mixture, EngineFused)
	}
	return nil
}

// LossScale returns c of l_i = c ||f(x_i) - y_i||^2 for the loss option name and K outputs; the
// loss's output Hessian is M = 2c I.
func LossScale(loss string, k int) (float64, error) {
	switch loss {
	case LossSum, "":
		return 1, nil
	case LossHalfSum:
		return 0.5, nil
	case LossMean:
		return 1 / float64(k), nil
	case LossHalfMean:
		return 0.5 / float64(k), nil
	}
	return 0, fmt.Errorf("train: unknown loss %q (want %q, %q, %q or %q)", loss, LossSum, LossHalfSum, LossMean, LossHalfMean)
}

// StepsPerEpoch is the number of SGD steps of one epoch for n samples: ceil(n/B) for independent
// batches and the mixture process, floor(n/B) for shuffling (sampling.StepsPerEpoch).
func (c Config) StepsPerEpoch(n int) int {
	c = c.WithDefaults()
	return sampling.StepsPerEpoch(c.Sampling, n, c.Batch)
}

// WarmupLength is the warm-up length W in steps for n samples (0: no warm-up).
func (c Config) WarmupLength(n int) int {
	c = c.WithDefaults()
	switch {
	case c.WarmupSteps > 0:
		return c.WarmupSteps
	case c.WarmupSteps < 0 || c.WarmupEpochs <= 0:
		return 0
	}
	return int(math.Ceil(c.WarmupEpochs * float64(c.StepsPerEpoch(n))))
}

// StepLR is the step size of SGD step t (0-based) for n samples under the linear warm-up:
// eta min(1, (t+1)/W) with W = WarmupLength(n).
func (c Config) StepLR(t, n int) float64 {
	c = c.WithDefaults()
	w := c.WarmupLength(n)
	if t+1 >= w {
		return c.LR
	}
	return c.LR * float64(t+1) / float64(w)
}
