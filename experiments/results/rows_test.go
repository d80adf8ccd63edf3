package results

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSpreadOf compares SpreadOf with a brute-force oracle: the median as the value with n/2
// values below it (for an even count the mean of those with n/2 - 1 and n/2 below), the range
// by a scan.
func TestSpreadOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 9; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		s := SpreadOf(v)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		// rank of x = how many values are below it (the values are distinct).
		byRank := map[int]float64{}
		for _, x := range v {
			rank := 0
			for _, y := range v {
				if y < x {
					rank++
				}
			}
			byRank[rank] = x
		}
		med := byRank[n/2]
		if n%2 == 0 {
			med = (byRank[n/2-1] + byRank[n/2]) / 2
		}
		if s.N != n || s.Min != lo || s.Max != hi || math.Abs(s.Median-med) > 1e-15 {
			t.Errorf("n = %d: %+v, want median %v, range %v–%v", n, s, med, lo, hi)
		}
	}
	if e := SpreadOf(nil); e.N != 0 || !math.IsNaN(e.Median) || !math.IsNaN(e.Min) || !math.IsNaN(e.Max) {
		t.Errorf("empty: %+v", e)
	}
}

func TestGroupsAndRepeats(t *testing.T) {
	mk := func(lr float64, b int) Row { return Row{LR: lr, Batch: b, Status: StatusConverged} }
	rows := []Row{mk(0.1, 8), mk(0.01, 8), mk(0.1, 1), mk(0.1, 8), mk(0.01, 1), mk(0.1, 8), mk(0.01, 8)}
	gs := Groups(rows)
	want := []struct {
		p Point
		n int
	}{{Point{0.01, 1}, 1}, {Point{0.1, 1}, 1}, {Point{0.01, 8}, 2}, {Point{0.1, 8}, 3}}
	if len(gs) != len(want) {
		t.Fatalf("%d groups, want %d", len(gs), len(want))
	}
	total := 0
	for i, w := range want {
		if gs[i].Point != w.p || len(gs[i].Rows) != w.n {
			t.Errorf("group %d: %v with %d rows, want %v with %d", i, gs[i].Point, len(gs[i].Rows), w.p, w.n)
		}
		for _, r := range gs[i].Rows {
			if r.Point() != w.p {
				t.Errorf("group %v holds a row of %v", w.p, r.Point())
			}
		}
		total += len(gs[i].Rows)
	}
	if total != len(rows) {
		t.Errorf("groups hold %d rows, want %d", total, len(rows))
	}
	rep := CountRepeats(rows)
	if lo, hi := rep.Range(); lo != 1 || hi != 3 || rep.Span() != "1–3 seeds" {
		t.Errorf("range %d–%d, span %q", lo, hi, rep.Span())
	}
	if got, want := rep.String(), "1–3 seeds per point; fewer than 3 at B = 1 (1 at all 2 step sizes), B = 8 (2 at η = 0.01)"; got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	for _, tc := range []struct {
		rows       []Row
		span, text string
	}{
		{nil, "1 seed", "no point"}, // Span of nothing is never printed; String says so
		{rows[:1], "1 seed", "1 seed per point"},
		{[]Row{mk(0.1, 8), mk(0.1, 8), mk(0.2, 8), mk(0.2, 8)}, "2 seeds", "2 seeds per point"},
	} {
		r := CountRepeats(tc.rows)
		if (len(tc.rows) > 0 && r.Span() != tc.span) || r.String() != tc.text {
			t.Errorf("%d rows: span %q, text %q; want %q, %q", len(tc.rows), r.Span(), r.String(), tc.span, tc.text)
		}
	}
	// Many batch sizes with fewer seeds are cut after six.
	var many []Row
	for b := 1; b <= 9; b++ {
		many = append(many, mk(0.1, b))
	}
	many = append(many, mk(0.1, 10), mk(0.1, 10))
	if got, want := CountRepeats(many).String(), "and 3 more batch sizes"; !strings.HasSuffix(got, want) {
		t.Errorf("String() = %q, want it to end with %q", got, want)
	}
}

func TestFullBatch(t *testing.T) {
	n64, n128 := 64, 128
	for _, c := range []struct {
		batch, tableN int
		n             *int
		want          bool
	}{
		{64, 64, nil, true}, {32, 64, nil, false}, {64, 0, nil, false}, // n unknown: never full-batch
		{64, 128, &n64, true}, {64, 64, &n128, false}, // the row's own n wins
	} {
		r := Row{Batch: c.batch, N: c.n}
		if got := r.FullBatch(c.tableN); got != c.want {
			t.Errorf("B = %d, table n %d, row n %v: %v, want %v", c.batch, c.tableN, c.n, got, c.want)
		}
	}
}
