package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// This file holds the Monte Carlo oracle of the analysis tests: a direct simulation of the
// linearized dynamics in parameter space, independent of the package's eigenbasis and
// operators (it shares only the batch sampler with the trainer and the validation, so that it
// draws the batches SGD draws). The project's linearized simulator for the validation of eta* is
// validate.Linear.Growth; this one is kept on purpose, for the tests, because it also takes the
// per-sample gradients (Thm 5, Cor. 1) and records plain chain averages.

// simulation configures simulateDense: the linearized SGD dynamics around a minimum w*
// (THEORY.md, Setting), for x = w - w*,
//
//	x_{t+1} = x_t - eta (1/|batch_t|) sum_{i in batch_t} (H_i x_t + g_i),
//
// with the batches of scheme (internal/sampling; "mixture" is ALG(p) of Prop. 2, which has
// SGD's second-moment dynamics), over many seeded chains.
type simulation struct {
	eta    float64
	batch  int
	scheme string // sampling.Independent, sampling.Shuffle or sampling.Mixture
	steps  int
	chains int    // independent chains (default 1)
	every  int    // record the moments every `every` steps (default 1); t = 0 is recorded too
	seed   uint64 // chain c draws from PCG(seed, c): results do not depend on the worker count
	// rankTol: eigenvalues of H at or below rankTol * lambda_max(H) span null(H) for the range
	// projection P; 0 means the default of Options.RankTol.
	rankTol float64
	// init sets the starting point x_0 of a chain (x has length d); nil starts at x_0 = 0.
	init func(chain int, rng *rand.Rand, x []float64)
}

// trajectory holds chain averages at the recorded times.
type trajectory struct {
	t           []int     // recorded steps
	meanSq      []float64 // (1/chains) sum_c ||x_t||^2
	meanSqRange []float64 // (1/chains) sum_c ||P x_t||^2, P the projection onto range(H)
	stdErr      []float64 // standard error of meanSq across chains
	stdErrRange []float64 // standard error of meanSqRange
}

// addHx sets dst += H_i x.
func addHx(dst []float64, in *Dense, x []float64, i int) {
	h, d := in.Hessians[i], in.D
	for a := 0; a < d; a++ {
		s := 0.0
		for b, v := range h[a*d : (a+1)*d] {
			s += v * x[b]
		}
		dst[a] += s
	}
}

// rangeBasis returns an orthonormal basis (d x r, row-major) of range(H), H = (1/n) sum_i H_i,
// from its own eigendecomposition.
func rangeBasis(in *Dense, rankTol float64) ([]float64, int, error) {
	d := in.D
	h := make([]float64, d*d)
	for _, hi := range in.Hessians {
		for a, v := range hi {
			h[a] += v / float64(in.N)
		}
	}
	w := make([]float64, d)
	if err := linalg.EigSym(d, h, w, true); err != nil {
		return nil, 0, err
	}
	r := 0
	for r < d && w[d-1-r] > rankTol*w[d-1] {
		r++
	}
	v := make([]float64, d*r)
	for a := 0; a < r; a++ {
		for x := 0; x < d; x++ {
			v[x*r+a] = h[(d-1-a)*d+x]
		}
	}
	return v, r, nil
}

// simulateDense runs the simulation for explicit Hessians (gradients may have any mean here: a
// non-zero mean is a drift).
func simulateDense(in *Dense, s simulation) (*trajectory, error) {
	if err := in.Validate(Options{CenterGradients: true}); err != nil {
		return nil, err
	}
	n, d := in.N, in.D
	if !(s.eta > 0) || math.IsInf(s.eta, 0) || s.batch < 1 || s.batch > n || s.steps < 0 || s.chains < 0 || s.every < 0 {
		return nil, fmt.Errorf("simulation: bad settings %+v", s)
	}
	if err := sampling.Check(s.scheme); err != nil {
		return nil, err
	}
	s.chains, s.every = max(s.chains, 1), max(s.every, 1)
	v, r, err := rangeBasis(in, Options{RankTol: s.rankTol}.WithDefaults().RankTol)
	if err != nil {
		return nil, err
	}
	nrec := s.steps/s.every + 1
	sq := make([]float64, s.chains*nrec) // ||x||^2 per chain and record
	sqr := make([]float64, s.chains*nrec)
	run := func(c int) {
		rng := rand.New(rand.NewPCG(s.seed, uint64(c)))
		x := make([]float64, d)
		if s.init != nil {
			s.init(c, rng, x)
		}
		batches := sampling.NewSampler(rng, s.scheme, n, s.batch)
		step := make([]float64, d)
		record := func(k int) {
			s2, r2 := 0.0, 0.0
			for _, u := range x {
				s2 += u * u
			}
			for a := 0; a < r; a++ {
				y := 0.0
				for q := 0; q < d; q++ {
					y += v[q*r+a] * x[q]
				}
				r2 += y * y
			}
			sq[c*nrec+k], sqr[c*nrec+k] = s2, r2
		}
		record(0)
		for t := 1; t <= s.steps; t++ {
			clear(step)
			batch := batches.Next()
			for _, i := range batch {
				addHx(step, in, x, i)
				if in.Gradients != nil {
					for a, g := range in.Gradients[i] {
						step[a] += g
					}
				}
			}
			w := s.eta / float64(len(batch))
			for a := range x {
				x[a] -= w * step[a]
			}
			if t%s.every == 0 {
				record(t / s.every)
			}
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), s.chains) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				run(c)
			}
		}()
	}
	for c := 0; c < s.chains; c++ {
		next <- c
	}
	close(next)
	wg.Wait()
	tr := &trajectory{t: make([]int, nrec), meanSq: make([]float64, nrec), meanSqRange: make([]float64, nrec),
		stdErr: make([]float64, nrec), stdErrRange: make([]float64, nrec)}
	m := float64(s.chains)
	meanSE := func(col []float64, k int) (float64, float64) {
		var a, a2 float64
		for c := 0; c < s.chains; c++ {
			a += col[c*nrec+k]
			a2 += col[c*nrec+k] * col[c*nrec+k]
		}
		if s.chains == 1 {
			return a, 0
		}
		return a / m, math.Sqrt(math.Max(0, a2/m-(a/m)*(a/m)) / (m - 1))
	}
	for k := 0; k < nrec; k++ {
		tr.t[k] = k * s.every
		tr.meanSq[k], tr.stdErr[k] = meanSE(sq, k)
		tr.meanSqRange[k], tr.stdErrRange[k] = meanSE(sqr, k)
	}
	return tr, nil
}
