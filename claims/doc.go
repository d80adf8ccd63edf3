// Package claims checks the paper's claims (Mulayoff & Michaeli 2024, Sec. 4; THEORY.md) against
// a results table (experiments/results): each claim is "holds", "fails" or "untested" (the table
// lacks the runs it is about), with the numbers behind the verdict, every violation found, and
// the tolerances of Tolerances, which Tolerances.Describe puts into words for the report.
//
//	rows, err := results.ReadFile("results/table.csv")
//	for _, c := range claims.Check(rows, claims.Tolerances{}) {
//		fmt.Println(c.ID, c.Verdict, c.Summary)
//	}
//
// Only converged runs count. The runs of one point (eta, B) are its seeds: claims about every
// minimum (1, 4) check every seed, claims about curves (2, 3) use medians over seeds; the
// summaries count seeds per point and the details give the range over seeds. A generalized sharpness whose computation stopped at its
// iteration limit (results.Row.GenUnconverged) is a lower estimate of lambda_gen, so it can
// neither confirm nor refute a claim about lambda_gen or eta* = 2/lambda_gen: such minima are
// left out of those checks and named in the claim's details.
//
// CheckRegime checks, on the same table and its sharpness paths (results.Path), the three
// criteria of the paper's regime (Sec. 4): (a) the start, and the point GD with a tiny step reaches
// from it, are unstable for every SGD step size of the grid; (b) at least 90 % of the SGD runs
// with B <= 32 converge; (c) lambda_gen/(2/eta) >= 0.9 for B = 1 and 2 at every step size, for
// every seed. It also lists where the table differs from the paper's experiment. The report and
// the exploration command both use it.
//
//	reg := claims.CheckRegime(rows, paths)
//	fmt.Println(reg.A.Verdict, reg.B.Verdict, reg.C.Verdict, reg.Differences)
//
// The package reads tables only; the figures a claim rests on are named in Claim.Figures (the
// names of package plots' figures) and drawn by plots.
package claims
