package claims

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/experiments/results/resultstest"
)

// seeded is the synthetic table with three seeds per point.
func seeded() []Row {
	s := resultstest.Default()
	s.Seeds = []uint64{1, 2, 3}
	return s.Rows()
}

// lowerEdge moves a minimum away from the edge: lambda_gen times f, the bounds kept in the
// order of chain (26).
func lowerEdge(r *Row, f float64) {
	g, sh := val(r.GenSharpness)*f, val(r.Sharpness)
	r.GenSharpness, r.GenLo, r.GenHi = num(g), num(g), num(g)
	r.Bound25, r.Bound15 = num(sh+0.9*(g-sh)), num(sh+0.35*(g-sh))
}

// extremes returns the smallest and largest value(r) over the rows where pick(r) holds: the
// oracle of the ranges the claims report.
func extremes(rows []Row, pick func(Row) bool, value func(Row) float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		if pick(r) {
			lo, hi = math.Min(lo, value(r)), math.Max(hi, value(r))
		}
	}
	return lo, hi
}

func seedIn(r Row, seeds ...uint64) bool {
	for _, s := range seeds {
		if *r.Seed == s {
			return true
		}
	}
	return false
}

// TestClaimsOverSeeds: on a table with three seeds per point, claims 2 and 3 follow the medians
// over seeds (one seed against the claim does not fail it, two do) and report the spread over
// seeds; claims 1 and 4 are statements about every minimum, so one seed against them fails them.
func TestClaimsOverSeeds(t *testing.T) {
	base := seeded()
	for _, c := range Check(base, Tolerances{}) {
		if c.Verdict != Holds {
			t.Fatalf("claim %d on the seeded table: %s (%s)", c.ID, c.Verdict, c.Summary)
		}
		if !strings.Contains(c.Summary, "3 seeds") {
			t.Errorf("claim %d summary does not give the seeds per point: %s", c.ID, c.Summary)
		}
	}
	at64 := func(r Row) bool { return r.Batch == 64 && r.LR == 0.008 }
	sharp := func(r Row) float64 { return val(r.Sharpness) }
	b2 := func(r Row) bool { return r.Batch == 2 && r.Converged() }
	ratio := func(r Row) float64 { return r.GenRatio() }
	cases := []struct {
		name    string
		claim   int
		change  func(r *Row)
		want    Verdict
		pick    func(Row) bool    // the rows whose range the details must state
		value   func(Row) float64 // of this quantity
		format  string            // as formatted
		mention string            // and the details must contain this
	}{
		{"claim 2, one seed 12% below B = n", 2, func(r *Row) {
			if at64(*r) && seedIn(*r, 3) {
				r.Sharpness, r.Bound15 = num(val(r.Sharpness)*0.88), num(val(r.Sharpness)*0.88)
			}
		}, Holds, at64, sharp, "%.4g", "widest relative range of the sharpness at one point is at η = 0.008, B = 64"},
		{"claim 2, two seeds 12% below B = n", 2, func(r *Row) {
			if at64(*r) && seedIn(*r, 2, 3) {
				r.Sharpness, r.Bound15 = num(val(r.Sharpness)*0.88), num(val(r.Sharpness)*0.88)
			}
		}, Fails, at64, sharp, "%.4g", "violation (near B = n): at η = 0.008, median λmax(B=64)"},
		{"claim 3, one seed of B = 2 far from the edge", 3, func(r *Row) {
			if b2(*r) && seedIn(*r, 3) {
				lowerEdge(r, 0.7)
			}
		}, Holds, b2, ratio, "%.3f", "B = 2 (21 minima at 7 points, 3 seeds per point)"},
		{"claim 3, two seeds of B = 2 far from the edge", 3, func(r *Row) {
			if b2(*r) && seedIn(*r, 2, 3) {
				lowerEdge(r, 0.7)
			}
		}, Fails, b2, ratio, "%.3f", "violation: λgen/(2/η) median"},
	}
	for _, tc := range cases {
		rows := resultstest.Set(base, tc.change)
		cs := Check(rows, Tolerances{})
		c := cs[tc.claim-1]
		details := strings.Join(c.Details, "\n") + "\n" + c.Summary
		if c.Verdict != tc.want {
			t.Errorf("%s: %s, want %s (%s)\n%s", tc.name, c.Verdict, tc.want, c.Summary, details)
		}
		lo, hi := extremes(rows, tc.pick, tc.value)
		rng := fmt.Sprintf(tc.format+"–"+tc.format, lo, hi)
		if !strings.Contains(details, rng) || !strings.Contains(details, tc.mention) {
			t.Errorf("%s: details lack the range over seeds %s or %q:\n%s", tc.name, rng, tc.mention, details)
		}
		for _, other := range cs {
			if other.ID != tc.claim && other.Verdict != Holds {
				t.Errorf("%s: claim %d %s", tc.name, other.ID, other.Verdict)
			}
		}
	}
	// Claim 1 is about every minimum: one seed beyond the edge fails it, named with its seed,
	// with the spread of its point's seeds.
	rows := resultstest.Set(base, func(r *Row) {
		if r.Batch == 16 && r.LR == 0.012 && seedIn(*r, 2) {
			r.GenSharpness, r.GenLo, r.GenHi = num(1.03*2/r.LR), num(1.03*2/r.LR), num(1.03*2/r.LR)
		}
	})
	c := Check(rows, Tolerances{})[0]
	lo, hi := extremes(rows, func(r Row) bool { return r.Batch == 16 && r.LR == 0.012 }, ratio)
	details := strings.Join(c.Details, "\n")
	if c.Verdict != Fails || !strings.Contains(details, "η = 0.012, B = 16, seed 2") ||
		!strings.Contains(details, fmt.Sprintf("range %.4g–%.4g over 3 seeds", lo, hi)) {
		t.Errorf("claim 1 with one seed beyond the edge: %s\n%s", c.Verdict, details)
	}
	// Claim 3's verdict rests on the medians over seeds at each step size, then the median over
	// step sizes. At B = 8: three step sizes with every seed off the edge, five with one seed of
	// three off it. Pooled, 14 of the 24 runs are off the edge (a pooled median would fail);
	// the point medians are at the edge at five of eight step sizes, so the claim holds, and the
	// details give the median of the point medians (oracle: computed here by sorting).
	etas := results.LRs(base)
	offEdge := func(r Row) bool {
		return r.Batch == 8 && r.Converged() && (r.LR < etas[3] || seedIn(r, 3))
	}
	mixed := resultstest.Set(base, func(r *Row) {
		if offEdge(*r) {
			lowerEdge(r, 0.7)
		}
	})
	c3 := Check(mixed, Tolerances{})[2]
	var pointMedians []float64
	for _, eta := range etas {
		var v []float64
		for _, r := range results.WithLR(results.WithBatch(mixed, 8), eta) {
			v = append(v, r.GenRatio())
		}
		slices.Sort(v)
		pointMedians = append(pointMedians, v[1])
	}
	slices.Sort(pointMedians)
	want := fmt.Sprintf("B = 8 (24 minima at 8 points, 3 seeds per point): λgen/(2/η) median over step sizes of the medians over seeds %.3f",
		(pointMedians[3]+pointMedians[4])/2)
	if c3.Verdict != Holds || !strings.Contains(strings.Join(c3.Details, "\n"), want) {
		t.Errorf("claim 3 with B = 8 off the edge at 14 of 24 runs, 3 of 8 point medians: %s, want holds and %q\n%v", c3.Verdict, want, c3.Details)
	}
}

// TestSeedsPerPointInSummaries: unequal seed counts are said in the summaries.
func TestSeedsPerPointInSummaries(t *testing.T) {
	rows := resultstest.Set(seeded(), func(r *Row) {
		if r.Batch == 512 && !seedIn(*r, 1) {
			r.Status = results.StatusEpochLimit
		}
	})
	want := "1–3 seeds per point; fewer than 3 at B = 512 (1 at all 8 step sizes)"
	for _, c := range Check(rows, Tolerances{}) {
		if c.ID != 3 && !strings.Contains(c.Summary, want) {
			t.Errorf("claim %d summary lacks %q: %s", c.ID, want, c.Summary)
		}
	}
}
