package claims

import (
	"math"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/results/resultstest"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

type Row = results.Row

var (
	num = jsonfloat.Ptr
	val = results.Value
)

func verdicts(cs []Claim) []Verdict {
	v := make([]Verdict, len(cs))
	for i, c := range cs {
		v[i] = c.Verdict
	}
	return v
}

// modify returns the synthetic table with f applied to each row.
func modify(f func(r *Row)) []Row { return resultstest.Set(synth(), f) }

func synth() []Row { return resultstest.Default().Rows() }

func TestClaimsHoldOnRealisticTable(t *testing.T) {
	cs := Check(synth(), Tolerances{})
	for _, c := range cs {
		if c.Verdict != Holds {
			t.Errorf("claim %d: %s (%s; %v)", c.ID, c.Verdict, c.Summary, c.Details)
		}
		if c.Summary == "" || len(c.Figures) == 0 {
			t.Errorf("claim %d: no summary or figure", c.ID)
		}
	}
}

// TestClaimsFail breaks each claim in turn and checks that exactly that claim fails.
func TestClaimsFail(t *testing.T) {
	cases := []struct {
		claim  int
		break_ func(r *Row)
		detail string
		also   int // another claim the change necessarily breaks (0 = none)
	}{
		{1, func(r *Row) { // one minimum beyond the mean-square edge by 3%
			if r.Batch == 16 && r.LR == 0.012 {
				r.GenSharpness = num(1.03 * 2 / r.LR)
				r.GenLo, r.GenHi = r.GenSharpness, r.GenSharpness
			}
		}, "η = 0.012, B = 16", 0},
		{1, func(r *Row) { // sharpness above 2/eta (and the rest of the chain with it)
			if r.Batch == 512 && r.LR == 0.005 && r.Converged() {
				r.Sharpness = num(1.05 * 2 / r.LR)
				r.Bound15, r.Bound25, r.GenSharpness = r.Sharpness, r.Sharpness, r.Sharpness
				r.GenLo, r.GenHi = r.Sharpness, r.Sharpness
			}
		}, "sharpness", 2}, // a B = n sharpness above every other B's breaks claim 2 too
		{2, func(r *Row) { // B = 64 sits 12% below B = n at eta = 0.008: a drop and a gap
			if r.Batch == 64 && r.LR == 0.008 {
				r.Sharpness = num(val(r.Sharpness) * 0.88)
				r.Bound15 = r.Sharpness
			}
		}, "B = 64", 0},
		{3, func(r *Row) { // small-B minima far from the edge
			if r.Batch == 2 && r.Converged() {
				s, sh := val(r.GenSharpness)*0.7, val(r.Sharpness)
				r.GenSharpness, r.GenLo, r.GenHi = num(s), num(s), num(s)
				r.Bound25 = num(sh + 0.9*(s-sh))
				r.Bound15 = num(sh + 0.35*(s-sh))
			}
		}, "B = 2", 0},
		{4, func(r *Row) { // bound (15) above bound (25) at one minimum
			if r.Batch == 4 && r.LR == 0.005 {
				r.Bound15, r.Bound25 = r.Bound25, r.Bound15
			}
		}, "(15) ≤ (25)", 0},
		{4, func(r *Row) { // bound (25) above the certified upper end of lambda_gen
			if r.Batch == 8 && r.LR == 0.02 {
				r.Bound25 = num(val(r.GenHi) * (1 + 1e-4))
			}
		}, "(25) ≤ λgen", 0},
	}
	for _, tc := range cases {
		cs := Check(modify(tc.break_), Tolerances{})
		for _, c := range cs {
			want := Holds
			if c.ID == tc.claim || c.ID == tc.also {
				want = Fails
			}
			if c.Verdict != want {
				t.Errorf("breaking claim %d: claim %d is %s, want %s (%s)", tc.claim, c.ID, c.Verdict, want, c.Summary)
			}
			if c.ID == tc.claim && !strings.Contains(strings.Join(c.Details, "\n"), tc.detail) {
				t.Errorf("breaking claim %d: details do not name %q: %v", tc.claim, tc.detail, c.Details)
			}
		}
	}
}

// TestClaim3SharpnessNotWellBelow: at the edge but with the sharpness close to 2/eta,
// "well below" fails.
func TestClaim3SharpnessNotWellBelow(t *testing.T) {
	rows := modify(func(r *Row) {
		if r.Batch == 8 && r.Converged() {
			r.Sharpness = num(0.9 * val(r.GenSharpness))
			r.Bound15 = r.Sharpness
			r.Bound25 = r.Sharpness
		}
	})
	c := Check(rows, Tolerances{})[2]
	if c.Verdict != Fails || !strings.Contains(strings.Join(c.Details, "\n"), "B = 8") {
		t.Errorf("claim 3: %s, %v", c.Verdict, c.Details)
	}
}

// TestClaimTolerances: the same data passes or fails depending on the stated tolerance.
func TestClaimTolerances(t *testing.T) {
	rows := modify(func(r *Row) {
		if r.Batch == 16 && r.LR == 0.012 {
			r.GenSharpness = num(1.005 * 2 / r.LR) // 0.5% over: inside the default 1% slack
			r.GenLo, r.GenHi = r.GenSharpness, r.GenSharpness
		}
	})
	if v := Check(rows, Tolerances{})[0].Verdict; v != Holds {
		t.Errorf("0.5%% excess with 1%% slack: %s", v)
	}
	if v := Check(rows, Tolerances{EdgeSlack: 0.001})[0].Verdict; v != Fails {
		t.Errorf("0.5%% excess with 0.1%% slack: %s", v)
	}
	// Claim 3's edge ratio: the synthetic edge factors lie in about [0.93, 0.99].
	if v := Check(synth(), Tolerances{EdgeRatio: 0.99})[2].Verdict; v != Fails {
		t.Errorf("edge ratio 0.99: %s", v)
	}
	// Claim 2's closeness: B = 32 sits about 4% below B = n in the synthetic table.
	if v := Check(synth(), Tolerances{NearGD: 0.01})[1].Verdict; v != Fails {
		t.Errorf("near-GD 1%%: %s", v)
	}
	d := Tolerances{}.WithDefaults()
	if d.EdgeSlack != 0.01 || d.NearGD != 0.05 || d.GDBatch != 32 || d.SmallBatch != 8 || d.EdgeRatio != 0.9 || d.BelowRatio != 0.8 || d.ChainRel != 1e-6 {
		t.Errorf("defaults changed: %+v (update Describe and the report text)", d)
	}
}

func TestClaimsUntested(t *testing.T) {
	// No B = n and no B >= 32: closeness to GD cannot be checked.
	var noFull []Row
	for _, r := range synth() {
		if r.Batch < 32 {
			noFull = append(noFull, r)
		}
	}
	if v := Check(noFull, Tolerances{})[1].Verdict; v != Untested {
		t.Errorf("claim 2 without B >= 32: %s", v)
	}
	// Nothing converged: every claim untested.
	rows := modify(func(r *Row) { r.Status = "diverged" })
	for _, c := range Check(rows, Tolerances{}) {
		if c.Verdict != Untested {
			t.Errorf("claim %d with no converged run: %s", c.ID, c.Verdict)
		}
	}
	// Only large batches: claim 3 (small B) untested, the others hold.
	var large []Row
	for _, r := range synth() {
		if r.Batch >= 16 {
			large = append(large, r)
		}
	}
	if got := verdicts(Check(large, Tolerances{})); got[2] != Untested || got[0] != Holds || got[3] != Holds {
		t.Errorf("large batches only: %v", got)
	}
	// Analysis missing everywhere (sharpness only): claim 4 untested, claim 1 untested.
	rows = modify(func(r *Row) {
		r.Bound15, r.Bound25, r.GenSharpness, r.GenHi, r.GenLo = nil, nil, nil, nil, nil
	})
	if got := verdicts(Check(rows, Tolerances{})); got[0] != Untested || got[3] != Untested {
		t.Errorf("without generalized sharpness and bounds: %v", got)
	}
}

func TestClaim2UsesMediansOfRepeatedRuns(t *testing.T) {
	rows := synth()
	// A second seed of every run, identical except one outlier; the median keeps claim 2.
	extra := synth()
	for i := range extra {
		if extra[i].Batch == 64 && extra[i].LR == 0.008 {
			extra[i].Sharpness = num(val(extra[i].Sharpness) * 0.5)
		}
	}
	third := synth()
	all := append(append(rows, extra...), third...)
	if v := Check(all, Tolerances{})[1].Verdict; v != Holds {
		t.Errorf("median of three runs with one outlier: %s", v)
	}
}

// TestFlaggedGenSharpnessLeftOut: a generalized sharpness that stopped at its iteration limit
// is not used by any check on lambda_gen, and the details say so. Each case breaks a claim at
// some minima (it fails), then flags those minima (the verdict no longer rests on them).
func TestFlaggedGenSharpnessLeftOut(t *testing.T) {
	const note = "stopped at its iteration limit"
	cases := []struct {
		name   string
		claim  int
		target func(r *Row) bool
		break_ func(r *Row)
		after  Verdict // verdict once the broken minima are flagged
		named  string  // a minimum the note must name
		smallB bool    // the broken minima include some with B <= 8 (claim 3's)
	}{
		{"claim 1: lambda_gen above 2/eta", 1,
			func(r *Row) bool { return r.Batch == 16 && r.LR == 0.012 },
			func(r *Row) { r.GenSharpness = num(1.03 * 2 / r.LR) }, Holds, "η = 0.012, B = 16", false},
		{"claim 3: small-B minima far from the edge", 3,
			func(r *Row) bool { return r.Batch == 2 && r.Converged() },
			func(r *Row) { r.GenSharpness = num(val(r.GenSharpness) * 0.7) }, Holds, "B = 2", true},
		{"claim 3: every small-B minimum flagged", 3,
			func(r *Row) bool { return r.Batch <= 8 && r.Converged() },
			func(r *Row) { r.GenSharpness = num(val(r.GenSharpness) * 0.7) }, Untested, "η = 0.002, B = 1", true},
		{"claim 4: (25) above the bracket's upper end", 4,
			func(r *Row) bool { return r.Batch == 8 && r.LR == 0.02 },
			func(r *Row) { r.Bound25 = num(val(r.GenHi) * (1 + 1e-4)) }, Holds, "η = 0.02, B = 8", true},
	}
	for _, tc := range cases {
		broken := modify(func(r *Row) {
			if tc.target(r) {
				tc.break_(r)
			}
		})
		if v := Check(broken, Tolerances{})[tc.claim-1].Verdict; v != Fails {
			t.Fatalf("%s: broken table gives %s, want fails", tc.name, v)
		}
		for _, status := range []string{results.AnalysisIterationLimit, "failed"} {
			flagged := resultstest.Set(broken, func(r *Row) {
				if tc.target(r) {
					r.AnalysisStatus = status
				}
			})
			cs := Check(flagged, Tolerances{})
			c := cs[tc.claim-1]
			details := strings.Join(c.Details, "\n")
			if c.Verdict != tc.after || !strings.Contains(details, note) || !strings.Contains(details, tc.named) {
				t.Errorf("%s, status %q: %s (%s)\n%s", tc.name, status, c.Verdict, c.Summary, details)
			}
			// The note is in every claim that uses lambda_gen at the flagged minima, and only there.
			for _, other := range cs {
				has := strings.Contains(strings.Join(other.Details, "\n"), note)
				if want := other.ID == 1 || other.ID == 4 || (other.ID == 3 && tc.smallB); has != want {
					t.Errorf("%s: claim %d has the note: %v", tc.name, other.ID, has)
				}
			}
		}
	}
	// Claim 4 counts a flagged minimum as lacking the whole chain; its other links are checked.
	flag := func(r *Row) {
		if r.Batch == 4 && r.LR == 0.005 {
			r.AnalysisStatus = results.AnalysisIterationLimit
		}
	}
	before, after := Check(synth(), Tolerances{})[3], Check(modify(flag), Tolerances{})[3]
	if !strings.HasPrefix(before.Summary, "69 of 69 ") || !strings.HasPrefix(after.Summary, "68 of 69 ") ||
		!strings.Contains(after.Summary, "λmax ≤ (15): 69 minima") || !strings.Contains(after.Summary, "(25) ≤ λgen: 68 minima") {
		t.Errorf("claim 4 summary\nbefore %s\nafter  %s", before.Summary, after.Summary)
	}
	swapped := modify(func(r *Row) {
		flag(r)
		if r.Batch == 4 && r.LR == 0.005 {
			r.Bound15, r.Bound25 = r.Bound25, r.Bound15
		}
	})
	if v := Check(swapped, Tolerances{})[3].Verdict; v != Fails {
		t.Errorf("a flagged minimum's (15) > (25) is not caught: %s", v)
	}
	// A converged nonuniformity flag is irrelevant to the claims.
	nonu := modify(func(r *Row) { r.NonuniformityStatus = results.AnalysisIterationLimit })
	for _, c := range Check(nonu, Tolerances{}) {
		if c.Verdict != Holds || strings.Contains(strings.Join(c.Details, "\n"), note) {
			t.Errorf("nonuniformity flag changed claim %d: %s %v", c.ID, c.Verdict, c.Details)
		}
	}
	if math.IsNaN(val(synth()[0].GenSharpness)) {
		t.Fatal("synthetic table changed: first run has no generalized sharpness")
	}
}
