package claims

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/sgdstability/sgdstab/experiments/results"
)

// The paper's regime (Sec. 4): "we initialized the training with large weights to ensure that the
// minimum closest to the starting point is unstable ... large initialization and warm-up force SGD
// out of the unstable region until it finds a stable minimum and converges as closely as possible
// to the stability threshold". A table is in that regime when
//
//	(a) the start is unstable for every SGD step size eta of the grid: lambda_0 > 2/eta, with
//	    lambda_0 the sharpness at the initial point (Thm 1), and so is the point that GD with a
//	    tiny step (gradient flow; THEORY.md, "The closest minimum") reaches from it: its sharpness
//	    above 2/eta makes it unstable for every B (lambda_gen >= lambda_max, Prop. 1);
//	(b) at least RegimeConvergedShare of the SGD runs with B <= RegimeMaxBatch converge under the
//	    table's rule (status converged);
//	(c) for B in RegimeEdgeBatches every seed's minimum at every SGD step size of the grid has
//	    lambda_gen/(2/eta) = eta/eta* >= RegimeEdgeRatio (Thm 3); a run that did not converge or
//	    has no usable lambda_gen fails at its step size.
const (
	RegimeMaxBatch       = 32
	RegimeConvergedShare = 0.9
	RegimeEdgeRatio      = 0.9
)

var (
	// RegimeEdgeBatches are the batch sizes of criterion (c).
	RegimeEdgeBatches = []int{1, 2}
	// RegimeShownBatches are reported with the numbers of criterion (c) but no verdict.
	RegimeShownBatches = []int{4, 8}
)

// Regime is the check of the criteria (a), (b), (c) on one table (CheckRegime).
type Regime struct {
	Starts []Start     // criterion (a), one per initial point of the table (Starts)
	A      Criterion   // criterion (a) over every initial point
	Conv   Convergence // criterion (b)
	B      Criterion
	Edges  []Edge // criterion (c): RegimeEdgeBatches, then RegimeShownBatches
	C      Criterion
	// Differences lists, computed from the table, where the run differs from the paper's
	// experiment: criteria that fail or are untested and by how much, full-batch step sizes
	// without a converged run, seeds per point.
	Differences []string
}

// Criterion is the verdict of one criterion with the numbers behind it.
type Criterion struct {
	Name      string // "a", "b", "c"
	Statement string
	Verdict   Verdict
	Summary   string
	Details   []string
}

// InitPoint identifies the initial point of a run: every run with the same hidden width, init
// factor, init seed, n, data and loss starts from the same parameters. Unknown values are nil,
// NaN or "".
type InitPoint struct {
	Hidden     *int
	InitFactor float64
	InitSeed   *uint64
	N          *int
	Data, Loss string
}

func initPointOf(r results.Row) InitPoint {
	return InitPoint{Hidden: r.Hidden, InitFactor: results.Value(r.InitFactor), InitSeed: r.InitSeed, N: r.N,
		Data: r.DataChecksum, Loss: r.Loss}
}

func (p InitPoint) key() string {
	ptr := func(x any) string {
		switch v := x.(type) {
		case *int:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *uint64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return "?"
	}
	return fmt.Sprintf("%s|%v|%s|%s|%s|%s", ptr(p.Hidden), p.InitFactor, ptr(p.InitSeed), ptr(p.N), p.Data, p.Loss)
}

// String names the initial point, e.g. "h = 100, init factor 5, init seed 0".
func (p InitPoint) String() string {
	h, s := "?", "?"
	if p.Hidden != nil {
		h = fmt.Sprint(*p.Hidden)
	}
	if p.InitSeed != nil {
		s = fmt.Sprint(*p.InitSeed)
	}
	f := "?"
	if !math.IsNaN(p.InitFactor) {
		f = fmt.Sprint(p.InitFactor)
	}
	return fmt.Sprintf("h = %s, init factor %s, init seed %s", h, f, s)
}

// Start is criterion (a) at one initial point.
type Start struct {
	Init InitPoint
	// Lambda0 is the sharpness at the initial point: the largest epoch-0 entry of the sharpness
	// paths of the runs from it (each a Ritz value, never above lambda_max); NaN when no path of
	// such a run is given. Lambda0Paths counts those paths.
	Lambda0      float64
	Lambda0Paths int
	// SGDLRs are the step sizes of the runs from this point with B < n, ascending. StartRatio is
	// min over them of lambda_0/(2/eta) = lambda_0 eta_min/2 (> 1: unstable at every one).
	SGDLRs     []float64
	StartRatio float64
	// GD is the full-batch run (B = n) from this point with the smallest step size among those
	// stable at the start (2/eta > lambda_0), nil when there is none. Reached is the sharpness of
	// the point it reached: the last entry of its path (after epoch ReachedEpoch), or, without a
	// path, the analysed sharpness of its converged minimum (ReachedFromAnalysis); NaN when
	// neither exists. ReachedRatio is min over SGDLRs of Reached/(2/eta).
	GD                  *results.Row
	Reached             float64
	ReachedEpoch        int
	ReachedFromAnalysis bool
	ReachedRatio        float64
	// Missing names the measurements that are missing.
	Missing []string
	Verdict Verdict
}

// Convergence is criterion (b): the SGD runs with B <= RegimeMaxBatch and B < n.
type Convergence struct {
	Runs, Converged int
	Share           float64 // Converged/Runs; NaN without runs
	NotConverged    []string
}

// Edge is criterion (c) at one batch size: lambda_gen/(2/eta) over every seed at every SGD step
// size of the table.
type Edge struct {
	Batch int
	// Min is the smallest lambda_gen/(2/eta) over the usable minima (converged, analysed, with a
	// converged lambda_gen), at MinAt; NaN when there is none.
	Min   float64
	MinAt string
	// MedianMin is the smallest value of the curve of medians over seeds (per step size, over
	// the usable minima), at step size MedianMinLR.
	MedianMin, MedianMinLR float64
	Runs                   int      // runs at this batch size
	Minima                 int      // usable minima
	LRs                    int      // step sizes of the grid
	Failures               []string // runs below RegimeEdgeRatio, not converged, not analysed; step sizes not run
	Verdict                Verdict  // Holds, Fails, Untested (no run at this batch size)
}

// CheckRegime checks the criteria (a), (b), (c) on rows, with the sharpness paths of its runs
// (joined to rows by key; paths of other runs are ignored). n is each row's n, or the table's
// (results.SampleCount); B = n is full-batch GD, every B < n is SGD.
func CheckRegime(rows []results.Row, paths []results.Path) Regime {
	var reg Regime
	n := results.SampleCount(rows)
	isGD := func(r results.Row) bool { return r.FullBatch(n) }
	var sgd []results.Row
	for _, r := range rows {
		if !isGD(r) {
			sgd = append(sgd, r)
		}
	}
	reg.Starts = Starts(rows, paths)
	reg.A = criterionA(reg.Starts)
	reg.Conv, reg.B = criterionB(sgd)
	grid := results.LRs(sgd)
	for _, b := range append(slices.Clone(RegimeEdgeBatches), RegimeShownBatches...) {
		reg.Edges = append(reg.Edges, edgeAt(results.WithBatch(sgd, b), b, grid, slices.Contains(RegimeEdgeBatches, b)))
	}
	reg.C = criterionC(reg.Edges)
	reg.Differences = differences(reg, rows, isGD, grid)
	return reg
}

// Starts computes criterion (a) for each initial point of rows (InitPoint, in table order), from
// its runs and their paths (joined by key). An initial point without SGD runs (such as a table of
// one tiny-step GD run) gets lambda_0 and the point reached, with NaN ratios and verdict Untested.
func Starts(rows []results.Row, paths []results.Path) []Start {
	n := results.SampleCount(rows)
	byKey := map[string]*results.Path{}
	for i := range paths {
		if _, seen := byKey[paths[i].Key]; !seen {
			byKey[paths[i].Key] = &paths[i]
		}
	}
	var order []string
	groups := map[string][]results.Row{}
	points := map[string]InitPoint{}
	for _, r := range rows {
		p := initPointOf(r)
		k := p.key()
		if _, seen := groups[k]; !seen {
			order = append(order, k)
			points[k] = p
		}
		groups[k] = append(groups[k], r)
	}
	var out []Start
	for _, k := range order {
		out = append(out, startAt(points[k], groups[k], byKey, n, len(paths) > 0))
	}
	return out
}

func startAt(p InitPoint, rows []results.Row, byKey map[string]*results.Path, n int, anyPaths bool) Start {
	s := Start{Init: p, Lambda0: math.NaN(), StartRatio: math.NaN(), Reached: math.NaN(), ReachedRatio: math.NaN()}
	var gd []results.Row
	for _, r := range rows {
		if r.FullBatch(n) {
			gd = append(gd, r)
		} else {
			s.SGDLRs = append(s.SGDLRs, r.LR)
		}
		if path := byKey[r.Key]; path != nil && r.Key != "" && path.Epochs[0] == 0 && finite(path.Sharpness[0]) {
			s.Lambda0Paths++
			if math.IsNaN(s.Lambda0) || path.Sharpness[0] > s.Lambda0 {
				s.Lambda0 = path.Sharpness[0]
			}
		}
	}
	slices.Sort(s.SGDLRs)
	s.SGDLRs = slices.Compact(s.SGDLRs)
	if math.IsNaN(s.Lambda0) {
		if anyPaths {
			s.Missing = append(s.Missing, "the sharpness at initialization: no sharpness path of a run of this table from "+p.String()+" has an epoch-0 entry")
		} else {
			s.Missing = append(s.Missing, "the sharpness at initialization: no sharpness paths (train with training.sharpness_every set)")
		}
		s.Verdict = Untested
		return s
	}
	if len(s.SGDLRs) > 0 {
		s.StartRatio = s.Lambda0 * s.SGDLRs[0] / 2
	}
	// the full-batch run of smallest step size that is stable at the start; of its runs, the
	// first with a path (GD does not depend on the sampling seed)
	var stable []results.Row
	var unstable []float64
	for _, r := range gd {
		if r.TwoOverLR() > s.Lambda0 {
			stable = append(stable, r)
		} else {
			unstable = append(unstable, r.LR)
		}
	}
	if len(stable) == 0 {
		why := "no full-batch (B = n) run"
		if len(unstable) > 0 {
			slices.Sort(unstable)
			why = fmt.Sprintf("no full-batch (B = n) run at a step size stable at the start (2/η > λ0 = %s; the full-batch runs at η = %s start unstable)",
				g4(s.Lambda0), joinLRs(slices.Compact(unstable)))
		}
		s.Missing = append(s.Missing, "the point GD with a tiny step reaches: "+why)
	} else {
		lo := slices.MinFunc(stable, func(a, b results.Row) int { return cmp.Compare(a.LR, b.LR) }).LR
		var chosen *results.Row
		for _, r := range stable {
			if r.LR != lo {
				continue
			}
			if chosen == nil {
				chosen = &r
			}
			if byKey[r.Key] != nil && r.Key != "" {
				chosen = &r
				break
			}
		}
		s.GD = chosen
		if path := byKey[chosen.Key]; path != nil && chosen.Key != "" && finite(path.Sharpness[len(path.Sharpness)-1]) {
			j := len(path.Sharpness) - 1
			s.Reached, s.ReachedEpoch = path.Sharpness[j], path.Epochs[j]
		} else if sh := results.Value(chosen.Sharpness); chosen.Converged() && finite(sh) {
			s.Reached, s.ReachedFromAnalysis = sh, true
			if chosen.Epochs != nil {
				s.ReachedEpoch = *chosen.Epochs
			}
		} else {
			s.Missing = append(s.Missing, fmt.Sprintf("the point GD with a tiny step reaches: the full-batch run at η = %g (%s) has no sharpness path with a finite last entry and no analysed minimum",
				chosen.LR, statusText(*chosen)))
		}
	}
	if len(s.SGDLRs) > 0 && finite(s.Reached) {
		s.ReachedRatio = s.Reached * s.SGDLRs[0] / 2
	}
	switch {
	case len(s.SGDLRs) == 0:
		s.Verdict = Untested
	case s.StartRatio <= 1 || (finite(s.ReachedRatio) && s.ReachedRatio <= 1):
		s.Verdict = Fails
	case !finite(s.ReachedRatio):
		s.Verdict = Untested
	default:
		s.Verdict = Holds
	}
	return s
}

// statusText is a run's status with its epochs and final loss, e.g. "epoch_limit after 20000
// epochs, loss 1.2e-05".
func statusText(r results.Row) string {
	s := r.Status
	if s == "" {
		s = "no status"
	}
	if r.Epochs != nil {
		s += fmt.Sprintf(" after %d epochs", *r.Epochs)
	}
	if l := results.Value(r.FinalLoss); !math.IsNaN(l) {
		s += fmt.Sprintf(", loss %.3g", l)
	}
	return s
}

func joinLRs(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%g", x)
	}
	return strings.Join(s, ", ")
}

// Text describes criterion (a) at s in one sentence.
func (s Start) Text() string {
	var parts []string
	if finite(s.Lambda0) {
		p := fmt.Sprintf("λ0 = %s at the initial point (%s; unstable for η > 2/λ0 = %s)", g4(s.Lambda0), s.Init, g4(2/s.Lambda0))
		if len(s.SGDLRs) > 0 {
			p += fmt.Sprintf(", min over the %d SGD step sizes of λ0/(2/η) = %.3f (at η = %g): the start is %s every step size of the grid",
				len(s.SGDLRs), s.StartRatio, s.SGDLRs[0], map[bool]string{true: "unstable at", false: "not unstable at"}[s.StartRatio > 1])
		}
		parts = append(parts, p)
	}
	if s.GD != nil && finite(s.Reached) {
		from := fmt.Sprintf("its sharpness path after epoch %d", s.ReachedEpoch)
		if s.ReachedFromAnalysis {
			from = "its analysed minimum"
		}
		grid := ""
		if s.GD.Config != "" {
			grid = "`" + s.GD.Config + "`, "
		}
		p := fmt.Sprintf("GD at η = %g (%sstable at the start) reached sharpness %s (%s; %s; unstable for η > %s)", s.GD.LR, grid, g4(s.Reached), from, statusText(*s.GD), g4(2/s.Reached))
		if !s.GD.Converged() {
			p += ", not a converged minimum but the point reached"
		}
		if finite(s.ReachedRatio) {
			p += fmt.Sprintf(", min over the grid of sharpness/(2/η) = %.3f: %s every SGD step size", s.ReachedRatio,
				map[bool]string{true: "unstable at", false: "not unstable at"}[s.ReachedRatio > 1])
		}
		parts = append(parts, p)
	}
	for _, m := range s.Missing {
		parts = append(parts, "missing: "+m)
	}
	return strings.Join(parts, "; ") + "."
}

func criterionA(starts []Start) Criterion {
	c := Criterion{Name: "a", Statement: "The start is unstable for every SGD step size of the grid (λ0 > 2/η), and so is the point GD with a tiny step reaches from it."}
	var used []Start
	for _, s := range starts {
		if len(s.SGDLRs) > 0 {
			used = append(used, s)
		}
	}
	if len(used) == 0 {
		c.Verdict, c.Summary = Untested, "No SGD run in the table."
		return c
	}
	c.Verdict = Holds
	var texts []string
	for _, s := range used {
		switch {
		case s.Verdict == Fails:
			c.Verdict = Fails
		case s.Verdict == Untested && c.Verdict == Holds:
			c.Verdict = Untested
		}
		texts = append(texts, s.Text())
	}
	c.Summary = strings.Join(texts, " ")
	if len(used) > 1 {
		c.Summary = fmt.Sprintf("%d initial points: %s", len(used), c.Summary)
	}
	return c
}

func criterionB(sgd []results.Row) (Convergence, Criterion) {
	c := Criterion{Name: "b", Statement: fmt.Sprintf("At least %.0f %% of the SGD runs with B ≤ %d converge under the rule.", 100*RegimeConvergedShare, RegimeMaxBatch)}
	cv := Convergence{Share: math.NaN()}
	byStatus := map[string]int{}
	for _, r := range sgd {
		if r.Batch > RegimeMaxBatch {
			continue
		}
		cv.Runs++
		if r.Converged() {
			cv.Converged++
			continue
		}
		byStatus[r.Status]++
		cv.NotConverged = append(cv.NotConverged, fmt.Sprintf("%s: %s", runName(r), statusText(r)))
	}
	if cv.Runs == 0 {
		c.Verdict, c.Summary = Untested, fmt.Sprintf("No SGD run with B ≤ %d.", RegimeMaxBatch)
		return cv, c
	}
	cv.Share = float64(cv.Converged) / float64(cv.Runs)
	c.Verdict = Fails
	if cv.Share >= RegimeConvergedShare {
		c.Verdict = Holds
	}
	c.Summary = fmt.Sprintf("%d of %d SGD runs with B ≤ %d converged (%.1f %%, every seed counted).", cv.Converged, cv.Runs, RegimeMaxBatch, 100*cv.Share)
	if len(byStatus) > 0 {
		var st []string
		for _, k := range slices.Sorted(maps.Keys(byStatus)) {
			st = append(st, fmt.Sprintf("%s %d", k, byStatus[k]))
		}
		c.Summary += " Not converged: " + strings.Join(st, ", ") + "."
	}
	c.Details = capped(cv.NotConverged)
	return cv, c
}

// capped returns at most maxDetails entries of v, the last one counting the rest.
func capped(v []string) []string {
	if len(v) <= maxDetails {
		return v
	}
	return append(slices.Clone(v[:maxDetails-1]), fmt.Sprintf("and %d more", len(v)-maxDetails+1))
}

// edgeAt is criterion (c) at batch size b over the step sizes grid (rows: the runs of b).
func edgeAt(rows []results.Row, b int, grid []float64, verdict bool) Edge {
	e := Edge{Batch: b, Min: math.NaN(), MedianMin: math.NaN(), MedianMinLR: math.NaN(), LRs: len(grid), Runs: len(rows)}
	for _, lr := range grid {
		at := results.WithLR(rows, lr)
		if len(at) == 0 {
			e.Failures = append(e.Failures, fmt.Sprintf("η = %g: not run", lr))
			continue
		}
		var vals []float64
		for _, r := range at {
			g := r.GenRatio()
			switch {
			case !r.Converged():
				e.Failures = append(e.Failures, fmt.Sprintf("%s: %s", runName(r), statusText(r)))
				continue
			case r.GenUnconverged():
				e.Failures = append(e.Failures, runName(r)+": λgen stopped at its iteration limit (a lower estimate)")
				continue
			case !finite(g):
				e.Failures = append(e.Failures, runName(r)+": converged, no generalized sharpness")
				continue
			}
			e.Minima++
			vals = append(vals, g)
			if math.IsNaN(e.Min) || g < e.Min {
				e.Min, e.MinAt = g, runName(r)
			}
			if g < RegimeEdgeRatio {
				e.Failures = append(e.Failures, fmt.Sprintf("%s: λgen/(2/η) = %.3f", runName(r), g))
			}
		}
		if len(vals) > 0 {
			if m := results.Median(vals); math.IsNaN(e.MedianMin) || m < e.MedianMin {
				e.MedianMin, e.MedianMinLR = m, lr
			}
		}
	}
	switch {
	case !verdict:
	case len(rows) == 0:
		e.Verdict = Untested
	case len(e.Failures) > 0:
		e.Verdict = Fails
	default:
		e.Verdict = Holds
	}
	return e
}

// Text describes criterion (c) at e in one sentence, with its failures.
func (e Edge) Text() string {
	s := e.Short()
	if k := len(e.Failures); k > 0 && e.Runs > 0 {
		s += fmt.Sprintf("; failing (below %g, not converged, not usable or not run): %s", RegimeEdgeRatio, strings.Join(capped(e.Failures), "; "))
	}
	if e.Verdict != "" {
		s += fmt.Sprintf(" (%s)", e.Verdict)
	}
	return s + "."
}

// Short describes criterion (c) at e without the list of failures.
func (e Edge) Short() string {
	if e.Runs == 0 {
		return fmt.Sprintf("B = %d: not run", e.Batch)
	}
	s := fmt.Sprintf("B = %d: %s at %d step sizes", e.Batch, plural(e.Minima, "usable minimum", "usable minima"), e.LRs)
	if e.Minima > 0 {
		s += fmt.Sprintf(", smallest λgen/(2/η) %.3f (%s), smallest median over seeds %.3f (η = %g)", e.Min, e.MinAt, e.MedianMin, e.MedianMinLR)
	}
	return s + fmt.Sprintf(", %d failing", len(e.Failures))
}

func plural(k int, one, many string) string {
	if k == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", k, many)
}

func criterionC(edges []Edge) Criterion {
	var bs []string
	for _, b := range RegimeEdgeBatches {
		bs = append(bs, fmt.Sprint(b))
	}
	c := Criterion{Name: "c", Statement: fmt.Sprintf("For B = %s, λgen/(2/η) ≥ %g at every step size of the grid, for every seed (a run that did not converge fails).",
		strings.Join(bs, " and "), RegimeEdgeRatio)}
	c.Verdict = Holds
	var short []string
	for _, e := range edges {
		switch {
		case e.Verdict == "":
			c.Details = append(c.Details, "for comparison, no verdict: "+e.Text())
		case e.Runs > 0 && len(e.Failures) > 0:
			c.Details = append(c.Details, fmt.Sprintf("B = %d, failing: %s.", e.Batch, strings.Join(capped(e.Failures), "; ")))
		}
		if e.Verdict != "" {
			short = append(short, e.Short())
		}
		switch {
		case e.Verdict == Fails:
			c.Verdict = Fails
		case e.Verdict == Untested && c.Verdict == Holds:
			c.Verdict = Untested
		}
	}
	c.Summary = strings.Join(short, "; ") + "."
	return c
}

// stableAt counts the step sizes of lrs at which sharpness x is GD-stable, x <= 2/eta (Thm 1).
func stableAt(x float64, lrs []float64) int {
	k := 0
	for _, lr := range lrs {
		if x <= 2/lr {
			k++
		}
	}
	return k
}

// differences lists where the table differs from the paper's experiment.
func differences(reg Regime, rows []results.Row, isGD func(results.Row) bool, grid []float64) []string {
	var d []string
	for _, s := range reg.Starts {
		if len(s.SGDLRs) == 0 {
			continue
		}
		if finite(s.StartRatio) && s.StartRatio <= 1 {
			d = append(d, fmt.Sprintf("(a) The start (%s) is stable at %d of the %d SGD step sizes (η ≤ 2/λ0 = %s): λ0/(2/η) = %.3f at η = %g, where the paper needs > 1.",
				s.Init, stableAt(s.Lambda0, s.SGDLRs), len(s.SGDLRs), g4(2/s.Lambda0), s.StartRatio, s.SGDLRs[0]))
		}
		if finite(s.ReachedRatio) && s.ReachedRatio <= 1 {
			d = append(d, fmt.Sprintf("(a) The point GD with a tiny step reaches (sharpness %s) is stable for GD at %d of the %d SGD step sizes (η ≤ %s): sharpness/(2/η) = %.3f at η = %g.",
				g4(s.Reached), stableAt(s.Reached, s.SGDLRs), len(s.SGDLRs), g4(2/s.Reached), s.ReachedRatio, s.SGDLRs[0]))
		}
		if s.GD != nil && finite(s.Reached) && !s.GD.Converged() {
			d = append(d, fmt.Sprintf("(a) GD with a tiny step (η = %g) did not converge: %s; its sharpness %s is that of the point reached.", s.GD.LR, statusText(*s.GD), g4(s.Reached)))
		}
		for _, m := range s.Missing {
			d = append(d, "(a) untested, missing "+m+".")
		}
	}
	if reg.B.Verdict == Fails {
		need := int(math.Ceil(RegimeConvergedShare*float64(reg.Conv.Runs) - 1e-9))
		d = append(d, fmt.Sprintf("(b) %.1f %% of the SGD runs with B ≤ %d converged (%d of %d), %.0f %% needed: %d more would have to converge.",
			100*reg.Conv.Share, RegimeMaxBatch, reg.Conv.Converged, reg.Conv.Runs, 100*RegimeConvergedShare, need-reg.Conv.Converged))
	}
	for _, e := range reg.Edges {
		switch e.Verdict {
		case Fails:
			s := fmt.Sprintf("(c) B = %d: %d of the runs and step sizes fail: %s", e.Batch, len(e.Failures), strings.Join(capped(e.Failures), "; "))
			if e.Minima > 0 && e.Min < RegimeEdgeRatio {
				s += fmt.Sprintf("; smallest λgen/(2/η) %.3f (%s), %.3f below %g", e.Min, e.MinAt, RegimeEdgeRatio-e.Min, RegimeEdgeRatio)
			} else if e.Minima > 0 {
				s += fmt.Sprintf("; every converged minimum is at or above %g (smallest %.3f, %s)", RegimeEdgeRatio, e.Min, e.MinAt)
			}
			d = append(d, s+".")
		case Untested:
			d = append(d, fmt.Sprintf("(c) B = %d was not run.", e.Batch))
		}
	}
	// full-batch GD step sizes without a converged run: missing from the figures
	var gdRows []results.Row
	for _, r := range rows {
		if isGD(r) {
			gdRows = append(gdRows, r)
		}
	}
	var notConv []string
	var notRun []float64
	for _, lr := range grid {
		at := results.WithLR(gdRows, lr)
		if len(at) == 0 {
			notRun = append(notRun, lr)
			continue
		}
		if !slices.ContainsFunc(at, func(r results.Row) bool { return r.Converged() }) {
			notConv = append(notConv, fmt.Sprintf("η = %g (%s)", lr, statusText(at[0])))
		}
	}
	if len(notConv) > 0 {
		d = append(d, fmt.Sprintf("Full-batch GD (B = n) did not converge at %d of the grid's step sizes, so Figure 1(a) has no GD point there: %s.",
			len(notConv), strings.Join(notConv, "; ")))
	}
	if len(gdRows) > 0 && len(notRun) > 0 {
		d = append(d, fmt.Sprintf("Full-batch GD (B = n) was not run at η = %s.", joinLRs(notRun)))
	}
	if len(gdRows) == 0 && len(rows) > 0 {
		d = append(d, "No full-batch GD (B = n) run: Figure 1(a) has no GD curve.")
	}
	if rep := results.CountRepeats(rows); len(rep) > 0 {
		if _, hi := rep.Range(); hi <= 1 {
			d = append(d, "One run (seed) per point (η, B): the figures and claims show no spread over seeds.")
		} else {
			d = append(d, "Seeds: "+rep.String()+".")
		}
	}
	return d
}
