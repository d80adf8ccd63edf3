package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/internal/sampling"
	"github.com/sgdstability/sgdstab/plots"
	"github.com/sgdstability/sgdstab/validate"
)

func writeFigure(dir string, recs []*minRecord) error {
	var pts []plots.Fig4Point
	for _, r := range recs {
		for _, l := range r.Linear {
			pts = append(pts, plots.Fig4Point{Batch: r.Batch, LR: r.LR, Process: l.Process, Kind: plots.Fig4Growth,
				C: l.C, Y: l.Normalized, Lo: l.NormLo, Hi: l.NormHi})
		}
		for _, proc := range []string{sampling.Independent, sampling.Mixture} {
			esc, runs := map[float64]int{}, map[float64]int{}
			var cs []float64
			for _, n := range r.Nonlinear {
				if n.Process != proc {
					continue
				}
				if runs[n.C] == 0 {
					cs = append(cs, n.C)
				}
				runs[n.C]++
				if n.Escaped {
					esc[n.C]++
				}
			}
			for _, c := range cs {
				f := float64(esc[c]) / float64(runs[c])
				pts = append(pts, plots.Fig4Point{Batch: r.Batch, LR: r.LR, Process: proc, Kind: plots.Fig4Escape,
					C: c, Y: f, Lo: f, Hi: f})
			}
		}
	}
	fig, err := plots.Figure4(pts)
	if err != nil {
		return err
	}
	_, err = fig.Save(filepath.Join(dir, "figures"), "png", "svg")
	return err
}

func fmtBracket(b validate.Bracket, escape bool) string {
	f := func(x float64) string {
		if math.IsNaN(x) {
			return "none"
		}
		return fmt.Sprintf("%.2f", x)
	}
	s := fmt.Sprintf("[%s, %s]", f(b.Lo), f(b.Hi))
	switch {
	case b.ContainsOne:
		return s + " yes"
	case !b.Consistent && escape:
		return s + " open (an end was not observed)"
	case !b.Consistent:
		return s + " **no (not monotone)**"
	}
	return s + " **no**"
}

func writeMarkdown(path string, out *outputDoc) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Validation of eta* against simulation\n\n")
	fmt.Fprintf(&b, "At each minimum SGD found, the exact mean-square threshold eta* = 2/lambda_gen was tested at eta = c eta*, "+
		"c in %v. **Linearized**: growth rate per step of E||x_t||^2 under linearized SGD (and ALG(p)), %d populations of %d "+
		"chains with resampling, started from the top eigenmatrix of pinv(C) D (computed on the %d leading directions of H); "+
		"95%% Student-t interval over populations. The transition bracket is [largest c with decay, smallest c with growth]; "+
		"it must contain c = 1. **Nonlinear**: real SGD (and ALG(p)) restarted at w* plus a perturbation along the same "+
		"eigenmatrix raising the loss by %g, constant eta, %d epochs; escape = full-batch loss above %g x the convergence "+
		"threshold. Escape bracket: [largest c with no escape at and below it, smallest c with a majority escaping at and above it].\n\n",
		out.Config.C, out.Config.Linear.Replicas, out.Config.Linear.Chains, out.Config.Linear.Truncate,
		out.Config.Nonlin.PerturbLoss, out.Config.Nonlin.Epochs, out.Config.Nonlin.EscapeFactor)
	fmt.Fprintf(&b, "| minimum | p | eta* | eta/eta* of training | source | linearized SGD: bracket, contains 1 | linearized ALG(p) | nonlinear SGD escapes | nonlinear ALG(p) escapes |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	all, unconverged := true, 0
	for _, r := range out.Minima {
		for _, proc := range []string{sampling.Independent, sampling.Mixture} {
			if !r.LinBracket[proc].ContainsOne {
				all = false
			}
		}
		esc := func(proc string) string {
			br, ok := r.EscBracket[proc]
			if !ok {
				return "not run"
			}
			var parts []string
			for _, c := range out.Config.C {
				e, n := 0, 0
				for _, x := range r.Nonlinear {
					if x.Process == proc && x.C == c {
						n++
						if x.Escaped {
							e++
						}
					}
				}
				parts = append(parts, fmt.Sprintf("%d/%d", e, n))
			}
			return strings.Join(parts, " ") + "; " + fmtBracket(br, true)
		}
		src := r.Source
		if strings.HasPrefix(src, "store:") {
			src = "store"
		}
		if !r.TruncConverged {
			src += " (start: power method at its iteration limit)"
			unconverged++
		}
		fmt.Fprintf(&b, "| B=%d, lr=%g | %.4f | %.5g | %.3f | %s | %s | %s | %s | %s |\n", r.Batch, r.LR, r.P, r.EtaStar,
			r.LR/r.EtaStar, src, fmtBracket(r.LinBracket[sampling.Independent], false), fmtBracket(r.LinBracket[sampling.Mixture], false),
			esc(sampling.Independent), esc(sampling.Mixture))
	}
	verdict := "every linearized bracket contains c = 1"
	if !all {
		verdict = "**some linearized bracket does not contain c = 1** (see validation.json)"
	}
	if unconverged > 0 {
		verdict += fmt.Sprintf("; at %d minima the start's top eigenmatrix did not converge (the growth rates there start off the top eigenmatrix)", unconverged)
	}
	fmt.Fprintf(&b, "\nResult: %s. Escape counts are listed in the order of c. Total time %.0f s.\n\n", verdict, out.Seconds)
	fmt.Fprintf(&b, "Growth rates per step (rate [95%% interval]):\n\n| minimum | process |")
	for _, c := range out.Config.C {
		fmt.Fprintf(&b, " c=%g |", c)
	}
	fmt.Fprintf(&b, "\n|---|---|%s\n", strings.Repeat("---|", len(out.Config.C)))
	for _, r := range out.Minima {
		for _, proc := range []string{sampling.Independent, sampling.Mixture} {
			fmt.Fprintf(&b, "| B=%d, lr=%g | %s |", r.Batch, r.LR, proc)
			for _, l := range r.Linear {
				if l.Process == proc {
					fmt.Fprintf(&b, " %.3g [%.3g, %.3g] |", l.Rate, l.Lo, l.Hi)
				}
			}
			fmt.Fprintln(&b)
		}
	}
	fmt.Fprintf(&b, "\n![Figure 4](figures/fig4.png)\n\n*Figure 4.* %s\n", plots.Fig4Caption)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
