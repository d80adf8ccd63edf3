// Package resultstest builds synthetic results tables for the tests of the packages that read
// tables (claims, plots, experiments/report).
package resultstest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// Synth describes a synthetic results table built to look like the real sweep's (THEORY.md):
// generalized sharpness a little below 2/eta (SGD at the edge), sharpness below it by a factor
// that grows with p = (n-B)/(B(n-1)), bounds (15) and (25) in between as chain (26) demands,
// and the largest step sizes diverging at small B. Every (B, eta) pair is one run per seed of
// Seeds (nil: one run, seed 1); the seeds of a point differ in the run noise only.
type Synth struct {
	N       int
	Batches []int
	Etas    []float64
	Seed    uint64   // seed of the generator's noise
	Seeds   []uint64 // the runs' sampling seeds (the seed column); nil = [1]
}

// Default is the paper's grid: n = 512, nine batch sizes, eight step sizes.
func Default() Synth {
	return Synth{N: 512, Batches: []int{1, 2, 4, 8, 16, 32, 64, 128, 512},
		Etas: []float64{0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.043}, Seed: 1}
}

// Rows returns the table, batch size major, then step size, then seed, with the derived columns
// filled (Row.Derive). Keys are "k<B>-<eta>", with "-s<seed>" appended when there are several
// seeds. Runs with eta >= 0.04 and B <= 2 diverge, the run (eta = 0.03, B = 4) ends at the epoch
// limit; every other run converges, with a certified bracket of relative half-width 1e-6
// (1e-2 at B = 2, so that one is visible in the figures).
func (s Synth) Rows() []results.Row {
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	seeds := s.Seeds
	if seeds == nil {
		seeds = []uint64{1}
	}
	var rows []results.Row
	for _, b := range s.Batches {
		for _, eta := range s.Etas {
			for _, seed := range seeds {
				rows = append(rows, s.row(rng, b, eta, seed, len(seeds) > 1))
			}
		}
	}
	return rows
}

// row is the run (B = b, eta, seed); its noise comes from rng.
func (s Synth) row(rng *rand.Rand, b int, eta float64, seed uint64, keySeed bool) results.Row {
	p := float64(s.N-b) / float64(b*(s.N-1))
	n, hidden, epochs := s.N, 20, 200+rng.IntN(800)
	initSeed := uint64(0)
	key := fmt.Sprintf("k%d-%g", b, eta)
	if keySeed {
		key += fmt.Sprintf("-s%d", seed)
	}
	r := results.Row{Key: key, Config: "synthetic", LR: eta, Batch: b, N: &n,
		Hidden: &hidden, Seed: &seed, InitSeed: &initSeed, Epochs: &epochs, P: jsonfloat.Ptr(p),
		FinalLoss: jsonfloat.Ptr(1e-6), InitFactor: jsonfloat.Ptr(5), TrainSeconds: jsonfloat.Ptr(1)}
	switch {
	case eta >= 0.04 && b <= 2:
		r.Status = results.StatusDiverged
		r.FinalLoss = jsonfloat.Ptr(math.Inf(1))
	case eta == 0.03 && b == 4:
		r.Status = results.StatusEpochLimit
	default:
		r.Status = results.StatusConverged
		// Edge factor: a smooth function of eta (same for every B) plus 0.5% run noise.
		gen := (0.955 + 0.02*math.Sin(3*math.Log(eta)) + 0.005*rng.NormFloat64()) * 2 / eta
		gen = math.Min(gen, 0.995*2/eta)
		sharp := gen / (1 + 3.5*math.Pow(p, 1.3)) * (1 + 0.01*rng.NormFloat64())
		sharp = math.Min(sharp, gen)
		w := 1e-6 * gen
		if b == 2 {
			w = 0.01 * gen // one visible bracket
		}
		r.GenSharpness, r.GenLo, r.GenHi = jsonfloat.Ptr(gen), jsonfloat.Ptr(gen-w), jsonfloat.Ptr(gen+w)
		r.Sharpness = jsonfloat.Ptr(sharp)
		r.Bound15 = jsonfloat.Ptr(sharp + 0.35*(gen-sharp))
		r.Bound25 = jsonfloat.Ptr(sharp + 0.9*(gen-sharp))
		r.Bound16 = jsonfloat.Ptr(0.8 * sharp)
		r.AnalysisStatus, r.NonuniformityStatus = results.AnalysisConverged, results.AnalysisConverged
	}
	r.Derive()
	return r
}

// Set returns rows with f applied to every row (rows itself is not changed; f must assign new
// pointers rather than write through the old ones, which the copies share).
func Set(rows []results.Row, f func(r *results.Row)) []results.Row {
	out := append([]results.Row(nil), rows...)
	for i := range out {
		f(&out[i])
	}
	return out
}
