package main

import (
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/claims"
	"github.com/sgdstability/sgdstab/experiments/results"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// rankRow is a converged minimum at (eta, B) with lambda_gen = 2/eta (0.95 of it at B >= 16),
// bound (25) = ratio lambda_gen and top eigenmatrix shape (reff, share).
func rankRow(eta float64, b int, ratio, reff, share float64) results.Row {
	gen := 2 / eta
	if b >= 16 {
		gen *= 0.95
	}
	r := results.Row{LR: eta, Batch: b, Status: results.StatusConverged, GenSharpness: jsonfloat.Ptr(gen),
		Bound25: jsonfloat.Ptr(ratio * gen), TopEffectiveRank: jsonfloat.Ptr(reff), TopShare: jsonfloat.Ptr(share)}
	r.Derive()
	return r
}

// TestRankOneSection: medians and ranges per batch size, and the verdicts on inference (b)
// computed from them, on synthetic tables where the inference holds and where it does not.
func TestRankOneSection(t *testing.T) {
	holds := []results.Row{
		rankRow(0.01, 1, 0.999, 1.01, 0.99), rankRow(0.02, 1, 0.995, 1.03, 0.98), rankRow(0.04, 1, 1, 1, 1),
		rankRow(0.01, 2, 0.998, 1.02, 0.99), rankRow(0.02, 2, 0.99, 1.04, 0.98),
		rankRow(0.01, 32, 0.8, 1.6, 0.7), rankRow(0.02, 32, 0.7, 2.2, 0.6),
	}
	// left out: not converged, and a generalized sharpness at its iteration limit
	off := rankRow(0.05, 1, 0.2, 9, 0.1)
	off.Status = results.StatusDiverged
	flagged := rankRow(0.06, 1, 0.3, 8, 0.1)
	flagged.AnalysisStatus = results.AnalysisIterationLimit
	md := rankOneSection(append(holds, off, flagged), claims.Tolerances{})
	for _, want := range []string{
		"## The rank-one question",
		"| 1 | 3 | 0.999 (0.995–1) | 1.01 (1–1.03) | 0.99 (0.98–1) | 0.999 (0.995–1) |",
		"| 2 | 2 | 0.994 (0.99–0.998) | 1.03 (1.02–1.04) | 0.985 (0.98–0.99) | 0.994 (0.99–0.998) |",
		"| 32 | 2 | 0.75 (0.7–0.8) | 1.9 (1.6–2.2) | 0.65 (0.6–0.7) | 0.7125 (0.665–0.76) |",
		"Inference (b) at B ≤ 8 (medians: B = 1: (25)/λgen 0.999, r_eff 1.01; B = 2: (25)/λgen 0.994, r_eff 1.03)",
		"the premise holds, the conclusion holds, so the inference holds in this table.",
	} {
		contains(t, md, want)
	}
	if strings.Contains(md, "| 1 | 4 |") || strings.Contains(md, "| 1 | 5 |") {
		t.Error("a diverged or flagged minimum was counted")
	}

	// B = 1 as in the sweep that raised the question: (25) 28% below lambda_gen, r_eff about 2
	fails := append([]results.Row{}, holds...)
	fails[1] = rankRow(0.02, 1, 0.72, 1.9, 0.6)
	fails[2] = rankRow(0.04, 1, 0.8, 1.5, 0.7)
	md = rankOneSection(fails, claims.Tolerances{})
	contains(t, md, "| 1 | 3 | 0.8 (0.72–0.999) | 1.5 (1.01–1.9) |")
	contains(t, md, "the premise does not hold, the conclusion does not hold, so the inference does not hold in this table.")

	// (25) meets lambda_gen but S* is not rank one: the conclusion fails alone
	wide := append([]results.Row{}, holds...)
	for i := range wide[:5] {
		wide[i].TopEffectiveRank = jsonfloat.Ptr(1.3)
	}
	contains(t, rankOneSection(wide, claims.Tolerances{}), "the premise holds, the conclusion does not hold, so the inference does not hold")

	// a table without the shape columns (older records): not tested
	old := []results.Row{rankRow(0.01, 1, 0.9, 1, 1)}
	old[0].TopEffectiveRank = nil
	md = rankOneSection(old, claims.Tolerances{})
	contains(t, md, "| 1 | 1 | 0.9 (0.9–0.9) | – |")
	contains(t, md, "No converged minimum with B ≤ 8 has both (25)/λgen and r_eff: inference (b) is not tested by this table.")
}
