package results

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Batches returns the distinct batch sizes of rows, ascending.
func Batches(rows []Row) []int { return distinct(rows, func(r *Row) int { return r.Batch }) }

// LRs returns the distinct step sizes of rows, ascending.
func LRs(rows []Row) []float64 { return distinct(rows, func(r *Row) float64 { return r.LR }) }

func distinct[T cmp.Ordered](rows []Row, key func(*Row) T) []T {
	out := make([]T, 0, len(rows))
	for i := range rows {
		out = append(out, key(&rows[i]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SampleCount returns n: the largest n of rows, or 0 if no row gives it.
func SampleCount(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.N != nil {
			n = max(n, *r.N)
		}
	}
	return n
}

// WithBatch returns the rows of batch size b, in order.
func WithBatch(rows []Row, b int) []Row {
	return filter(rows, func(r *Row) bool { return r.Batch == b })
}

// WithLR returns the rows of step size lr, in order.
func WithLR(rows []Row, lr float64) []Row {
	return filter(rows, func(r *Row) bool { return r.LR == lr })
}

func filter(rows []Row, keep func(*Row) bool) []Row {
	var out []Row
	for i := range rows {
		if keep(&rows[i]) {
			out = append(out, rows[i])
		}
	}
	return out
}

// Median returns the median of v (the mean of the two middle values for an even count): the
// summary of repeated runs (seeds) of one (eta, B). v must not be empty.
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Spread summarizes one quantity over the repeated runs (seeds) of one point (eta, B): the
// median and the range [Min, Max] of its N values.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// SpreadOf returns the Spread of v (NaNs and N = 0 for an empty v). The caller leaves out
// values that are not usable (NaN, missing).
func SpreadOf(v []float64) Spread {
	if len(v) == 0 {
		nan := math.NaN()
		return Spread{Median: nan, Min: nan, Max: nan}
	}
	return Spread{Median: Median(v), Min: slices.Min(v), Max: slices.Max(v), N: len(v)}
}

// Point is one point (eta, B) of a grid; its runs are the seeds of that step size and batch size.
type Point struct {
	LR    float64
	Batch int
}

// Point returns the point (eta, B) of the run.
func (r *Row) Point() Point { return Point{LR: r.LR, Batch: r.Batch} }

func (p Point) String() string { return fmt.Sprintf("η = %g, B = %d", p.LR, p.Batch) }

// Group is the runs of one point, in table order.
type Group struct {
	Point
	Rows []Row
}

// Groups returns rows grouped by point, batch size ascending, then step size ascending.
func Groups(rows []Row) []Group {
	at := map[Point]int{}
	var gs []Group
	for _, r := range rows {
		i, seen := at[r.Point()]
		if !seen {
			i = len(gs)
			at[r.Point()] = i
			gs = append(gs, Group{Point: r.Point()})
		}
		gs[i].Rows = append(gs[i].Rows, r)
	}
	slices.SortFunc(gs, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Batch, b.Batch), cmp.Compare(a.LR, b.LR))
	})
	return gs
}

// Repeats is the number of runs (seeds) at each point of a row set.
type Repeats map[Point]int

// CountRepeats returns the number of rows at each point of rows.
func CountRepeats(rows []Row) Repeats {
	r := Repeats{}
	for i := range rows {
		r[rows[i].Point()]++
	}
	return r
}

// Range returns the fewest and the most runs at one point (0, 0 when there is no point).
func (r Repeats) Range() (lo, hi int) {
	if len(r) == 0 {
		return 0, 0
	}
	lo, hi = math.MaxInt, 0
	for _, k := range r {
		lo, hi = min(lo, k), max(hi, k)
	}
	return lo, hi
}

// Span names the range of runs per point: "1 seed", "3 seeds", "2–3 seeds".
func (r Repeats) Span() string {
	lo, hi := r.Range()
	switch {
	case hi == 1:
		return "1 seed"
	case lo == hi:
		return fmt.Sprintf("%d seeds", hi)
	}
	return fmt.Sprintf("%d–%d seeds", lo, hi)
}

// String says how many runs each point has: "3 seeds per point", or, when counts differ, the
// points with fewer than the most, by batch size: "1–3 seeds per point; fewer than 3 at
// B = 512 (1 at all 10 step sizes), B = 1 (2 at η = 0.043)" (at most maxListed batch sizes).
func (r Repeats) String() string {
	lo, hi := r.Range()
	if hi == 0 {
		return "no point"
	}
	if lo == hi {
		return r.Span() + " per point"
	}
	const maxListed = 6
	byBatch := map[int][]Point{}
	for p := range r {
		byBatch[p.Batch] = append(byBatch[p.Batch], p)
	}
	var parts []string
	batches := 0
	for _, b := range slices.Sorted(maps.Keys(byBatch)) {
		points := byBatch[b]
		slices.SortFunc(points, func(a, b Point) int { return cmp.Compare(a.LR, b.LR) })
		byCount := map[int][]string{}
		for _, p := range points {
			if k := r[p]; k < hi {
				byCount[k] = append(byCount[k], fmt.Sprintf("%g", p.LR))
			}
		}
		if len(byCount) == 0 {
			continue
		}
		batches++
		if batches > maxListed {
			continue
		}
		var at []string
		for _, k := range slices.Sorted(maps.Keys(byCount)) {
			if len(byCount[k]) == len(points) && len(points) > 1 {
				at = append(at, fmt.Sprintf("%d at all %d step sizes", k, len(points)))
			} else {
				at = append(at, fmt.Sprintf("%d at η = %s", k, strings.Join(byCount[k], ", ")))
			}
		}
		parts = append(parts, fmt.Sprintf("B = %d (%s)", b, strings.Join(at, "; ")))
	}
	if batches > maxListed {
		parts = append(parts, fmt.Sprintf("and %d more batch sizes", batches-maxListed))
	}
	return fmt.Sprintf("%d–%d seeds per point; fewer than %d at %s", lo, hi, hi, strings.Join(parts, ", "))
}
