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
// "gradients" (per-sample gradients at the minimum; absent: interpolating minimum, all zero) and
// "eta" (a step size for the covariance limit of Thm 5 / Cor. 1, which needs 0 < eta < eta*) are
// optional; unknown keys are rejected. Output keys: p, sharpness, gd_threshold,
// generalized_sharpness, generalized_sharpness_bracket ([lo, hi], certified), eta_star, bound15,
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
// Bad input: exit status 1, one line on stderr naming the problem, nothing on stdout.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit status and writes the JSON object to stdout
// only on success.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	in := fs.String("in", "", "curvature file (JSON, dense or factored form; - for stdin)")
	runFile := fs.String("run", "", "training run record (JSON) to analyse")
	seed := fs.Uint64("seed", 0, "seed of the random restarts of bound (25)")
	width := fs.Float64("rel-width", 0, "relative width of the certified bracket (0: 1e-6)")
	fail := func(err error) int {
		fmt.Fprintln(stderr, "analyze: "+strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	if err := fs.Parse(args); err != nil {
		return fail(fmt.Errorf("%v (usage: analyze -in FILE.json | -run RUN.json [-seed N] [-rel-width W])", err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if (*in == "") == (*runFile == "") {
		return fail(fmt.Errorf("give exactly one of -in FILE.json and -run RUN.json"))
	}
	var out any
	var err error
	if *in != "" {
		out, err = analyzeFile(*in, stdin, *seed, *width)
	} else {
		out, err = analyzeRun(*runFile, *seed, *width)
	}
	if err != nil {
		return fail(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fail(fmt.Errorf("encoding the result: %v", err))
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	return 0
}
