package plots

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// synthSpec describes a synthetic results table built to look like the real sweep's
// (THEORY.md): generalized sharpness a little below 2/eta (SGD at the edge), sharpness
// below it by a factor that grows with p = (n-B)/(B(n-1)), bounds (15) and (25) in
// between as chain (26) demands, and the largest step sizes diverging at small B.
type synthSpec struct {
	N       int
	Batches []int
	Etas    []float64
	Seed    uint64
}

func defaultSynth() synthSpec {
	return synthSpec{N: 512, Batches: []int{1, 2, 4, 8, 16, 32, 64, 128, 512},
		Etas: []float64{0.002, 0.003, 0.005, 0.008, 0.012, 0.02, 0.03, 0.043}, Seed: 1}
}

func (s synthSpec) rows() []Row {
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	var rows []Row
	nan := math.NaN()
	for _, b := range s.Batches {
		for _, eta := range s.Etas {
			p := float64(s.N-b) / float64(b*(s.N-1))
			r := Row{Key: fmt.Sprintf("k%d-%g", b, eta), Config: "synthetic", LR: eta, Batch: b, N: s.N, Hidden: 20,
				Epochs: 200 + rng.IntN(800), Steps: -1, P: p, TwoOverEta: 2 / eta,
				Sharpness: nan, GenSharpness: nan, GenLo: nan, GenHi: nan, EtaStar: nan, Bound15: nan, Bound16: nan, Bound25: nan,
				GDThreshold: nan, FinalLoss: 1e-6, InitFactor: 5, TrainSeconds: 1, Nonuniformity: nan,
				HessianSharpness: nan, ResidualRel: nan, AnalysisSeconds: nan}
			switch {
			case eta >= 0.04 && b <= 2:
				r.Status = "diverged"
				r.FinalLoss = math.Inf(1)
			case eta == 0.03 && b == 4:
				r.Status = "epoch_limit"
			default:
				r.Status = StatusConverged
				// Edge factor: a smooth function of eta (same for every B) plus 0.5% run noise.
				gen := (0.955 + 0.02*math.Sin(3*math.Log(eta)) + 0.005*rng.NormFloat64()) * 2 / eta
				gen = math.Min(gen, 0.995*2/eta)
				sharp := gen / (1 + 3.5*math.Pow(p, 1.3)) * (1 + 0.01*rng.NormFloat64())
				sharp = math.Min(sharp, gen)
				r.GenSharpness = gen
				w := 1e-6 * gen
				if b == 2 {
					w = 0.01 * gen // one visible bracket
				}
				r.GenLo, r.GenHi = gen-w, gen+w
				r.EtaStar = 2 / gen
				r.Sharpness = sharp
				r.GDThreshold = 2 / sharp
				r.Bound15 = sharp + 0.35*(gen-sharp)
				r.Bound25 = sharp + 0.9*(gen-sharp)
				r.Bound16 = 0.8 * sharp
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// tableCSV writes rows in the CONTRACTS.md column layout (plus an extra column), so the
// tests go through ReadTable like the real tables do.
func tableCSV(rows []Row) []byte {
	header := []string{"key", "config", "hidden", "init_factor", "lr", "batch", "n", "seed", "init_seed", "status",
		"epochs", "steps", "final_loss", "train_seconds", "p", "sharpness", "gd_threshold", "two_over_eta",
		"generalized_sharpness", "gen_sharpness_lo", "gen_sharpness_hi", "eta_star", "bound15", "bound16",
		"bound25", "nonuniformity", "hessian_sharpness", "residual_rel", "analysis_seconds", "extra_note"}
	f := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	i := func(x int) string {
		if x < 0 {
			return ""
		}
		return strconv.Itoa(x)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for _, r := range rows {
		w.Write([]string{r.Key, r.Config, i(r.Hidden), f(r.InitFactor), f(r.LR), i(r.Batch), i(r.N), "1", "0", r.Status,
			i(r.Epochs), i(r.Steps), f(r.FinalLoss), f(r.TrainSeconds), f(r.P), f(r.Sharpness), f(r.GDThreshold),
			f(r.TwoOverEta), f(r.GenSharpness), f(r.GenLo), f(r.GenHi), f(r.EtaStar), f(r.Bound15), f(r.Bound16),
			f(r.Bound25), f(r.Nonuniformity), f(r.HessianSharpness), f(r.ResidualRel), f(r.AnalysisSeconds), "x"})
	}
	w.Flush()
	return buf.Bytes()
}

func nan() float64 { return math.NaN() }
