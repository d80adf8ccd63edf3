package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/internal/linalg"
)

// SharpnessPath is the sharpness recorded during a run (Config.SharpnessEvery): at checkpoint j,
// after epoch Epochs[j] (0: the initial point, before any step), Sharpness[j] is the Lanczos
// estimate of lambda_max(H_GN) of the Gauss-Newton matrix H_GN = (1/n) sum_i J_i^T M J_i at the
// parameters then (THEORY.md, "Structure worth exploiting": at an interpolating minimum H_GN is
// the Hessian H, whose lambda_max is the sharpness of Thm 1), StepSize[j] the step size in force
// (the step size of the epoch's last step; at epoch 0 that of the first step), so that the
// warm-up's 2/eta_t can be drawn beside it, and Residual[j] the relative Ritz residual
// ||H_GN x - theta x|| / theta of the estimate theta with unit Ritz vector x: some eigenvalue of
// H_GN lies within Residual[j] theta of theta. The estimate is a Ritz value, never above
// lambda_max. Non-finite parameters (a diverging run) give NaN.
type SharpnessPath struct {
	Epochs    []int     `json:"epochs"`
	Sharpness []float64 `json:"sharpness"`
	StepSize  []float64 `json:"step_size"`
	Residual  []float64 `json:"residual"`
}

type sharpnessPathJSON struct {
	Epochs    []int             `json:"epochs"`
	Sharpness []jsonfloat.Float `json:"sharpness"`
	StepSize  []jsonfloat.Float `json:"step_size"`
	Residual  []jsonfloat.Float `json:"residual"`
}

// MarshalJSON writes the path; non-finite values are "NaN", "+Inf" or "-Inf" (internal/jsonfloat).
func (s SharpnessPath) MarshalJSON() ([]byte, error) {
	return json.Marshal(sharpnessPathJSON{Epochs: s.Epochs, Sharpness: jsonfloat.Slice(s.Sharpness),
		StepSize: jsonfloat.Slice(s.StepSize), Residual: jsonfloat.Slice(s.Residual)})
}

// UnmarshalJSON reads what MarshalJSON writes and checks that the series have one length.
func (s *SharpnessPath) UnmarshalJSON(b []byte) error {
	var in sharpnessPathJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	n := len(in.Epochs)
	if len(in.Sharpness) != n || len(in.StepSize) != n || len(in.Residual) != n {
		return fmt.Errorf("train: sharpness path with %d epochs, %d sharpness values, %d step sizes, %d residuals",
			n, len(in.Sharpness), len(in.StepSize), len(in.Residual))
	}
	*s = SharpnessPath{Epochs: in.Epochs, Sharpness: jsonfloat.Float64s(in.Sharpness),
		StepSize: jsonfloat.Float64s(in.StepSize), Residual: jsonfloat.Float64s(in.Residual)}
	return nil
}

// SharpnessOptions configures the Lanczos iteration of one checkpoint of the sharpness tracking.
type SharpnessOptions struct {
	// Tol: stop when the relative Ritz residual ||H_GN x - theta x|| / theta <= Tol. The
	// eigenvalue error is then at most about Tol^2 theta^2 / gap (gap: the distance of theta to
	// the rest of the spectrum), far below Tol when the top eigenvalue is separated.
	Tol float64
	// MaxApplications caps the Gauss-Newton products of a warm-started checkpoint.
	MaxApplications int
	// ColdApplications caps them at the first checkpoint (and after a NaN), which starts from a
	// random vector.
	ColdApplications int
}

// DefaultSharpnessOptions are the options of the tracking of Train (measured cost in
// BenchmarkSharpnessTracking: see experiments/README.md). A warm start from the previous
// checkpoint's Ritz vector typically meets Tol after 1-3 products once the top eigenvector
// settles.
var DefaultSharpnessOptions = SharpnessOptions{Tol: 1e-2, MaxApplications: 4, ColdApplications: 100}

// sharpnessStream is the PCG stream of the tracking's cold start vector (its own generator: the
// trainer's sampling is untouched).
const sharpnessStream = 0x73686172_706e6573

// sharpnessTracker records a SharpnessPath, warm-starting every Lanczos iteration from the top
// Ritz vector of the previous checkpoint.
type sharpnessTracker struct {
	ds   *data.Dataset
	sp   *sparseX
	loss string
	opt  SharpnessOptions
	prev []float64 // previous Ritz vector; nil: cold start
	path SharpnessPath
	// products counts the Gauss-Newton products of every checkpoint (for the benchmark)
	products []int
}

func newSharpnessTracker(ds *data.Dataset, sp *sparseX, loss string, opt SharpnessOptions) *sharpnessTracker {
	return &sharpnessTracker{ds: ds, sp: sp, loss: loss, opt: opt}
}

// record appends the estimate at parameters p after epoch epoch, with step size lr in force.
func (t *sharpnessTracker) record(epoch int, lr float64, p Params) error {
	theta, res, vec, k, err := t.estimate(p)
	if err != nil {
		return fmt.Errorf("train: sharpness after epoch %d: %w", epoch, err)
	}
	t.prev = vec
	t.products = append(t.products, k)
	t.path.Epochs = append(t.path.Epochs, epoch)
	t.path.Sharpness = append(t.path.Sharpness, theta)
	t.path.StepSize = append(t.path.StepSize, lr)
	t.path.Residual = append(t.path.Residual, res)
	return nil
}

// errNonFinite marks a Gauss-Newton product that overflowed.
var errNonFinite = errors.New("the Gauss-Newton product returned non-finite values")

// estimate runs Lanczos on Gauss-Newton products at p from the previous Ritz vector (or a
// random one) and returns the top Ritz value, its relative residual, its vector (nil with
// NaN values when p or the products are not finite) and the number of products.
func (t *sharpnessTracker) estimate(p Params) (float64, float64, []float64, int, error) {
	for _, v := range p.Flat() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.NaN(), math.NaN(), nil, 0, nil
		}
	}
	m, err := newModelOn(t.ds, t.sp, p, t.loss)
	if err != nil {
		return 0, 0, nil, 0, err
	}
	m.cacheForward()
	x0, budget := t.prev, t.opt.MaxApplications
	if x0 == nil {
		rng := rand.New(rand.NewPCG(0, sharpnessStream))
		x0 = make([]float64, m.nPars)
		for i := range x0 {
			x0[i] = 2*rng.Float64() - 1
		}
		budget = t.opt.ColdApplications
	}
	products := 0
	apply := func(dst, v []float64) error {
		products++
		m.hvp(v, dst, true)
		for _, x := range dst {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return errNonFinite
			}
		}
		return nil
	}
	rz, _, err := linalg.LanczosTop(m.nPars, apply, x0, linalg.LanczosOptions{Tol: t.opt.Tol, MaxBasis: budget, MaxApplications: budget})
	switch {
	case errors.Is(err, errNonFinite):
		return math.NaN(), math.NaN(), nil, products, nil
	case err != nil:
		return 0, 0, nil, products, err
	case !(rz.Value > 0):
		// H_GN is PSD; a top Ritz value <= 0 means H_GN x0 = 0: no direction to keep, start
		// cold next time.
		return math.Max(rz.Value, 0), 0, nil, products, nil
	}
	return rz.Value, rz.Residual / rz.Value, rz.Vector, products, nil
}
