package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

// Simulation configures runs of the linearized SGD dynamics around a minimum w* (THEORY.md,
// Setting), for x = w - w*:
//
//	x_{t+1} = x_t - eta (1/B) sum_{i in batch_t} (H_i x_t + g_i)
//
// with batch_t a uniformly random size-B subset (without replacement), drawn independently every
// step; or, with Mixture, the process ALG(p) of Prop. 2: with probability p = (n-B)/(B(n-1)) a
// single-sample step on a uniform index, otherwise a full-batch step. Both have the same
// second-moment dynamics (Prop. 2).
type Simulation struct {
	Eta     float64
	Batch   int
	Mixture bool
	Steps   int
	Chains  int    // independent chains (default 1)
	Every   int    // record the moments every Every steps (default 1); t = 0 is recorded too
	Seed    uint64 // chain c uses the PCG stream (Seed, c): results do not depend on the worker count
	// Init sets the starting point x_0 of a chain (x has length d); nil starts at x_0 = 0.
	Init func(chain int, rng *rand.Rand, x []float64)
}

// Trajectory holds chain averages at the recorded times.
type Trajectory struct {
	T           []int     // recorded steps
	MeanSq      []float64 // (1/chains) sum_c ||x_t||^2
	MeanSqRange []float64 // (1/chains) sum_c ||P x_t||^2, P the projection onto range(H)
	StdErr      []float64 // standard error of MeanSq across chains
	StdErrRange []float64 // standard error of MeanSqRange
}

// dynamics applies the per-sample Hessians to vectors.
type dynamics interface {
	dim() int
	hx(dst, x []float64, i int) // dst += H_i x
}

type denseDyn struct{ in *Dense }

func (d denseDyn) dim() int { return d.in.D }
func (d denseDyn) hx(dst, x []float64, i int) {
	h, n := d.in.Hessians[i], d.in.D
	for a := 0; a < n; a++ {
		s := 0.0
		row := h[a*n : (a+1)*n]
		for b, v := range row {
			s += v * x[b]
		}
		dst[a] += s
	}
}

type factDyn struct {
	in *Factored
}

func (f factDyn) dim() int { return f.in.D }
func (f factDyn) hx(dst, x []float64, i int) {
	k, d := f.in.K, f.in.D
	j := f.in.Factors[i]
	var jx [16]float64
	z := jx[:0]
	if k > 16 {
		z = make([]float64, 0, k)
	}
	for a := 0; a < k; a++ {
		s := 0.0
		for b, v := range j[a*d : (a+1)*d] {
			s += v * x[b]
		}
		z = append(z, s)
	}
	for a := 0; a < k; a++ {
		s := 0.0
		for b := 0; b < k; b++ {
			s += f.in.OutputHessian[a*k+b] * z[b]
		}
		if s == 0 {
			continue
		}
		for c, v := range j[a*d : (a+1)*d] {
			dst[c] += s * v
		}
	}
}

// SimulateDense runs the linearized dynamics for explicit Hessians. Gradients may have any mean
// here (a non-zero mean is a drift).
func SimulateDense(in *Dense, s Simulation) (*Trajectory, error) {
	if err := in.Validate(Options{CenterGradients: true}); err != nil {
		return nil, err
	}
	pr, err := newDenseProblem(in, 1e-10)
	if err != nil {
		return nil, err
	}
	return simulate(denseDyn{in}, in.N, in.Gradients, pr, s)
}

// SimulateFactored runs the linearized dynamics for Gauss-Newton curvature H_i = J_i^T M J_i,
// applying H_i x = J_i^T (M (J_i x)) in O(k d).
func SimulateFactored(in *Factored, s Simulation) (*Trajectory, error) {
	if err := in.Validate(Options{CenterGradients: true}); err != nil {
		return nil, err
	}
	pr, err := newFactoredProblem(in, 1e-10)
	if err != nil {
		return nil, err
	}
	return simulate(factDyn{in: in}, in.N, in.Gradients, pr, s)
}

func simulate(dyn dynamics, n int, grads [][]float64, pr *problem, s Simulation) (*Trajectory, error) {
	if !(s.Eta > 0) || math.IsInf(s.Eta, 0) {
		return nil, fmt.Errorf("analysis: simulation step size %v must be positive and finite", s.Eta)
	}
	if err := checkBatch(n, s.Batch); err != nil {
		return nil, err
	}
	if s.Steps < 0 || s.Chains < 0 || s.Every < 0 {
		return nil, fmt.Errorf("analysis: negative simulation length")
	}
	if s.Chains == 0 {
		s.Chains = 1
	}
	if s.Every == 0 {
		s.Every = 1
	}
	d := dyn.dim()
	p := P(n, s.Batch)
	nrec := s.Steps/s.Every + 1
	sq := make([]float64, s.Chains*nrec) // ||x||^2 per chain and record
	sqr := make([]float64, s.Chains*nrec)
	var gbar []float64
	if grads != nil {
		gbar = make([]float64, d)
		for _, g := range grads {
			for a, v := range g {
				gbar[a] += v / float64(n)
			}
		}
	}
	run := func(c int) {
		rng := rand.New(rand.NewPCG(s.Seed, uint64(c)))
		x := make([]float64, d)
		if s.Init != nil {
			s.Init(c, rng, x)
		}
		step := make([]float64, d)
		y := make([]float64, pr.r)
		perm := make([]int, n)
		for i := range perm {
			perm[i] = i
		}
		record := func(k int) {
			s2 := 0.0
			for _, v := range x {
				s2 += v * v
			}
			pr.space.project(y, [][]float64{x})
			r2 := 0.0
			for _, v := range y {
				r2 += v * v
			}
			sq[c*nrec+k], sqr[c*nrec+k] = s2, r2
		}
		record(0)
		for t := 1; t <= s.Steps; t++ {
			for a := range step {
				step[a] = 0
			}
			var w float64
			switch {
			case s.Mixture && rng.Float64() < p: // ALG(p): one uniform sample
				i := rng.IntN(n)
				dyn.hx(step, x, i)
				if grads != nil {
					for a, v := range grads[i] {
						step[a] += v
					}
				}
				w = 1
			case s.Mixture: // ALG(p): full batch
				for i := 0; i < n; i++ {
					dyn.hx(step, x, i)
				}
				w = 1 / float64(n)
				if grads != nil {
					for a, v := range gbar {
						step[a] += float64(n) * v
					}
				}
			default: // SGD: uniform size-B subset without replacement
				for _, i := range sampling.Batch(rng, perm, s.Batch) {
					dyn.hx(step, x, i)
					if grads != nil {
						for a, v := range grads[i] {
							step[a] += v
						}
					}
				}
				w = 1 / float64(s.Batch)
			}
			for a := range x {
				x[a] -= s.Eta * w * step[a]
			}
			if t%s.Every == 0 {
				record(t / s.Every)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), s.Chains)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				run(c)
			}
		}()
	}
	for c := 0; c < s.Chains; c++ {
		next <- c
	}
	close(next)
	wg.Wait()
	tr := &Trajectory{T: make([]int, nrec), MeanSq: make([]float64, nrec), MeanSqRange: make([]float64, nrec),
		StdErr: make([]float64, nrec), StdErrRange: make([]float64, nrec)}
	m := float64(s.Chains)
	for k := 0; k < nrec; k++ {
		tr.T[k] = k * s.Every
		var a, a2, b, b2 float64
		for c := 0; c < s.Chains; c++ {
			v, u := sq[c*nrec+k], sqr[c*nrec+k]
			a += v
			a2 += v * v
			b += u
			b2 += u * u
		}
		tr.MeanSq[k], tr.MeanSqRange[k] = a/m, b/m
		if s.Chains > 1 {
			tr.StdErr[k] = math.Sqrt(math.Max(0, a2/m-(a/m)*(a/m)) / (m - 1))
			tr.StdErrRange[k] = math.Sqrt(math.Max(0, b2/m-(b/m)*(b/m)) / (m - 1))
		}
	}
	return tr, nil
}
