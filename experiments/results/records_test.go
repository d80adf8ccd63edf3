package results_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// minimum returns the analysis report of a small random regular minimum (n = 6 rank-one
// Hessians H_i = a_i a_i^T in d = 3), analysed at batch size b.
func minimum(t *testing.T, b int) *analysis.Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, uint64(b)))
	const n, d = 6, 3
	in := &analysis.Dense{N: n, D: d}
	for range n {
		a := make([]float64, d)
		for j := range a {
			a[j] = rng.NormFloat64()
		}
		h := make([]float64, d*d)
		for j := range d {
			for k := range d {
				h[j*d+k] = a[j] * a[k]
			}
		}
		in.Hessians = append(in.Hessians, h)
	}
	rep, err := analysis.AnalyzeDense(in, b, analysis.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func rec(t *testing.T, lr float64, batch int, status string, rep *analysis.Report) *store.Record {
	t.Helper()
	tc := train.Config{LR: lr, Batch: batch, Seed: 7}.WithDefaults()
	spec, err := store.NewSpec(data.DefaultSelection(), 6, tc, analysis.Options{Eta: lr}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Record{Key: spec.Key(), Spec: spec, Status: status, Epochs: 40, Steps: 240, FinalLoss: 2e-7,
		TrainSeconds: 0.5, DataChecksum: "abc", Created: "2026-01-02T03:04:05Z"}
	if rep != nil {
		if r.Analysis, err = json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
		r.AnalysisSeconds, r.ResidualRel = 0.125, jsonfloat.Ptr(3e-9)
	}
	return r
}

// TestRecordsTableRoundTrip writes the table of store records (real analysis reports, a
// flagged one, non-finite and missing values) and reads both files back: every value is the
// record's, bit for bit, and the derived columns are 2/x of their sources.
func TestRecordsTableRoundTrip(t *testing.T) {
	conv := rec(t, 0.01, 2, results.StatusConverged, minimum(t, 2))
	cov := 1.25e-3
	withCov := minimum(t, 3)
	withCov.CovarianceTrace = &cov
	covRec := rec(t, 0.02, 3, results.StatusConverged, withCov)
	covRec.HessianSharpness = jsonfloat.Ptr(4.5)
	covRec.Notes = []string{"a note", "another"}
	flagged := minimum(t, 1)
	flagged.Diagnostics.Status = results.AnalysisIterationLimit
	flagged.Diagnostics.NonuniformityStatus = results.AnalysisIterationLimit
	flagRec := rec(t, 0.03, 1, results.StatusConverged, flagged)
	div := rec(t, 0.5, 1, results.StatusDiverged, nil)
	div.FinalLoss = jsonfloat.Float(math.NaN())
	lim := rec(t, 0.4, 6, results.StatusEpochLimit, nil)
	lim.FinalLoss = jsonfloat.Float(math.Inf(1))
	recs := []*store.Record{conv, covRec, flagRec, div, lim}

	dir := t.TempDir()
	if err := store.WriteTable(dir, "grid", recs); err != nil {
		t.Fatal(err)
	}
	fromCSV, err := results.ReadFile(filepath.Join(dir, results.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	fromJSONL, err := results.ReadFile(filepath.Join(dir, results.JSONLFile))
	if err != nil {
		t.Fatal(err)
	}
	reports := []*analysis.Report{minimum(t, 2), withCov, flagged, nil, nil}
	for name, rows := range map[string][]results.Row{"csv": fromCSV, "jsonl": fromJSONL} {
		if len(rows) != len(recs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(recs))
		}
		for i, r := range rows {
			checkRow(t, name, &r, recs[i], reports[i])
		}
		if !rows[2].GenUnconverged() || !rows[2].NonuniformityUnconverged() || rows[0].GenUnconverged() || rows[0].NonuniformityUnconverged() {
			t.Errorf("%s: flags %v %v / %v %v", name, rows[2].GenUnconverged(), rows[2].NonuniformityUnconverged(), rows[0].GenUnconverged(), rows[0].NonuniformityUnconverged())
		}
	}
}

// checkRow compares a row read back with the record and the report it was written from.
func checkRow(t *testing.T, enc string, r *results.Row, rc *store.Record, rep *analysis.Report) {
	t.Helper()
	var tc train.Config
	if err := json.Unmarshal(rc.Spec.Train, &tc); err != nil {
		t.Fatal(err)
	}
	bits := func(x float64) uint64 {
		if math.IsNaN(x) {
			return math.Float64bits(math.NaN())
		}
		return math.Float64bits(x)
	}
	eq := func(col string, got *jsonfloat.Float, want float64) {
		t.Helper()
		if got == nil || bits(float64(*got)) != bits(want) {
			t.Errorf("%s %s row %g/%d: %s = %v, want %v", enc, rc.Status, tc.LR, tc.Batch, col, got, want)
		}
	}
	missing := func(col string, got *jsonfloat.Float) {
		t.Helper()
		if got != nil {
			t.Errorf("%s %s row: %s = %v, want missing", enc, rc.Status, col, float64(*got))
		}
	}
	if r.Key != rc.Key || r.Config != "grid" || r.LR != tc.LR || r.Batch != tc.Batch || *r.N != rc.Spec.N || r.Status != rc.Status ||
		*r.Epochs != rc.Epochs || *r.Steps != rc.Steps || *r.Hidden != tc.Hidden || *r.Seed != tc.Seed || *r.InitSeed != tc.InitSeed ||
		r.Loss != tc.Loss || r.Sampling != tc.Sampling || r.Engine != tc.Engine || *r.WarmupSteps != tc.WarmupSteps ||
		*r.ConvEpochs != tc.ConvEpochs || *r.MaxEpochs != tc.MaxEpochs || r.DataChecksum != rc.DataChecksum ||
		r.Created != rc.Created || r.Notes != strings.Join(rc.Notes, "; ") {
		t.Errorf("%s: settings/outcome %+v\nof record %+v", enc, r, rc)
	}
	eq("final_loss", r.FinalLoss, float64(rc.FinalLoss))
	eq("train_seconds", r.TrainSeconds, rc.TrainSeconds)
	eq("init_factor", r.InitFactor, tc.InitFactor)
	eq("conv_threshold", r.ConvThreshold, tc.ConvThreshold)
	eq("two_over_eta", r.TwoOverEta, 2/tc.LR)
	if rc.HessianSharpness != nil {
		eq("hessian_sharpness", r.HessianSharpness, float64(*rc.HessianSharpness))
	} else {
		missing("hessian_sharpness", r.HessianSharpness)
	}
	if rep == nil {
		for col, v := range map[string]*jsonfloat.Float{"p": r.P, "sharpness": r.Sharpness, "gd_threshold": r.GDThreshold,
			"generalized_sharpness": r.GenSharpness, "eta_star": r.EtaStar, "gen_sharpness_hi": r.GenHi, "bound25": r.Bound25,
			"analysis_seconds": r.AnalysisSeconds, "residual_rel": r.ResidualRel, "covariance_trace": r.CovarianceTrace} {
			missing(col, v)
		}
		if r.AnalysisStatus != "" || r.NonuniformityStatus != "" {
			t.Errorf("%s: statuses %q %q without an analysis", enc, r.AnalysisStatus, r.NonuniformityStatus)
		}
		return
	}
	eq("p", r.P, rep.P)
	eq("sharpness", r.Sharpness, rep.Sharpness)
	eq("gd_threshold", r.GDThreshold, 2/rep.Sharpness)
	eq("generalized_sharpness", r.GenSharpness, rep.GeneralizedSharpness)
	eq("gen_sharpness_lo", r.GenLo, rep.Bracket[0])
	eq("gen_sharpness_hi", r.GenHi, rep.Bracket[1])
	eq("eta_star", r.EtaStar, 2/rep.GeneralizedSharpness)
	eq("bound15", r.Bound15, rep.Bound15)
	eq("bound16", r.Bound16, rep.Bound16)
	eq("bound25", r.Bound25, rep.Bound25)
	eq("nonuniformity", r.Nonuniformity, rep.Nonuniformity)
	eq("analysis_seconds", r.AnalysisSeconds, rc.AnalysisSeconds)
	eq("residual_rel", r.ResidualRel, float64(*rc.ResidualRel))
	if rep.CovarianceTrace != nil {
		eq("covariance_trace", r.CovarianceTrace, *rep.CovarianceTrace)
	} else {
		missing("covariance_trace", r.CovarianceTrace)
	}
	missing("expected_loss", r.ExpectedLoss)
	if r.AnalysisStatus != rep.Diagnostics.Status {
		t.Errorf("%s: analysis_status %q, want %q", enc, r.AnalysisStatus, rep.Diagnostics.Status)
	}
	if got, want := r.GenRatio(), rep.GeneralizedSharpness/(2/tc.LR); got != want {
		t.Errorf("%s: lambda_gen/(2/eta) = %v, want %v", enc, got, want)
	}
	if got, want := r.EtaStarOverEta(), 2/rep.GeneralizedSharpness/tc.LR; got != want {
		t.Errorf("%s: eta*/eta = %v, want %v", enc, got, want)
	}
}
