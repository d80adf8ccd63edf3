package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/internal/sampling"
	"github.com/sgdstability/sgdstab/train"
	"github.com/sgdstability/sgdstab/validate"
)

// linPoint is one growth-rate estimate of linearized SGD (or ALG(p)).
type linPoint struct {
	Process    string    `json:"process"`
	C          float64   `json:"c"`
	Eta        float64   `json:"eta"`
	Rate       float64   `json:"rate"` // per step
	Lo         float64   `json:"rate_lo"`
	Hi         float64   `json:"rate_hi"`
	Normalized float64   `json:"rate_per_tau"` // rate / (eta* kappa)
	NormLo     float64   `json:"rate_lo_per_tau"`
	NormHi     float64   `json:"rate_hi_per_tau"`
	Verdict    string    `json:"verdict"`
	Steps      int       `json:"steps"`
	Burn       int       `json:"burn"`
	Replicas   []float64 `json:"replica_rates"`
	Seconds    float64   `json:"seconds"`
}

// nonPoint is one restart of the nonlinear check.
type nonPoint struct {
	Process     string            `json:"process"`
	C           float64           `json:"c"`
	Eta         float64           `json:"eta"`
	Seed        uint64            `json:"seed"`
	Escaped     bool              `json:"escaped"`
	EscapeEpoch int               `json:"escape_epoch,omitempty"`
	Diverged    bool              `json:"diverged"`
	MaxLoss     jsonfloat.Float   `json:"max_loss"`
	FinalLoss   jsonfloat.Float   `json:"final_loss"`
	Reconverged bool              `json:"reconverged"`
	Epochs      int               `json:"epochs"`
	LossCurve   []jsonfloat.Float `json:"loss_curve"`
	// At a reconverged point: lambda_max of the Gauss-Newton H, and a lower bound on the
	// generalized sharpness (truncated problem) with its eta (2 / bound is an upper bound on eta*).
	NewSharpness    *float64 `json:"new_sharpness,omitempty"`
	NewGenSharpLB   *float64 `json:"new_generalized_sharpness_lb,omitempty"`
	NewEtaOverEtaUB *float64 `json:"eta_over_new_eta_star_lb,omitempty"` // eta * lb / 2 <= eta / eta*_new
	Seconds         float64  `json:"seconds"`
}

// minRecord is everything measured at one minimum.
type minRecord struct {
	Name         string  `json:"name"`
	Batch        int     `json:"batch"`
	LR           float64 `json:"lr"`
	Seed         uint64  `json:"seed"`
	P            float64 `json:"p"`
	EtaStar      float64 `json:"eta_star"`
	Sharpness    float64 `json:"sharpness"`
	GenSharpness float64 `json:"generalized_sharpness"`
	Source       string  `json:"source"`
	FinalLoss    float64 `json:"final_loss"`
	Rank         int     `json:"rank"`
	GramSharp    float64 `json:"gram_sharpness"` // lambda_max(H) from train.GaussNewtonGram (closed form)
	TruncDim     int     `json:"truncate"`
	TruncLambda  float64 `json:"truncated_generalized_sharpness"` // lower bound, start's eigenvalue
	// TruncConverged: the power method for the start's top eigenmatrix met its tolerance; when
	// false it stopped at its iteration limit and the start is only near the top eigenmatrix.
	TruncConverged bool                        `json:"truncated_converged"`
	Kappa          float64                     `json:"kappa"` // tr(H S) / tr(S) of the start
	Linear         []linPoint                  `json:"linear"`
	LinBracket     map[string]validate.Bracket `json:"linear_bracket"`
	Nonlinear      []nonPoint                  `json:"nonlinear"`
	EscBracket     map[string]validate.Bracket `json:"escape_bracket"`
	Seconds        map[string]float64          `json:"seconds"`
}

// outputDoc is validation.json.
type outputDoc struct {
	Config  *config      `json:"config"`
	Minima  []*minRecord `json:"minima"`
	Seconds float64      `json:"seconds"`
}

func (v *validator) check(ctx context.Context, m *minimum) (*minRecord, error) {
	cfg := v.cfg
	rec := &minRecord{Name: fmt.Sprintf("B%d_lr%g", m.Batch, m.LR), Batch: m.Batch, LR: m.LR, Seed: m.Seed,
		P: sampling.P(v.ds.N, m.Batch), EtaStar: m.EtaStar, Sharpness: m.Sharpness, GenSharpness: m.GenSharpness,
		Source: m.Source, FinalLoss: m.FinalLoss, LinBracket: map[string]validate.Bracket{},
		EscBracket: map[string]validate.Bracket{}, Seconds: map[string]float64{}}
	t := time.Now()
	gram, err := train.GaussNewtonGram(v.ds, m.Params, m.Config.Loss)
	if err != nil {
		return nil, err
	}
	lin, u, err := validate.GramLinear(v.ds.N, v.ds.K, gram, analysis.Options{}.WithDefaults().RankTol)
	if err != nil {
		return nil, err
	}
	rec.Rank, rec.GramSharp = lin.R, lin.L[0]
	tr := lin.Truncate(cfg.Linear.Truncate)
	top, err := tr.TopEigen(rec.P, 1e-9, 3000)
	if err != nil {
		return nil, err
	}
	rec.TruncDim, rec.TruncLambda, rec.TruncConverged = tr.R, top.Lambda, top.Converged
	if !top.Converged {
		v.logf("%s: the power method on the truncated problem reached its limit of %d iterations: the start is not its top eigenmatrix", rec.Name, top.Iterations)
	}
	for a := 0; a < tr.R; a++ {
		rec.Kappa += tr.L[a] * top.S[a*tr.R+a]
	}
	start, err := validate.CovarianceStart(lin.R, top.S, tr.R)
	if err != nil {
		return nil, err
	}
	rec.Seconds["setup"] = time.Since(t).Seconds()
	v.logf("%s: eta*=%.5g (%s), rank %d, lambda_max %.4g (store %.4g), truncated lambda_gen %.4g of %.4g, kappa %.4g",
		rec.Name, m.EtaStar, m.Source, lin.R, lin.L[0], m.Sharpness, top.Lambda, m.GenSharpness, rec.Kappa)

	// linearized check
	tau := 1 / (m.EtaStar * rec.Kappa)
	steps := int(math.Ceil(cfg.Linear.Window * tau))
	steps = max(cfg.Linear.MinSteps, min(cfg.Linear.MaxSteps, steps))
	t = time.Now()
	for _, proc := range []string{sampling.Independent, sampling.Mixture} {
		var pts []validate.RatePoint
		for k, c := range cfg.C {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tc := time.Now()
			g, err := lin.Growth(start, validate.GrowthOptions{Process: proc, Batch: m.Batch, Eta: c * m.EtaStar,
				Chains: cfg.Linear.Chains, Replicas: cfg.Linear.Replicas, Steps: steps, Seed: uint64(1000*k + 7)})
			if err != nil {
				return nil, err
			}
			lp := linPoint{Process: proc, C: c, Eta: c * m.EtaStar, Rate: g.Rate, Lo: g.Lo, Hi: g.Hi,
				Normalized: g.Rate * tau, NormLo: g.Lo * tau, NormHi: g.Hi * tau, Verdict: g.Verdict(), Steps: g.Steps, Burn: g.Burn, Replicas: g.Replica,
				Seconds: time.Since(tc).Seconds()}
			rec.Linear = append(rec.Linear, lp)
			pts = append(pts, validate.RatePoint{C: c, Rate: g.Rate, Lo: g.Lo, Hi: g.Hi})
			v.logf("%s linear %s c=%.2f: rate %.4g [%.4g, %.4g] per step (%d steps, %.1f s)", rec.Name, proc, c,
				g.Rate, g.Lo, g.Hi, g.Steps, lp.Seconds)
		}
		rec.LinBracket[proc] = validate.LinearBracket(pts)
	}
	rec.Seconds["linear"] = time.Since(t).Seconds()

	// nonlinear check
	t = time.Now()
	type job struct {
		proc string
		c    float64
		seed uint64
	}
	var jobs []job
	for _, c := range cfg.C {
		for s := 0; s < cfg.Nonlin.Seeds; s++ {
			jobs = append(jobs, job{sampling.Independent, c, uint64(s + 1)})
		}
		for s := 0; s < cfg.Nonlin.MixtureSeeds; s++ {
			jobs = append(jobs, job{sampling.Mixture, c, uint64(s + 1)})
		}
	}
	res := make([]nonPoint, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	conv := m.Config.ConvThreshold
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				res[q], errs[q] = v.restart(ctx, m, lin, u, start, rec.P, jobs[q].proc, jobs[q].c, jobs[q].seed, conv)
			}
		}()
	}
	for q := range jobs {
		next <- q
	}
	close(next)
	wg.Wait()
	for q, e := range errs {
		if e != nil {
			return nil, e
		}
		rec.Nonlinear = append(rec.Nonlinear, res[q])
	}
	for _, proc := range []string{sampling.Independent, sampling.Mixture} {
		var pts []validate.EscapePoint
		for _, c := range cfg.C {
			ep := validate.EscapePoint{C: c}
			for _, r := range rec.Nonlinear {
				if r.Process == proc && r.C == c {
					ep.Runs++
					if r.Escaped {
						ep.Escaped++
					}
				}
			}
			if ep.Runs > 0 {
				pts = append(pts, ep)
				v.logf("%s nonlinear %s c=%.2f: %d/%d escaped", rec.Name, proc, c, ep.Escaped, ep.Runs)
			}
		}
		if len(pts) > 0 {
			rec.EscBracket[proc] = validate.EscapeBracket(pts)
		}
	}
	rec.Seconds["nonlinear"] = time.Since(t).Seconds()
	return rec, nil
}

// restart perturbs w* along a draw of the start (scaled so that the quadratic model's loss
// increase is perturb_loss) and runs the nonlinear check.
func (v *validator) restart(ctx context.Context, m *minimum, lin *validate.Linear, u []float64, start *validate.Start,
	p float64, proc string, c float64, seed uint64, conv float64) (nonPoint, error) {
	t := time.Now()
	cfg := v.cfg.Nonlin
	rng := rand.New(rand.NewPCG(seed, math.Float64bits(c)))
	y := make([]float64, lin.R)
	for i := 0; i < start.M; i++ {
		z := rng.NormFloat64()
		for x := 0; x < lin.R; x++ {
			y[x] += start.A[x*start.M+i] * z
		}
	}
	q := 0.0
	for a, ya := range y {
		q += lin.L[a] * ya * ya / 2
	}
	for a := range y {
		y[a] *= math.Sqrt(cfg.PerturbLoss / q)
	}
	dir, err := validate.Direction(v.ds, m.Params, m.Config.Loss, lin, u, y)
	if err != nil {
		return nonPoint{}, err
	}
	w := m.Params.Flat()
	for i, d := range dir {
		w[i] += d
	}
	perturbed, err := train.ParamsFromFlat(w, v.ds.D, m.Params.Hidden, v.ds.K)
	if err != nil {
		return nonPoint{}, err
	}
	epochs := cfg.Epochs
	if proc == sampling.Mixture {
		epochs = cfg.MixtureEpochs
	}
	r, err := validate.Restart(ctx, v.ds, perturbed, validate.RestartOptions{Process: proc, Batch: m.Batch, Eta: c * m.EtaStar,
		Loss: m.Config.Loss, Epochs: epochs, EscapeLoss: cfg.EscapeFactor * conv, ConvThreshold: conv, ConvEpochs: cfg.ReconvConvEpochs,
		ReconvergeEpochs: cfg.ReconvergeEpochs, Seed: seed})
	if err != nil {
		return nonPoint{}, err
	}
	np := nonPoint{Process: proc, C: c, Eta: c * m.EtaStar, Seed: seed, Escaped: r.Escaped, EscapeEpoch: r.EscapeEpoch,
		Diverged: r.Diverged, MaxLoss: jsonfloat.Float(r.MaxLoss), FinalLoss: jsonfloat.Float(r.FinalLoss),
		Reconverged: r.Reconverged, Epochs: r.Epochs, LossCurve: jsonfloat.Slice(r.LossCurve)}
	if r.Reconverged {
		gram, err := train.GaussNewtonGram(v.ds, r.Params, m.Config.Loss)
		if err != nil {
			return nonPoint{}, err
		}
		nl, _, err := validate.GramLinear(v.ds.N, v.ds.K, gram, analysis.Options{}.WithDefaults().RankTol)
		if err == nil {
			s := nl.L[0]
			np.NewSharpness = &s
			if top, err := nl.Truncate(v.cfg.Linear.Truncate).TopEigen(p, 1e-9, 3000); err == nil {
				lb := top.Lambda
				ratio := c * m.EtaStar * lb / 2
				np.NewGenSharpLB, np.NewEtaOverEtaUB = &lb, &ratio
			}
		}
	}
	np.Seconds = time.Since(t).Seconds()
	return np, nil
}
