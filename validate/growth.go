package validate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// Start is the distribution of the initial point y_0 = A z, z ~ N(0, I_M): covariance A A^T.
type Start struct {
	R, M int
	A    []float64 // R x M row-major
}

// CovarianceStart returns the start whose covariance is the symmetric PSD m x m matrix s placed
// on the first m of r coordinates (A = U diag(sqrt(max(sigma, 0))) from s = U diag(sigma) U^T).
func CovarianceStart(r int, s []float64, m int) (*Start, error) {
	if m < 1 || m > r || len(s) != m*m {
		return nil, fmt.Errorf("validate: covariance start: %d entries for m = %d, r = %d", len(s), m, r)
	}
	a := append([]float64(nil), s...)
	w := make([]float64, m)
	if err := linalg.EigSym(m, a, w, true); err != nil {
		return nil, fmt.Errorf("validate: covariance start: %v", err)
	}
	st := &Start{R: r, M: m, A: make([]float64, r*m)}
	for j := 0; j < m; j++ {
		sq := math.Sqrt(math.Max(w[j], 0))
		vec := a[j*m : (j+1)*m] // eigenvector of w[j]
		for x := 0; x < m; x++ {
			st.A[x*m+j] = vec[x] * sq
		}
	}
	return st, nil
}

// GrowthOptions configures Growth. The zero value of every field except Eta and Batch means the
// default in its comment.
type GrowthOptions struct {
	// Process is the batch scheme (internal/sampling): "independent" (default: SGD, a uniform
	// random size-B subset every step), "shuffle" or "mixture" (ALG(p) of Prop. 2).
	Process string
	Batch   int     // B (required); for the mixture it sets p = (n-B)/(B(n-1))
	Eta     float64 // step size (required, > 0)
	// Chains is the number of chains (particles) of one population; default 256.
	Chains int
	// Replicas is the number of independent populations; the interval comes from their spread.
	// Default 8.
	Replicas int
	Steps    int // steps; default 200
	// Burn is the first step of the estimation window [Burn, Steps]; default Steps/4.
	Burn int
	// Level of the two-sided Student-t interval over replicas; default 0.95.
	Level   float64
	Seed    uint64
	Workers int // goroutines; default GOMAXPROCS
}

// scheme resolves a process name: "" means sampling.Independent; an unknown name is an error.
func scheme(process string) (string, error) {
	if process == "" {
		return sampling.Independent, nil
	}
	if err := sampling.Check(process); err != nil {
		return "", fmt.Errorf("validate: process: %w", err)
	}
	return process, nil
}

func (o GrowthOptions) withDefaults() GrowthOptions {
	if o.Chains == 0 {
		o.Chains = 256
	}
	if o.Replicas == 0 {
		o.Replicas = 8
	}
	if o.Steps == 0 {
		o.Steps = 200
	}
	if o.Burn == 0 {
		o.Burn = o.Steps / 4
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

func (o GrowthOptions) validate(n int) error {
	switch {
	case o.Batch < 1 || o.Batch > n:
		return fmt.Errorf("validate: batch %d is outside 1..%d", o.Batch, n)
	case !(o.Eta > 0) || math.IsInf(o.Eta, 0):
		return fmt.Errorf("validate: step size %v is not positive and finite", o.Eta)
	case o.Chains < 2 || o.Replicas < 2 || o.Steps < 2:
		return fmt.Errorf("validate: need chains >= 2, replicas >= 2, steps >= 2 (got %d, %d, %d)", o.Chains, o.Replicas, o.Steps)
	case o.Burn < 0 || o.Burn >= o.Steps:
		return fmt.Errorf("validate: burn %d is outside 0..%d", o.Burn, o.Steps-1)
	case !(o.Level > 0 && o.Level < 1):
		return fmt.Errorf("validate: level %v is outside (0, 1)", o.Level)
	}
	return nil
}

// Growth is the estimated growth rate of the mean square E||x_t||^2 of linearized SGD.
type Growth struct {
	// Rate estimates (log E||y_Steps||^2 - log E||y_Burn||^2) / (Steps - Burn), the mean per-step
	// log growth of the second moment over the window (0 at the threshold, > 0 unstable): the mean
	// over replicas; [Lo, Hi] is the Student-t interval of that mean.
	Rate, Lo, Hi float64
	// Replica holds each replica's rate.
	Replica []float64
	// LogMeanSquare[t] estimates log(E||y_t||^2 / E||y_0||^2), averaged over replicas (t = 0..Steps).
	LogMeanSquare                 []float64
	Chains, Replicas, Steps, Burn int
}

// Verdict classifies the interval: "growth" if Lo > 0, "decay" if Hi < 0, else "ambiguous".
func (g *Growth) Verdict() string {
	switch {
	case g.Lo > 0:
		return "growth"
	case g.Hi < 0:
		return "decay"
	}
	return "ambiguous"
}

// Growth estimates the growth rate of E||y_t||^2 = E||x_t||^2 for linearized SGD (or ALG(p))
// started from y_0 ~ start, by a population of chains with resampling (sequential Monte Carlo for
// the Feynman-Kac product E||y_T||^2 = E prod_t ||y_{t+1}||^2 / ||y_t||^2):
//
//	every chain is kept at unit norm; one step moves every chain independently and gives it the
//	weight r_j = ||y'_j||^2; the step's growth factor is g_t = (1/J) sum_j r_j; the chains are
//	then resampled in proportion to r_j (systematic resampling) and renormalized.
//
// prod_t g_t is an unbiased estimate of E||y_T||^2 / E||y_0||^2. Plain independent chains would
// estimate the same mean but, just above eta*, E||x_t||^2 is carried by paths too rare to be
// sampled (THEORY.md, pitfalls); resampling clones the growing paths instead. Replicas are
// independent populations, replica k drawing from PCG(Seed, k), so the result does not depend
// on Workers.
func (l *Linear) Growth(start *Start, opt GrowthOptions) (*Growth, error) {
	l.check()
	opt = opt.withDefaults()
	var err error
	if opt.Process, err = scheme(opt.Process); err != nil {
		return nil, err
	}
	if err := opt.validate(l.N); err != nil {
		return nil, err
	}
	if start == nil || start.R != l.R || len(start.A) != start.R*start.M {
		return nil, fmt.Errorf("validate: start does not match the problem's %d coordinates", l.R)
	}
	T := opt.Steps
	curves := make([][]float64, opt.Replicas)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim := newLinSim(l, opt)
			for k := range next {
				curves[k] = sim.population(k, start)
			}
		}()
	}
	for k := 0; k < opt.Replicas; k++ {
		next <- k
	}
	close(next)
	wg.Wait()

	g := &Growth{Chains: opt.Chains, Replicas: opt.Replicas, Steps: T, Burn: opt.Burn,
		LogMeanSquare: make([]float64, T+1), Replica: make([]float64, opt.Replicas)}
	for k, c := range curves {
		for t, v := range c {
			g.LogMeanSquare[t] += v / float64(opt.Replicas)
		}
		g.Replica[k] = (c[T] - c[opt.Burn]) / float64(T-opt.Burn)
	}
	mean, sd := stat.MeanStdDev(g.Replica, nil)
	half := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(opt.Replicas - 1)}.Quantile(1-(1-opt.Level)/2) *
		sd / math.Sqrt(float64(opt.Replicas))
	g.Rate, g.Lo, g.Hi = mean, mean-half, mean+half
	return g, nil
}

// linSim holds one worker's buffers.
type linSim struct {
	l       *Linear
	opt     GrowthOptions
	y, u, z []float64
	batches *sampling.Sampler
}

func newLinSim(l *Linear, opt GrowthOptions) *linSim {
	return &linSim{l: l, opt: opt, u: make([]float64, l.R), z: make([]float64, l.K)}
}

// addSample sets u += scale * F_i^T F_i y.
func (s *linSim) addSample(i int, scale float64) {
	k, r := s.l.K, s.l.R
	f := s.l.block(i)
	for a := 0; a < k; a++ {
		row := f[a*r : (a+1)*r]
		v := 0.0
		for b, x := range row {
			v += x * s.y[b]
		}
		s.z[a] = v * scale
	}
	for a := 0; a < k; a++ {
		row := f[a*r : (a+1)*r]
		za := s.z[a]
		if za == 0 {
			continue
		}
		for b, x := range row {
			s.u[b] += za * x
		}
	}
}

// step advances y by one step of the process, y <- y - (eta/|batch|) sum_{i in batch} F_i^T F_i y,
// on the next batch of s.batches. A full-batch step of the mixture is y <- y - eta diag(L) y
// (H = diag(L) in the basis).
func (s *linSim) step() {
	l, eta := s.l, s.opt.Eta
	for b := range s.u {
		s.u[b] = 0
	}
	batch := s.batches.Next()
	if s.opt.Process == sampling.Mixture && len(batch) == l.N {
		for b, lb := range l.L {
			s.u[b] = eta * lb * s.y[b]
		}
	} else {
		scale := eta / float64(len(batch))
		for _, i := range batch {
			s.addSample(i, scale)
		}
	}
	for b := range s.y {
		s.y[b] -= s.u[b]
	}
}

// population runs replica k and returns log(prod_{s<=t} g_s) for t = 0..Steps (0 at t = 0).
func (s *linSim) population(k int, start *Start) []float64 {
	rng := rand.New(rand.NewPCG(s.opt.Seed, uint64(k)))
	// Every replica has its own sampler (starting from the identity permutation) on the
	// replica's stream, so its batches depend only on its own seed, not on which replicas the
	// same worker ran before.
	s.batches = sampling.NewSampler(rng, s.opt.Process, s.l.N, s.opt.Batch)
	J, R := s.opt.Chains, s.l.R
	ys := make([]float64, J*R)
	spare := make([]float64, J*R)
	w := make([]float64, J)
	z := make([]float64, start.M)
	for j := 0; j < J; j++ {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		y := ys[j*R : (j+1)*R]
		for x := 0; x < R; x++ {
			v := 0.0
			for i, a := range start.A[x*start.M : (x+1)*start.M] {
				v += a * z[i]
			}
			y[x] = v
		}
		w[j] = dot(y, y)
	}
	curve := make([]float64, s.opt.Steps+1)
	ys, spare = resample(rng, ys, spare, w, R) // y_0 weighted by ||y_0||^2: covariance A A^T
	for t := 1; t <= s.opt.Steps; t++ {
		sum := 0.0
		for j := 0; j < J; j++ {
			s.y = ys[j*R : (j+1)*R]
			s.step()
			w[j] = dot(s.y, s.y)
			sum += w[j]
		}
		g := sum / float64(J)
		curve[t] = curve[t-1] + math.Log(g)
		if !(g > 0) || math.IsInf(g, 0) || math.IsNaN(g) {
			for ; t <= s.opt.Steps; t++ {
				curve[t] = math.NaN()
			}
			break
		}
		ys, spare = resample(rng, ys, spare, w, R)
	}
	return curve
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// resample draws len(w) chains from ys (rows of length r) in proportion to w by systematic
// resampling into dst, normalizes each to unit norm, and returns (dst, ys) (the new population
// and the spare buffer).
func resample(rng *rand.Rand, ys, dst, w []float64, r int) ([]float64, []float64) {
	J := len(w)
	total := 0.0
	for _, v := range w {
		total += v
	}
	u := rng.Float64() / float64(J)
	acc, src := w[0]/total, 0
	for j := 0; j < J; j++ {
		pos := u + float64(j)/float64(J)
		for pos > acc && src < J-1 {
			src++
			acc += w[src] / total
		}
		inv := 1 / math.Sqrt(w[src])
		from, to := ys[src*r:(src+1)*r], dst[j*r:(j+1)*r]
		for x, v := range from {
			to[x] = v * inv
		}
	}
	return dst, ys
}
