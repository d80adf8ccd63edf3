package results

import (
	"cmp"
	"slices"
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
