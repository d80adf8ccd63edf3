package results

import (
	"math"

	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// Run statuses (the status column): how training ended (train.Status). Only converged runs
// carry analysis results; every other status, and an unknown one, counts as not converged.
const (
	StatusConverged  = string(train.Converged)  // loss below the threshold for the required epochs
	StatusDiverged   = string(train.Diverged)   // loss NaN, Inf or above the divergence limit
	StatusEpochLimit = string(train.EpochLimit) // epoch limit reached without converging
)

// Analysis statuses (the columns analysis_status and nonuniformity_status): how an iterative
// eigenvalue computation of the analysis ended (analysis.Diagnostics.Status for the generalized
// sharpness, analysis.Diagnostics.NonuniformityStatus for the nonuniformity).
const (
	AnalysisConverged      = "converged"
	AnalysisIterationLimit = "iteration_limit" // stopped at its iteration limit: a lower estimate
)

// Row is one run of a results table: one field per column, in column order. The json tag is
// the column's name, in the CSV header and as the JSON key.
//
// lr, batch and status are required. Every other column is optional: a nil pointer or an
// empty string is a missing value (an empty CSV cell, a JSON null). Non-finite numbers are
// values, not missing ones: "NaN", "+Inf" and "-Inf" in both encodings (internal/jsonfloat).
//
// The derived columns two_over_eta, gd_threshold, eta_star and bound25_over_gen are filled by
// Derive from the columns they derive from when they are missing.
type Row struct {
	Key    string `json:"key"`    // run key in the store (SHA-256 of the run's spec)
	Config string `json:"config"` // name of the grid the table was written for

	Hidden     *int             `json:"hidden"`      // hidden ReLU units h
	InitFactor *jsonfloat.Float `json:"init_factor"` // scale of the initialization
	LR         float64          `json:"lr"`          // step size eta (> 0)
	Batch      int              `json:"batch"`       // batch size B (>= 1)
	N          *int             `json:"n"`           // number of samples n
	Seed       *uint64          `json:"seed"`        // seed of the batch sampling
	InitSeed   *uint64          `json:"init_seed"`   // seed of the initial point

	Status       string           `json:"status"` // StatusConverged, StatusDiverged, StatusEpochLimit
	Epochs       *int             `json:"epochs"`
	Steps        *int             `json:"steps"`
	FinalLoss    *jsonfloat.Float `json:"final_loss"` // full-batch loss at the end of training
	TrainSeconds *jsonfloat.Float `json:"train_seconds"`

	// Analysis of a converged minimum (THEORY.md; analysis.Report).
	P            *jsonfloat.Float `json:"p"`                     // p = (n - B)/(B (n - 1))
	Sharpness    *jsonfloat.Float `json:"sharpness"`             // lambda_max(H)
	GDThreshold  *jsonfloat.Float `json:"gd_threshold"`          // 2/lambda_max(H) (Thm 1)
	TwoOverEta   *jsonfloat.Float `json:"two_over_eta"`          // 2/eta
	GenSharpness *jsonfloat.Float `json:"generalized_sharpness"` // lambda_gen = lambda_max(pinv(C) D) (Thm 3)
	GenLo        *jsonfloat.Float `json:"gen_sharpness_lo"`      // certified bracket [lo, hi] of lambda_gen
	GenHi        *jsonfloat.Float `json:"gen_sharpness_hi"`
	EtaStar      *jsonfloat.Float `json:"eta_star"` // eta* = 2/lambda_gen (Thm 3)
	Bound15      *jsonfloat.Float `json:"bound15"`  // lower bounds (15), (16), (25) of lambda_gen (Prop. 3)
	Bound16      *jsonfloat.Float `json:"bound16"`
	Bound25      *jsonfloat.Float `json:"bound25"`
	// Nonuniformity is sqrt(lambda_max((1/n) sum_i H_i^2 - H^2)).
	Nonuniformity *jsonfloat.Float `json:"nonuniformity"`
	// HessianSharpness is lambda_max of the full Hessian (not only its Gauss-Newton part).
	HessianSharpness *jsonfloat.Float `json:"hessian_sharpness"`
	// ResidualRel is the Gauss-Newton residual ||H - H_GN|| / ||H_GN|| at the minimum (train.Curvature).
	ResidualRel     *jsonfloat.Float `json:"residual_rel"`
	AnalysisSeconds *jsonfloat.Float `json:"analysis_seconds"`

	// Covariance limit (Thm 5, Cor. 1) at eta, when computed.
	CovarianceTrace   *jsonfloat.Float `json:"covariance_trace"`    // lim E||P(w - w*)||^2
	ExpectedLoss      *jsonfloat.Float `json:"expected_loss"`       // lim E[Ltilde(w)] - L(w*)
	ExpectedGradNorm2 *jsonfloat.Float `json:"expected_grad_norm2"` // lim E||grad Ltilde(w)||^2

	// Training settings (train.Config).
	Loss          string           `json:"loss"`
	Sampling      string           `json:"sampling"`
	Engine        string           `json:"engine"`
	WarmupSteps   *int             `json:"warmup_steps"`
	ConvThreshold *jsonfloat.Float `json:"conv_threshold"`
	ConvEpochs    *int             `json:"conv_epochs"`
	MaxEpochs     *int             `json:"max_epochs"`

	DataChecksum string `json:"data_checksum"`
	Created      string `json:"created"` // RFC 3339 time of the record
	Notes        string `json:"notes"`   // remarks of the sweep, joined by "; "

	// AnalysisStatus is how the computation of the generalized sharpness ended (AnalysisConverged
	// or AnalysisIterationLimit); see GenUnconverged.
	AnalysisStatus string `json:"analysis_status"`
	// NonuniformityStatus is how the computation of the nonuniformity ended.
	NonuniformityStatus string `json:"nonuniformity_status"`

	// Shape of the PSD top eigenmatrix S* of pinv(C) D (Thm 6; THEORY.md, effective rank), with
	// eigenvalues mu_1 >= ... >= mu_r on range(H) (analysis.Report).
	TopEffectiveRank *jsonfloat.Float `json:"top_eigenmatrix_effective_rank"` // (tr S*)^2 / ||S*||_F^2: 1 for rank one
	TopShare         *jsonfloat.Float `json:"top_eigenmatrix_top_share"`      // mu_1 / tr S*
	TopMinEigRel     *jsonfloat.Float `json:"top_eigenmatrix_min_eig_rel"`    // mu_r / mu_1 (>= 0 up to rounding: PSD)
	// Bound25OverGen is bound (25) / lambda_gen: 1 exactly when S* can be taken rank one.
	Bound25OverGen *jsonfloat.Float `json:"bound25_over_gen"`
}

// Value returns *x, or NaN for a missing value (nil).
func Value(x *jsonfloat.Float) float64 {
	if x == nil {
		return math.NaN()
	}
	return float64(*x)
}

// Converged reports whether the run converged (status StatusConverged).
func (r *Row) Converged() bool { return r.Status == StatusConverged }

// GenUnconverged reports whether the computation of the generalized sharpness stopped without
// converging (analysis_status set and not AnalysisConverged). Its generalized_sharpness is then
// a Rayleigh quotient below the true lambda_gen, and eta_star = 2/lambda_gen is biased high, so
// neither may be used as if it were exact. A row without analysis_status is not flagged.
func (r *Row) GenUnconverged() bool {
	return r.AnalysisStatus != "" && r.AnalysisStatus != AnalysisConverged
}

// NonuniformityUnconverged reports whether the computation of the nonuniformity stopped without
// converging (nonuniformity_status set and not AnalysisConverged): the value is a lower estimate.
func (r *Row) NonuniformityUnconverged() bool {
	return r.NonuniformityStatus != "" && r.NonuniformityStatus != AnalysisConverged
}

// Derive fills the derived columns that are missing from the columns they derive from:
//
//	two_over_eta = 2/lr                     (TwoOverLR: the GD limit on the sharpness, Thm 1)
//	gd_threshold = 2/sharpness              (GD's threshold on eta, Thm 1)
//	eta_star     = 2/generalized_sharpness  (the exact mean-square threshold, Thm 3)
//	bound25_over_gen = bound25/generalized_sharpness  (<= 1 by chain (26); 1 for a rank-one S*)
//
// each only when its sources are finite and > 0. Values already present are kept. The readers of
// this package and store.TableRow call it; code that builds a Row by hand should too.
func (r *Row) Derive() {
	twoOver := func(dst **jsonfloat.Float, x float64) {
		if *dst == nil && x > 0 && !math.IsInf(x, 1) {
			*dst = jsonfloat.Ptr(2 / x)
		}
	}
	twoOver(&r.TwoOverEta, r.LR)
	twoOver(&r.GDThreshold, Value(r.Sharpness))
	twoOver(&r.EtaStar, Value(r.GenSharpness))
	if b25, gen := Value(r.Bound25), Value(r.GenSharpness); r.Bound25OverGen == nil && b25 > 0 && !math.IsInf(b25, 1) && gen > 0 && !math.IsInf(gen, 1) {
		r.Bound25OverGen = jsonfloat.Ptr(b25 / gen)
	}
}

// FullBatch reports whether the run is full-batch GD, B = n: n is the row's own n when it has one,
// else tableN (results.SampleCount of its table); an unknown n (0) gives false.
func (r *Row) FullBatch(tableN int) bool {
	n := tableN
	if r.N != nil {
		n = *r.N
	}
	return n > 0 && r.Batch >= n
}

// TwoOverLR returns 2/eta, the GD stability limit on the sharpness at step size eta (Thm 1).
func (r *Row) TwoOverLR() float64 { return 2 / r.LR }

// SharpnessRatio returns lambda_max / (2/eta): <= 1 where GD's stability condition holds.
func (r *Row) SharpnessRatio() float64 { return Value(r.Sharpness) / r.TwoOverLR() }

// GenRatio returns lambda_gen / (2/eta) = eta/eta*: <= 1 where SGD is mean-square stable (Thm 3).
func (r *Row) GenRatio() float64 { return Value(r.GenSharpness) / r.TwoOverLR() }

// EtaStarOverEta returns eta*/eta = 2/(lambda_gen eta) from the eta_star column: >= 1 where SGD
// is mean-square stable; NaN when eta_star is missing.
func (r *Row) EtaStarOverEta() float64 { return Value(r.EtaStar) / r.LR }
