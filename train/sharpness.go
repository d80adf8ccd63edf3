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

// DefaultSharpnessOptions are the options of the tracking of Train (measured cost: see
// BenchmarkSharpnessTracking and experiments/README.md). A warm start from the previous
// checkpoint's Ritz vector mostly meets Tol after one product; a relative residual of 1e-2 gave
// eigenvalue errors of 1e-6 to 2e-4 against Lanczos converged to 1e-8 (the tests).
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
	gn := newGNProduct(m)
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
		gn.apply(v, dst)
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

// gnProduct is the Gauss-Newton product H_GN v = (1/n) sum_i J_i^T M J_i v at a model point with
// a cached forward pass, computed with the fused engine's kernels: J_i v needs R(u_i) = V1 x_i +
// vb1 (the engine's sparse row products, with V1 in the engine's transposed layout), and the W1
// block of the result, sum_i dz_i x_i^T, the engine's column update over all samples. It is the
// same product as model.hvp(v, out, true), summed in another order (the tests compare them).
type gnProduct struct {
	m     *model
	eng   *fused    // a view: sp, d, h, stride h, w1t (V1^T, then the result's W1^T) and dz
	v1t   []float64 // D x h
	o1t   []float64 // D x h
	dz    []float64 // n x h: (1/n) relu'(u_i) .* W2^T R(df_i)
	z, ra []float64
	rdf   []float64
}

func newGNProduct(m *model) *gnProduct {
	n, d, h := m.ds.N, m.d, m.h
	g := &gnProduct{m: m, v1t: make([]float64, d*h), o1t: make([]float64, d*h), dz: make([]float64, n*h),
		z: make([]float64, h), ra: make([]float64, h), rdf: make([]float64, m.k)}
	g.eng = &fused{sp: m.sp, d: d, h: h, stride: h, dz: g.dz}
	return g
}

// apply writes H_GN v into out.
func (g *gnProduct) apply(v, out []float64) {
	m := g.m
	n, d, h, k := m.ds.N, m.d, m.h, m.k
	v1, vb1, v2, vb2 := v[:m.oB1], v[m.oB1:m.oW2], v[m.oW2:m.oB2], v[m.oB2:]
	o1, ob1, o2, ob2 := out[:m.oB1], out[m.oB1:m.oW2], out[m.oW2:m.oB2], out[m.oB2:]
	clear(out)
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			g.v1t[q*h+j] = v1[j*d+q]
		}
	}
	g.eng.w1t = g.v1t
	inv := 1 / float64(n)
	for i := 0; i < n; i++ {
		u, a := m.fu[i*h:(i+1)*h], m.fa[i*h:(i+1)*h]
		g.eng.preact(i, g.z)
		for j := range g.ra {
			g.ra[j] = 0
			if u[j] > 0 {
				g.ra[j] = g.z[j] + vb1[j]
			}
		}
		for o := 0; o < k; o++ {
			rf := vb2[o]
			for j := 0; j < h; j++ {
				rf += v2[o*h+j]*a[j] + m.w2[o*h+j]*g.ra[j]
			}
			g.rdf[o] = 2 * m.c * rf
			ob2[o] += inv * g.rdf[o]
			for j := 0; j < h; j++ {
				o2[o*h+j] += inv * g.rdf[o] * a[j]
			}
		}
		dz := g.dz[i*h : (i+1)*h]
		for j := 0; j < h; j++ {
			s := 0.0
			if u[j] > 0 {
				for o := 0; o < k; o++ {
					s += m.w2[o*h+j] * g.rdf[o]
				}
			}
			dz[j] = inv * s
			ob1[j] += dz[j]
		}
	}
	// W1^T block: sum_i x_i dz_i^T by columns (the engine's update W1^T -= s G with s = -1)
	clear(g.o1t)
	g.eng.w1t = g.o1t
	g.eng.columnUpdate(m.sp.active, m.sp.cptr, m.sp.rows, m.sp.cval, n, -1)
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			o1[j*d+q] = g.o1t[q*h+j]
		}
	}
}
