package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/sgdstability/sgdstab/claims"
	"github.com/sgdstability/sgdstab/experiments/results"
)

// The paper's inference (b) in Sec. 4 (THEORY.md, effective rank): for small batches the second
// moment matrix that maximizes (11), the top eigenmatrix S* of pinv(C) D, is rank one, because
// bound (25) (the maximum over rank-one matrices) meets 2/eta. Its premise is tested as
// "(25) meets lambda_gen": median bound25/lambda_gen >= rankOneBoundRatio; its conclusion as
// "S* is rank one": median effective rank (tr S*)^2/||S*||_F^2 <= rankOneEffRank.
const (
	// rankOneBoundRatio: 1% below lambda_gen, the relative slack claim (1) allows between a
	// minimum and the edge, is as close as the paper's figures can show two curves to meet.
	rankOneBoundRatio = 0.99
	// rankOneEffRank: an effective rank of 1.05 is reached, for instance, by eigenvalues
	// (1, 0.025) or (1, 0.01, 0.01, ...): a second direction of a few percent of the first.
	rankOneEffRank = 1.05
)

// stats is the median and range of a sample (n = 0: no values).
type stats struct {
	n              int
	median, lo, hi float64
}

func summarize(rows []results.Row, value func(results.Row) float64) stats {
	var v []float64
	for _, r := range rows {
		if x := value(r); finite(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return stats{}
	}
	s := stats{n: len(v), median: results.Median(v), lo: math.Inf(1), hi: math.Inf(-1)}
	for _, x := range v {
		s.lo, s.hi = math.Min(s.lo, x), math.Max(s.hi, x)
	}
	return s
}

func (s stats) String() string {
	if s.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.4g (%.4g–%.4g)", s.median, s.lo, s.hi)
}

// rankOneSection renders the section "The rank-one question": per batch size, over the
// converged minima whose generalized sharpness converged, the median and range of
// bound25/lambda_gen, of the effective rank of S* and of its top share mu_1/tr S*, and the
// median of bound25/(2/eta); then, for the small batch sizes (B <= tol.SmallBatch), whether
// premise and conclusion of inference (b) hold, computed from those medians.
func rankOneSection(rows []results.Row, tol claims.Tolerances) string {
	tol = tol.WithDefaults()
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## The rank-one question\n\n")
	p("The paper infers (Sec. 4, (b)) that for small batches the second-moment matrix that maximizes (11) is rank one, because bound (25), " +
		"the maximum over rank-one matrices, meets 2/η. Here S* is the top eigenmatrix of pinv(C) D itself (Thm 6), at every minimum: " +
		"its effective rank r_eff = (tr S*)²/‖S*‖²_F (1 for rank one) and the share μ₁/tr S* of its top eigenvalue, beside (25)/λgen " +
		"(1 exactly when S* can be taken rank one). (25) is the best of its ascents, one of them started at the top eigenvector of S*. " +
		"Medians over the converged minima with a converged λgen, range in parentheses.\n\n")
	var use []results.Row
	for _, r := range rows {
		if r.Converged() && !r.GenUnconverged() {
			use = append(use, r)
		}
	}
	b25 := func(r results.Row) float64 { return results.Value(r.Bound25OverGen) }
	reff := func(r results.Row) float64 { return results.Value(r.TopEffectiveRank) }
	share := func(r results.Row) float64 { return results.Value(r.TopShare) }
	edge := func(r results.Row) float64 { return results.Value(r.Bound25) / r.TwoOverLR() }
	p("| B | minima | (25)/λgen | r_eff | μ₁/tr S* | (25)/(2/η) |\n|---:|---:|---|---|---|---|\n")
	var small []string
	premise, conclusion, tested := true, true, false
	for _, batch := range results.Batches(use) {
		br := results.WithBatch(use, batch)
		sb, sr := summarize(br, b25), summarize(br, reff)
		p("| %d | %d | %s | %s | %s | %s |\n", batch, len(br), sb, sr, summarize(br, share), summarize(br, edge))
		if batch > tol.SmallBatch || sb.n == 0 || sr.n == 0 {
			continue
		}
		tested = true
		premise = premise && sb.median >= rankOneBoundRatio
		conclusion = conclusion && sr.median <= rankOneEffRank
		small = append(small, fmt.Sprintf("B = %d: (25)/λgen %.4g, r_eff %.4g", batch, sb.median, sr.median))
	}
	p("\n")
	if !tested {
		p("No converged minimum with B ≤ %d has both (25)/λgen and r_eff: inference (b) is not tested by this table.\n", tol.SmallBatch)
		return b.String()
	}
	p("Inference (b) at B ≤ %d (medians: %s), with \"(25) meets λgen\" read as median (25)/λgen ≥ %g and \"rank one\" as median r_eff ≤ %g: ",
		tol.SmallBatch, strings.Join(small, "; "), rankOneBoundRatio, rankOneEffRank)
	yes := map[bool]string{true: "holds", false: "does not hold"}
	p("the premise %s, the conclusion %s", yes[premise], yes[conclusion])
	switch {
	case premise && conclusion:
		p(", so the inference holds in this table.\n")
	default:
		p(", so the inference does not hold in this table.\n")
	}
	return b.String()
}
