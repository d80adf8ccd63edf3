package plots

import (
	"strings"
	"testing"
)

func verdicts(cs []Claim) []Verdict {
	v := make([]Verdict, len(cs))
	for i, c := range cs {
		v[i] = c.Verdict
	}
	return v
}

// modify returns a copy of the synthetic table with f applied to each row.
func modify(f func(r *Row)) []Row {
	rows := defaultSynth().rows()
	for i := range rows {
		f(&rows[i])
	}
	return rows
}

func TestClaimsHoldOnRealisticTable(t *testing.T) {
	cs := CheckClaims(defaultSynth().rows(), Tolerances{})
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
				r.GenSharpness = 1.03 * 2 / r.LR
				r.GenLo, r.GenHi = r.GenSharpness, r.GenSharpness
			}
		}, "η = 0.012, B = 16", 0},
		{1, func(r *Row) { // sharpness above 2/eta (and the rest of the chain with it)
			if r.Batch == 512 && r.LR == 0.005 && r.Converged() {
				r.Sharpness = 1.05 * 2 / r.LR
				r.Bound15, r.Bound25, r.GenSharpness = r.Sharpness, r.Sharpness, r.Sharpness
				r.GenLo, r.GenHi = r.Sharpness, r.Sharpness
			}
		}, "sharpness", 2}, // a B = n sharpness above every other B's breaks claim 2 too
		{2, func(r *Row) { // B = 64 sits 12% below B = n at eta = 0.008: a drop and a gap
			if r.Batch == 64 && r.LR == 0.008 {
				r.Sharpness *= 0.88
				r.Bound15 = r.Sharpness
			}
		}, "B = 64", 0},
		{3, func(r *Row) { // small-B minima far from the edge
			if r.Batch == 2 && r.Converged() {
				s := r.GenSharpness * 0.7
				r.GenSharpness, r.GenLo, r.GenHi = s, s, s
				r.Bound25 = r.Sharpness + 0.9*(s-r.Sharpness)
				r.Bound15 = r.Sharpness + 0.35*(s-r.Sharpness)
			}
		}, "B = 2", 0},
		{4, func(r *Row) { // bound (15) above bound (25) at one minimum
			if r.Batch == 4 && r.LR == 0.005 {
				r.Bound15, r.Bound25 = r.Bound25, r.Bound15
			}
		}, "(15) ≤ (25)", 0},
		{4, func(r *Row) { // bound (25) above the certified upper end of lambda_gen
			if r.Batch == 8 && r.LR == 0.02 {
				r.Bound25 = r.GenHi * (1 + 1e-4)
			}
		}, "(25) ≤ λgen", 0},
	}
	for _, tc := range cases {
		cs := CheckClaims(modify(tc.break_), Tolerances{})
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
			r.Sharpness = 0.9 * r.GenSharpness
			r.Bound15 = r.Sharpness
			r.Bound25 = r.Sharpness
		}
	})
	c := CheckClaims(rows, Tolerances{})[2]
	if c.Verdict != Fails || !strings.Contains(strings.Join(c.Details, "\n"), "B = 8") {
		t.Errorf("claim 3: %s, %v", c.Verdict, c.Details)
	}
}

// TestClaimTolerances: the same data passes or fails depending on the stated tolerance.
func TestClaimTolerances(t *testing.T) {
	rows := modify(func(r *Row) {
		if r.Batch == 16 && r.LR == 0.012 {
			r.GenSharpness = 1.005 * 2 / r.LR // 0.5% over: inside the default 1% slack
			r.GenLo, r.GenHi = r.GenSharpness, r.GenSharpness
		}
	})
	if v := CheckClaims(rows, Tolerances{})[0].Verdict; v != Holds {
		t.Errorf("0.5%% excess with 1%% slack: %s", v)
	}
	if v := CheckClaims(rows, Tolerances{EdgeSlack: 0.001})[0].Verdict; v != Fails {
		t.Errorf("0.5%% excess with 0.1%% slack: %s", v)
	}
	// Claim 3's edge ratio: the synthetic edge factors lie in about [0.93, 0.99].
	if v := CheckClaims(defaultSynth().rows(), Tolerances{EdgeRatio: 0.99})[2].Verdict; v != Fails {
		t.Errorf("edge ratio 0.99: %s", v)
	}
	// Claim 2's closeness: B = 32 sits about 4% below B = n in the synthetic table.
	if v := CheckClaims(defaultSynth().rows(), Tolerances{NearGD: 0.01})[1].Verdict; v != Fails {
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
	for _, r := range defaultSynth().rows() {
		if r.Batch < 32 {
			noFull = append(noFull, r)
		}
	}
	if v := CheckClaims(noFull, Tolerances{})[1].Verdict; v != Untested {
		t.Errorf("claim 2 without B >= 32: %s", v)
	}
	// Nothing converged: every claim untested.
	rows := modify(func(r *Row) { r.Status = "diverged" })
	for _, c := range CheckClaims(rows, Tolerances{}) {
		if c.Verdict != Untested {
			t.Errorf("claim %d with no converged run: %s", c.ID, c.Verdict)
		}
	}
	// Only large batches: claim 3 (small B) untested, the others hold.
	var large []Row
	for _, r := range defaultSynth().rows() {
		if r.Batch >= 16 {
			large = append(large, r)
		}
	}
	if got := verdicts(CheckClaims(large, Tolerances{})); got[2] != Untested || got[0] != Holds || got[3] != Holds {
		t.Errorf("large batches only: %v", got)
	}
	// Analysis missing everywhere (sharpness only): claim 4 untested, claim 1 untested.
	rows = modify(func(r *Row) {
		r.Bound15, r.Bound25, r.GenSharpness, r.GenHi, r.GenLo = nan(), nan(), nan(), nan(), nan()
	})
	if got := verdicts(CheckClaims(rows, Tolerances{})); got[0] != Untested || got[3] != Untested {
		t.Errorf("without generalized sharpness and bounds: %v", got)
	}
}

func TestClaim2UsesMediansOfRepeatedRuns(t *testing.T) {
	rows := defaultSynth().rows()
	// A second seed of every run, identical except one outlier; the median keeps claim 2.
	extra := defaultSynth().rows()
	for i := range extra {
		if extra[i].Batch == 64 && extra[i].LR == 0.008 {
			extra[i].Sharpness *= 0.5
		}
	}
	third := defaultSynth().rows()
	all := append(append(rows, extra...), third...)
	if v := CheckClaims(all, Tolerances{})[1].Verdict; v != Holds {
		t.Errorf("median of three runs with one outlier: %s", v)
	}
}
