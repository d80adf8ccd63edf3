// Command analyze computes the exact mean-square stability threshold of SGD and its bounds
// (package analysis) for one minimum, and prints one JSON object to stdout.
//
//	go run ./experiments/analyze -in FILE.json   # curvature given in a file ("-" for stdin)
//	go run ./experiments/analyze -run RUN.json   # a training run record of experiments/train
//
// Input file, dense form (per-sample Hessians, d x d each):
//
//	{"n": 2, "batch_size": 1, "hessians": [[[1, 0], [0, 2]], [[3, 0], [0, 1]]],
//	 "gradients": [[1, 0], [-1, 0]], "eta": 0.1}
//
// or factored form (H_i = J_i^T M J_i with J_i k x d and M k x k):
//
//	{"n": 2, "batch_size": 1, "factors": [[[1, 0]], [[0, 2]]], "output_hessian": [[2]]}
//
// "gradients" (per-sample gradients at the minimum; absent: interpolating minimum, all zero),
// "output_gradients" (factored form with gradients only: n x k, q_i = dl_i/df with
// g_i = J_i^T q_i, from which the covariance limit projects the gradients,
// analysis.Factored.OutputGradients) and "eta" (a step size for the covariance limit of Thm 5 /
// Cor. 1, which needs 0 < eta < eta*) are optional; unknown keys are rejected. Output keys: p,
// sharpness, gd_threshold, generalized_sharpness, generalized_sharpness_bracket ([lo, hi], certified), eta_star, bound15,
// bound16, bound25, nonuniformity, top_eigenmatrix_effective_rank, top_eigenmatrix_top_share,
// top_eigenmatrix_min_eig_rel (the shape of the top eigenmatrix S* of pinv(C) D), and with eta
// and gradients covariance_trace, expected_loss, expected_grad_norm2; details under diagnostics.
//
// With -run, the per-sample curvature is recomputed from the record's parameters and data
// (train.PerSampleCurvature), gradients are centred (their small mean at a trained minimum is
// reported as diagnostics.grad_mean_rel), the covariance limit is evaluated at the run's step
// size when it is below eta*, and hessian_sharpness (lambda_max of the exact full-batch Hessian,
// train.HessianSharpness) and residual_rel (||H - H_GN|| / ||H_GN||) are added.
//
// NumPy input (-in FILE.npz or -in DIR, a directory of .npy files; e.g. written by
// scripts/export_curvature.py): arrays jacobians (n, k, d) with output_hessian (k, k) shared or
// (n, k, k) per sample (H_i = J_i^T M_i J_i), or hessians (n, d, d); optional gradients (n, d),
// output_gradients (n, k) with the jacobians (q_i = dl_i/df with g_i = J_i^T q_i: the covariance
// limit then projects the gradients from them, analysis.Factored.OutputGradients), batch_size
// (a number or a list) and eta; float32 or float64, C or Fortran order (see numpy.go).
//
// Batch sizes: -batch 1,2,8,n (n: the number of samples) or -batch all-powers (1, 2, 4, ...
// below n, and n) overrides the file's. The eigenbasis of range(H) is computed once for all of
// them (analysis.AnalyzeFactoredBatches). One batch size and no -batch: one indented JSON
// object as before; otherwise one JSON object per batch size and line (with its batch_size),
// or -format csv. With eta and several batch sizes, the covariance keys appear for the batch
// sizes whose certified eta* is above eta. -plot FILE.png|FILE.svg draws eta*(B) and
// 2/lambda_max (package plots).
//
// Gradients: a minimum found by training has a small non-zero mean gradient, and at an exact
// minimum the gradients are rounding noise whose mean is not small relative to themselves.
// NumPy input (an exporter's output) has its gradients centred, as -run does (the removed mean
// is reported as diagnostics.grad_mean_rel); JSON input is checked for a zero mean unless
// -center-gradients is given. -ignore-gradients analyses the minimum as interpolating.
// Gradients enter only the covariance limit (with eta), never the thresholds or bounds.
//
// Bad input: exit status 1, one line on stderr naming the problem, nothing on stdout.
// analyze -h prints the usage and exits 0.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: analyze -in FILE.json|FILE.npz|DIR | -run RUN.json [flags]
  -in FILE        curvature: JSON (dense or factored, "-" for stdin), .npz, or a directory of .npy files
  -run RUN.json   a training run record of experiments/train
  -batch LIST     batch sizes: 1,2,8,n (n = number of samples) or all-powers; default: the file's
  -eta X          step size of the covariance limit (overrides the file's)
  -format F       json (default) or csv
  -plot FILE      draw eta*(B) with 2/lambda_max to FILE.png or FILE.svg
  -center-gradients  subtract the mean gradient instead of rejecting a non-zero mean (JSON; NumPy input always)
  -ignore-gradients  analyse as an interpolating minimum (no covariance limit)
  -seed N         seed of the random restarts of bound (25)
  -rel-width W    relative width of the certified bracket (0: 1e-6)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit status and writes to stdout only on success.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	in := fs.String("in", "", "")
	runFile := fs.String("run", "", "")
	seed := fs.Uint64("seed", 0, "")
	width := fs.Float64("rel-width", 0, "")
	batch := fs.String("batch", "", "")
	eta := fs.Float64("eta", 0, "")
	format := fs.String("format", "json", "")
	plot := fs.String("plot", "", "")
	center := fs.Bool("center-gradients", false, "")
	ignore := fs.Bool("ignore-gradients", false, "")
	fail := func(err error) int {
		fmt.Fprintln(stderr, "analyze: "+strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return fail(fmt.Errorf("%v (usage: analyze -in FILE | -run RUN.json [flags]; analyze -h lists them)", err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if (*in == "") == (*runFile == "") {
		return fail(fmt.Errorf("give exactly one of -in FILE and -run RUN.json"))
	}
	if *format != "json" && *format != "csv" {
		return fail(fmt.Errorf("-format %q: want json or csv", *format))
	}
	if *eta < 0 {
		return fail(fmt.Errorf("-eta %v must be positive", *eta))
	}
	if *center && *ignore {
		return fail(fmt.Errorf("-center-gradients and -ignore-gradients exclude each other"))
	}
	if *plot != "" && !strings.HasSuffix(*plot, ".png") && !strings.HasSuffix(*plot, ".svg") {
		return fail(fmt.Errorf("-plot %q: want a .png or .svg file", *plot))
	}
	if *runFile != "" {
		if *batch != "" || *format != "json" || *plot != "" || *eta != 0 || *center || *ignore {
			return fail(fmt.Errorf("-run takes only -seed and -rel-width"))
		}
		out, err := analyzeRun(*runFile, *seed, *width)
		if err != nil {
			return fail(err)
		}
		return writeOut(out, true, stdout, fail)
	}
	c := config{batch: *batch, eta: *eta, seed: *seed, width: *width, center: *center, ignore: *ignore}
	res, err := analyzeInput(*in, stdin, c)
	if err != nil {
		return fail(err)
	}
	var buf bytes.Buffer
	switch {
	case *format == "csv":
		writeCSV(&buf, res)
	case len(res) == 1 && *batch == "" && *plot == "":
		return writeOut(res[0].Report, true, stdout, fail)
	default:
		for _, r := range res {
			b, err := json.Marshal(r)
			if err != nil {
				return fail(fmt.Errorf("encoding the result: %v", err))
			}
			buf.Write(append(b, '\n'))
		}
	}
	if *plot != "" {
		if err := drawPlot(*plot, res, res[0].Diagnostics.N); err != nil {
			return fail(err)
		}
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	return 0
}

func writeOut(out any, indent bool, stdout io.Writer, fail func(error) int) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(out); err != nil {
		return fail(fmt.Errorf("encoding the result: %v", err))
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	return 0
}
