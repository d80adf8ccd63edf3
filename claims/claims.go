package claims

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// Verdict is the outcome of one claim check.
type Verdict string

const (
	Holds    Verdict = "holds"
	Fails    Verdict = "fails"
	Untested Verdict = "untested" // the table lacks the runs the claim is about
)

// Claim is one of the paper's claims checked against a results table.
type Claim struct {
	ID        int
	Statement string
	Verdict   Verdict
	Summary   string   // the numbers behind the verdict, one or two sentences
	Details   []string // per-group numbers and every violation found (capped)
	Figures   []string // names of the figures the claim rests on, e.g. "fig1a"
}

// Tolerances of the claim checks. The zero value of each field means its default
// (WithDefaults); every default is justified in its comment.
type Tolerances struct {
	// EdgeSlack (claim 1): a converged minimum satisfies "x <= 2/eta" if
	// x <= (1 + EdgeSlack) 2/eta. Default 0.01: SGD settles at the edge (lambda_gen close to
	// 2/eta), and the convergence rule (loss below a threshold for a few epochs) cannot
	// see a mean-square growth rate just above 1 per step, nor can a linearization at a
	// point that is only approximately a minimum; 1% covers that, a real violation of
	// the stability theory would be larger.
	EdgeSlack float64
	// GDBatch (claim 2): batch sizes B >= GDBatch (and B < n) are compared with B = n.
	// Default 32, the paper's "moderate batch sizes and above".
	GDBatch int
	// NearGD (claim 2): "within a few percent of B = n" means
	// |sharpness(B)/sharpness(n) - 1| <= NearGD at the same step size. Default 0.05.
	NearGD float64
	// MonotoneSlack (claim 2): "rises with B" means, at every step size, the sharpness
	// (median over repeated runs) never drops by more than this fraction from one batch
	// size to the next larger one. Default 0.05, the same few percent as NearGD: at large
	// B the curves coincide and single runs scatter by about that much.
	MonotoneSlack float64
	// SmallBatch (claim 3): "small B" means B <= SmallBatch. Default 8, the largest batch
	// size of the paper's Figure 2.
	SmallBatch int
	// EdgeRatio (claim 3): the minima "sit at the edge of mean-square stability" if, for
	// every small B, the median over step sizes of lambda_gen/(2/eta) = eta/eta* (at each
	// step size the median over seeds) is at least EdgeRatio. Default 0.9 (within 10% of the
	// edge).
	EdgeRatio float64
	// BelowRatio (claim 3): the sharpness is "well below 2/eta" if, for every small B, the
	// median over step sizes of lambda_max/(2/eta) (medians over seeds) is at most
	// BelowRatio. Default 0.8: at least 20% below the GD limit, so that "at the edge" (>= 0.9)
	// and "well below" cannot both describe the same number.
	BelowRatio float64
	// ChainRel (claim 4): relative rounding slack of the inequalities of chain (26),
	// a <= b checked as a <= b (1 + ChainRel). The chain is a theorem, so only rounding is
	// forgiven. Default 1e-6. The upper end lambda_gen is the certified upper bound
	// gen_sharpness_hi when present.
	ChainRel float64
}

// WithDefaults returns t with every zero field replaced by its default.
func (t Tolerances) WithDefaults() Tolerances {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.EdgeSlack, 0.01)
	def(&t.NearGD, 0.05)
	def(&t.MonotoneSlack, 0.05)
	def(&t.EdgeRatio, 0.9)
	def(&t.BelowRatio, 0.8)
	def(&t.ChainRel, 1e-6)
	if t.GDBatch == 0 {
		t.GDBatch = 32
	}
	if t.SmallBatch == 0 {
		t.SmallBatch = 8
	}
	return t
}

// Describe lists the tolerances in words, for the report.
func (t Tolerances) Describe() []string {
	t = t.WithDefaults()
	return []string{
		fmt.Sprintf("Claim (1): x ≤ 2/η counts as satisfied when x ≤ (1 + %g)·2/η (rounding, the finite convergence rule and linearization at an approximate minimum cannot resolve a smaller excess); every seed's minimum is checked.", t.EdgeSlack),
		fmt.Sprintf("Claim (2): \"rises with B\": at every step size the sharpness (median over repeated runs) never drops by more than %g%% from one batch size to the next; \"within a few percent of B = n\": |λmax(B)/λmax(n) − 1| ≤ %g%% for every %d ≤ B < n.", 100*t.MonotoneSlack, 100*t.NearGD, t.GDBatch),
		fmt.Sprintf("Claim (3): small B means B ≤ %d; \"at the edge\": median over step sizes of λgen/(2/η) (at each step size the median over seeds) ≥ %g for each small B; \"well below\": the same median of λmax/(2/η) ≤ %g for each small B.", t.SmallBatch, t.EdgeRatio, t.BelowRatio),
		fmt.Sprintf("Claim (4): each link a ≤ b of the chain is checked as a ≤ b·(1 + %g) (rounding only) at every seed's minimum; λgen is taken as its certified upper bound when the table has it.", t.ChainRel),
	}
}

const maxDetails = 12

// Check checks the paper's four claims against rows, using converged runs only (every claim is
// about converged minima):
//
//  1. every converged minimum has lambda_max <= 2/eta and lambda_gen <= 2/eta (Thm 1, Thm 3);
//  2. the sharpness rises with B, and for moderate B is within a few percent of B = n;
//  3. for small B the minima sit at the edge of mean-square stability, lambda_gen close to 2/eta,
//     while lambda_max is well below 2/eta;
//  4. chain (26), lambda_max <= (15) <= (25) <= lambda_gen, holds at every minimum.
//
// The runs of one point (eta, B) are its seeds. Claims 1 and 4 are statements about every
// minimum, so every seed is checked (a median would hide a minimum against them); claim 2
// compares the medians over seeds of the sharpness at each point; claim 3 takes, per batch
// size, the median over step sizes of the medians over seeds. The summaries give the minima,
// points and seeds per point behind each verdict (results.Repeats), the details the median and
// min-max range over seeds of the quantities behind it.
//
// A minimum whose generalized sharpness stopped at its iteration limit (results.Row.GenUnconverged) has
// a lambda_gen below the true one (eta* biased high): it is left out of every check that uses
// lambda_gen, and the claim's details name it.
func Check(rows []results.Row, tol Tolerances) []Claim {
	tol = tol.WithDefaults()
	var conv []results.Row
	for _, r := range rows {
		if r.Converged() {
			conv = append(conv, r)
		}
	}
	return []Claim{claim1(conv, tol), claim2(conv, results.SampleCount(rows), tol), claim3(conv, tol), claim4(conv, tol)}
}

func g4(x float64) string { return fmt.Sprintf("%.4g", x) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func sharpness(r results.Row) float64 { return results.Value(r.Sharpness) }

// genConverged returns the rows whose generalized sharpness may be used (results.Row.GenUnconverged
// false) and, when some are not, the detail that names those left out.
func genConverged(rows []results.Row) ([]results.Row, string) {
	var kept []results.Row
	var out []string
	for _, r := range rows {
		if r.GenUnconverged() {
			out = append(out, runName(r))
		} else {
			kept = append(kept, r)
		}
	}
	if len(out) == 0 {
		return kept, ""
	}
	if len(out) > maxDetails {
		out = append(out[:maxDetails], fmt.Sprintf("and %d more", len(out)-maxDetails))
	}
	return kept, fmt.Sprintf("left out of the checks on λgen: %d minima whose generalized sharpness stopped at its iteration limit "+
		"(a lower estimate of λgen, so η* = 2/λgen is biased high): %s", len(rows)-len(kept), strings.Join(out, "; "))
}

// addNote appends note to d unless it is empty.
func addNote(d *[]string, note string) {
	if note != "" {
		*d = append(*d, note)
	}
}

// runName names a run by its point and, when the table gives it, its seed.
func runName(r results.Row) string {
	if r.Seed != nil {
		return fmt.Sprintf("%v, seed %d", r.Point(), *r.Seed)
	}
	return r.Point().String()
}

// spreadText is a median with its range over seeds, e.g. "88.6 (range 87.1–90.2 over 3 seeds)",
// or "88.6 (1 seed)".
func spreadText(s results.Spread) string {
	if s.N <= 1 {
		return g4(s.Median) + " (1 seed)"
	}
	return fmt.Sprintf("%s (range %s–%s over %d seeds)", g4(s.Median), g4(s.Min), g4(s.Max), s.N)
}

// minimaText counts rows by minima, points and seeds per point, e.g. "69 minima at 23 points,
// 3 seeds per point" (results.Repeats.String).
func minimaText(rows []results.Row) string {
	rep := results.CountRepeats(rows)
	return fmt.Sprintf("%d minima at %d points, %s", len(rows), len(rep), rep)
}

// addDetail appends s to d unless d is full, counting what was dropped in *dropped.
func addDetail(d *[]string, dropped *int, s string) {
	if len(*d) < maxDetails {
		*d = append(*d, s)
	} else {
		*dropped++
	}
}

func claim1(conv []results.Row, tol Tolerances) Claim {
	c := Claim{ID: 1, Statement: "Every converged minimum has sharpness ≤ 2/η and generalized sharpness ≤ 2/η.",
		Figures: []string{"fig1a", "fig3"}}
	type stat struct {
		n       int
		worst   float64
		at      results.Row
		viol    int
		checked []results.Row
	}
	check := func(name string, rows []results.Row, value func(results.Row) float64) stat {
		s := stat{worst: math.Inf(-1)}
		dropped := 0
		for _, r := range rows {
			v := value(r)
			if !finite(v) {
				continue
			}
			s.n++
			s.checked = append(s.checked, r)
			twoOverEta := r.TwoOverLR()
			ratio := v / twoOverEta
			if ratio > s.worst {
				s.worst, s.at = ratio, r
			}
			if ratio > 1+tol.EdgeSlack {
				s.viol++
				addDetail(&c.Details, &dropped, fmt.Sprintf("violation: %s = %s > 2/η = %s at %s (ratio %.4f)", name, g4(v), g4(twoOverEta), runName(r), ratio))
			}
		}
		if dropped > 0 {
			c.Details = append(c.Details, fmt.Sprintf("... and %d more %s violations", dropped, name))
		}
		if s.n > 0 {
			worst := s.at.Point()
			spread := spreadBy(s.checked, func(r results.Row) results.Point { return r.Point() },
				func(r results.Row) float64 { return value(r) / r.TwoOverLR() })[worst]
			c.Details = append(c.Details, fmt.Sprintf("%s/(2/η) over the seeds of the point of the largest ratio (%v): median %s", name, worst, spreadText(spread)))
		}
		return s
	}
	sh := check("sharpness", conv, sharpness)
	genRows, flagged := genConverged(conv)
	gen := check("generalized sharpness", genRows, func(r results.Row) float64 { return results.Value(r.GenSharpness) })
	if sh.n == 0 && gen.n == 0 {
		c.Verdict, c.Summary = Untested, "No converged run with a sharpness or generalized sharpness value."
		addNote(&c.Details, flagged)
		return c
	}
	var parts []string
	if sh.n > 0 {
		parts = append(parts, fmt.Sprintf("sharpness checked at every minimum (%s), largest λmax/(2/η) = %.4f (%s), %d above 1 + %g",
			minimaText(sh.checked), sh.worst, runName(sh.at), sh.viol, tol.EdgeSlack))
	}
	if gen.n > 0 {
		parts = append(parts, fmt.Sprintf("generalized sharpness checked at every minimum (%s), largest λgen/(2/η) = %.4f (%s), %d above 1 + %g",
			minimaText(gen.checked), gen.worst, runName(gen.at), gen.viol, tol.EdgeSlack))
	}
	c.Summary = strings.Join(parts, "; ") + "."
	switch {
	case sh.viol+gen.viol > 0:
		c.Verdict = Fails
	case sh.n == 0 || gen.n == 0:
		c.Verdict = Untested
		c.Summary += " One of the two quantities is missing from every converged run."
	default:
		c.Verdict = Holds
	}
	if miss := len(genRows) - gen.n; miss > 0 && gen.n > 0 {
		c.Details = append(c.Details, fmt.Sprintf("%d converged run(s) have no generalized sharpness and were not checked for it", miss))
	}
	addNote(&c.Details, flagged)
	return c
}

// spreadBy groups the usable (finite) values of rows by key and returns their spread: the
// median and the min-max range over the runs (seeds) of each group.
func spreadBy[K comparable](rows []results.Row, key func(results.Row) K, value func(results.Row) float64) map[K]results.Spread {
	vals := map[K][]float64{}
	for _, r := range rows {
		if v := value(r); finite(v) {
			vals[key(r)] = append(vals[key(r)], v)
		}
	}
	out := map[K]results.Spread{}
	for k, v := range vals {
		out[k] = results.SpreadOf(v)
	}
	return out
}

func sortedInts[V any](m map[int]V) []int { return slices.Sorted(maps.Keys(m)) }

func claim2(conv []results.Row, n int, tol Tolerances) Claim {
	c := Claim{ID: 2, Statement: fmt.Sprintf("Sharpness rises with B, and for B ≥ %d the curves are within a few percent of B = n.", tol.GDBatch),
		Figures: []string{"fig1b", "fig1a"}}
	full := n
	if full < 1 {
		for _, r := range conv {
			full = max(full, r.Batch)
		}
		c.Details = append(c.Details, fmt.Sprintf("n is not in the table: the largest batch size, %d, stands for B = n", full))
	}
	dropped := 0
	monoTested, monoFail := 0, 0
	worstDrop, worstDropAt := 0.0, ""
	gdTested, gdFail := 0, 0
	worstDev, worstDevAt := 0.0, ""
	var rises []string
	for _, eta := range results.LRs(conv) {
		sp := spreadBy(results.WithLR(conv, eta), func(r results.Row) int { return r.Batch }, sharpness)
		bs := sortedInts(sp)
		s := map[int]float64{}
		for b, x := range sp {
			s[b] = x.Median
		}
		if len(bs) >= 2 {
			monoTested++
			bad := false
			for k := 0; k+1 < len(bs); k++ {
				drop := 1 - s[bs[k+1]]/s[bs[k]]
				if drop > worstDrop {
					worstDrop, worstDropAt = drop, fmt.Sprintf("η = %g, B %d → %d: medians %s and %s", eta, bs[k], bs[k+1], spreadText(sp[bs[k]]), spreadText(sp[bs[k+1]]))
				}
				if drop > tol.MonotoneSlack {
					bad = true
					addDetail(&c.Details, &dropped, fmt.Sprintf("violation (rise): at η = %g the median sharpness drops %.1f%% from B = %d, %s, to B = %d, %s", eta, 100*drop, bs[k], spreadText(sp[bs[k]]), bs[k+1], spreadText(sp[bs[k+1]])))
				}
			}
			if bad {
				monoFail++
			}
			rises = append(rises, fmt.Sprintf("η = %g: λmax(B=%d)/λmax(B=%d) = %.3g ", eta, bs[len(bs)-1], bs[0], s[bs[len(bs)-1]]/s[bs[0]]))
		}
		ref, have := s[full]
		if !have {
			continue
		}
		for _, b := range bs {
			if b < tol.GDBatch || b >= full {
				continue
			}
			gdTested++
			dev := s[b]/ref - 1
			if math.Abs(dev) > math.Abs(worstDev) {
				worstDev, worstDevAt = dev, fmt.Sprintf("η = %g, B = %d: medians %s vs B = n %s", eta, b, spreadText(sp[b]), spreadText(sp[full]))
			}
			if math.Abs(dev) > tol.NearGD {
				gdFail++
				addDetail(&c.Details, &dropped, fmt.Sprintf("violation (near B = n): at η = %g, median λmax(B=%d) = %s is %+.1f%% from median λmax(B=n) = %s", eta, b, spreadText(sp[b]), 100*dev, spreadText(sp[full])))
			}
		}
	}
	if dropped > 0 {
		c.Details = append(c.Details, fmt.Sprintf("... and %d more violations", dropped))
	}
	if len(rises) > 0 {
		c.Details = append(c.Details, "overall rise of the median sharpness, largest over smallest batch size: "+strings.Join(rises, "; "))
	}
	if widest, at, ok := widestSpread(conv, sharpness); ok {
		c.Details = append(c.Details, fmt.Sprintf("spread over seeds: the widest relative range of the sharpness at one point is at %v: median %s", at, spreadText(widest)))
	}
	var parts []string
	if monoTested > 0 {
		p := fmt.Sprintf("rise with B tested at %d step sizes, %d with a drop above %g%%", monoTested, monoFail, 100*tol.MonotoneSlack)
		if worstDropAt != "" {
			p += fmt.Sprintf(" (largest drop %.1f%% at %s)", 100*worstDrop, worstDropAt)
		}
		parts = append(parts, p)
	} else {
		parts = append(parts, "rise with B untested (no step size with two or more converged batch sizes)")
	}
	var withSharpness []results.Row
	for _, r := range conv {
		if finite(sharpness(r)) {
			withSharpness = append(withSharpness, r)
		}
	}
	parts[0] = fmt.Sprintf("sharpness compared as medians over seeds (%s); ", minimaText(withSharpness)) + parts[0]
	if gdTested > 0 {
		parts = append(parts, fmt.Sprintf("%d (η, B ≥ %d) pairs compared with B = n = %d, %d more than %g%% away (largest deviation %+.1f%% at %s)", gdTested, tol.GDBatch, full, gdFail, 100*tol.NearGD, 100*worstDev, worstDevAt))
	} else {
		parts = append(parts, fmt.Sprintf("closeness to B = n untested (no step size with converged runs at B = n = %d and at %d ≤ B < n)", full, tol.GDBatch))
	}
	c.Summary = strings.Join(parts, "; ") + "."
	switch {
	case monoFail+gdFail > 0:
		c.Verdict = Fails
	case monoTested > 0 && gdTested > 0:
		c.Verdict = Holds
	default:
		c.Verdict = Untested
	}
	return c
}

func claim3(conv []results.Row, tol Tolerances) Claim {
	c := Claim{ID: 3, Statement: fmt.Sprintf("For small B (B ≤ %d) the minima sit at the edge of mean-square stability (generalized sharpness close to 2/η) while the sharpness is well below 2/η.", tol.SmallBatch),
		Figures: []string{"fig2", "fig3"}}
	var small []results.Row
	for _, r := range conv {
		if r.Batch <= tol.SmallBatch && finite(results.Value(r.GenSharpness)) && finite(sharpness(r)) {
			small = append(small, r)
		}
	}
	small, flagged := genConverged(small)
	if len(small) == 0 {
		c.Verdict = Untested
		c.Summary = fmt.Sprintf("No converged run with B ≤ %d has both the sharpness and the generalized sharpness.", tol.SmallBatch)
		addNote(&c.Details, flagged)
		return c
	}
	fail := false
	var parts []string
	for _, b := range results.Batches(small) {
		br := results.WithBatch(small, b)
		gen := edgeSpread(br, func(r results.Row) float64 { return r.GenRatio() })
		sh := edgeSpread(br, func(r results.Row) float64 { return r.SharpnessRatio() })
		edgeOK, belowOK := gen.Median >= tol.EdgeRatio, sh.Median <= tol.BelowRatio
		mark := "ok"
		if !edgeOK || !belowOK {
			fail = true
			var why []string
			if !edgeOK {
				why = append(why, fmt.Sprintf("λgen/(2/η) median %.3f < %g", gen.Median, tol.EdgeRatio))
			}
			if !belowOK {
				why = append(why, fmt.Sprintf("λmax/(2/η) median %.3f > %g", sh.Median, tol.BelowRatio))
			}
			mark = "violation: " + strings.Join(why, ", ")
		}
		parts = append(parts, fmt.Sprintf("B = %d: median λgen/(2/η) = %.3f (range %.3f–%.3f), median λmax/(2/η) = %.3f (range %.3f–%.3f), %s",
			b, gen.Median, gen.Min, gen.Max, sh.Median, sh.Min, sh.Max, results.CountRepeats(br).Span()))
		c.Details = append(c.Details, fmt.Sprintf("B = %d (%s): λgen/(2/η) median over step sizes of the medians over seeds %.3f, range over seeds and step sizes %.3f–%.3f; λmax/(2/η) median %.3f, range %.3f–%.3f: %s",
			b, minimaText(br), gen.Median, gen.Min, gen.Max, sh.Median, sh.Min, sh.Max, mark))
	}
	c.Summary = strings.Join(parts, "; ") + "."
	addNote(&c.Details, flagged)
	if fail {
		c.Verdict = Fails
	} else {
		c.Verdict = Holds
	}
	return c
}

// widestSpread returns the spread over seeds of value at the point where its range is widest
// relative to its median (ok false when no point has two usable values).
func widestSpread(rows []results.Row, value func(results.Row) float64) (best results.Spread, at results.Point, found bool) {
	width := func(s results.Spread) float64 { return (s.Max - s.Min) / math.Abs(s.Median) }
	for _, g := range results.Groups(rows) {
		var v []float64
		for _, r := range g.Rows {
			if x := value(r); finite(x) {
				v = append(v, x)
			}
		}
		if s := results.SpreadOf(v); s.N >= 2 && (!found || width(s) > width(best)) {
			best, at, found = s, g.Point, true
		}
	}
	return best, at, found
}

// edgeSpread is claim 3's summary of value over the runs of one batch size: Median is the median
// over step sizes of the medians over seeds at each step size (every step size weighs the same,
// however many of its seeds converged), Min and Max the range over every seed and step size, N
// the number of runs.
func edgeSpread(rows []results.Row, value func(results.Row) float64) results.Spread {
	var medians, all []float64
	for _, s := range spreadBy(rows, func(r results.Row) float64 { return r.LR }, value) {
		medians = append(medians, s.Median)
	}
	for _, r := range rows {
		if v := value(r); finite(v) {
			all = append(all, v)
		}
	}
	sp := results.SpreadOf(all)
	if len(medians) > 0 {
		sp.Median = results.Median(medians)
	}
	return sp
}

func claim4(conv []results.Row, tol Tolerances) Claim {
	c := Claim{ID: 4, Statement: "The chain sharpness ≤ (15) ≤ (25) ≤ generalized sharpness holds at every minimum.",
		Figures: []string{"fig2"}}
	type link struct {
		name    string
		lo, hi  func(results.Row) float64
		usesGen bool // the link involves lambda_gen
		tested  int
		viol    int
		worst   float64 // largest lo/hi - 1
	}
	upper := func(r results.Row) float64 {
		if hi := results.Value(r.GenHi); finite(hi) {
			return hi
		}
		return results.Value(r.GenSharpness)
	}
	b15 := func(r results.Row) float64 { return results.Value(r.Bound15) }
	b25 := func(r results.Row) float64 { return results.Value(r.Bound25) }
	links := []*link{
		{name: "λmax ≤ (15)", lo: sharpness, hi: b15},
		{name: "(15) ≤ (25)", lo: b15, hi: b25},
		{name: "(25) ≤ λgen", lo: b25, hi: upper, usesGen: true},
	}
	_, flagged := genConverged(conv)
	dropped, complete := 0, 0
	for _, r := range conv {
		all := true
		for _, l := range links {
			a, b := l.lo(r), l.hi(r)
			if !finite(a) || !finite(b) || (l.usesGen && r.GenUnconverged()) {
				all = false
				continue
			}
			l.tested++
			excess := a/b - 1
			if l.tested == 1 || excess > l.worst {
				l.worst = excess
			}
			if a > b*(1+tol.ChainRel) {
				l.viol++
				addDetail(&c.Details, &dropped, fmt.Sprintf("violation: %s fails at %s: %.8g > %.8g (relative excess %.2g)", l.name, runName(r), a, b, excess))
			}
		}
		if all {
			complete++
		}
	}
	if dropped > 0 {
		c.Details = append(c.Details, fmt.Sprintf("... and %d more violations", dropped))
	}
	// Bound (16) <= lambda_gen is also a theorem (THEORY.md); reported, not part of the verdict.
	b16, b16viol := 0, 0
	for _, r := range conv {
		b16v := results.Value(r.Bound16)
		if finite(b16v) && finite(upper(r)) && !r.GenUnconverged() {
			b16++
			if b16v > upper(r)*(1+tol.ChainRel) {
				b16viol++
			}
		}
	}
	if b16 > 0 {
		c.Details = append(c.Details, fmt.Sprintf("also bound (16) ≤ λgen (not part of the claim): %d minima, %d violations", b16, b16viol))
	}
	var parts []string
	viol := 0
	for _, l := range links {
		if l.tested == 0 {
			parts = append(parts, l.name+": no minimum has both values")
			continue
		}
		viol += l.viol
		parts = append(parts, fmt.Sprintf("%s: %d minima, %d violations (largest a/b − 1 = %.2g)", l.name, l.tested, l.viol, l.worst))
	}
	c.Summary = fmt.Sprintf("%d of %d converged minima have the whole chain, checked at every minimum (%s); ", complete, len(conv), results.CountRepeats(conv)) + strings.Join(parts, "; ") + "."
	addNote(&c.Details, flagged)
	switch {
	case viol > 0:
		c.Verdict = Fails
	case complete == 0:
		c.Verdict = Untested
	default:
		c.Verdict = Holds
	}
	return c
}
