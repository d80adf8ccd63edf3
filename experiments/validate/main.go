// Command validate checks the exact mean-square threshold eta* against simulation at minima SGD
// found: linearized SGD's growth rate and real SGD's (and ALG(p)'s) escapes at eta = c eta* for
// the configured c, and writes records, Figure 4 and a Markdown section.
//
//	go run ./experiments/validate -config experiments/validate.yaml [-max-memory BYTES]
//
// The config names a grid file and the runs (lr, batch, seed) of that grid whose minima are tested;
// everything else about a run (data, model, training, the block's epoch limit, analysis settings)
// comes from the grid. Each minimum is the sweep's: its record is found in the grid's results
// store by the run's spec (package runspec), eta* is taken from the record's analysis and the
// parameters from the params file kept beside it, so nothing is retrained or re-analysed. A run
// without a converged record is an error (run the sweep on the grid first).
//
// Outputs in <output> (default: the grid's output): validation/validation.json (every number),
// validation/records/<minimum>.json, figures/fig4.{png,svg} and validation.md (for
// experiments/report -section).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Stderr))
}

// cli parses the flags and runs the validation; it returns the exit status (0 also for -h, 2 for
// bad flags, 1 for any other error).
func cli(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "experiments/validate.yaml", "validation config (YAML)")
	maxMemory := fs.Uint64("max-memory", 0, "most memory in `bytes` the curvature of one minimum may need by analysis.MemoryEstimate (0: 3/4 of the machine's memory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "validate: unexpected argument %q (see -h)\n", fs.Arg(0))
		return 2
	}
	analysis.SetMemoryLimit(*maxMemory)
	if err := run(ctx, *cfgPath); err != nil {
		fmt.Fprintln(stderr, "validate:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, path string) error {
	start := time.Now()
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	// every output directory must be writable before the minima are checked (minutes of work)
	for _, dir := range []string{filepath.Join(cfg.Output, "validation", "records"), filepath.Join(cfg.Output, "figures")} {
		if err := atomicfile.CheckDir(dir, true); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	v, err := newValidator(cfg)
	if err != nil {
		return err
	}
	mins, err := v.minima()
	if err != nil {
		return err
	}
	var recs []*minRecord
	for _, m := range mins {
		t := time.Now()
		rec, err := v.check(ctx, m)
		if err != nil {
			return fmt.Errorf("minimum B=%d lr=%g: %w", m.Batch, m.LR, err)
		}
		rec.Seconds["total"] = time.Since(t).Seconds()
		if err := writeJSON(filepath.Join(cfg.Output, "validation", "records", rec.Name+".json"), rec); err != nil {
			return err
		}
		v.logf("minimum %s done in %.0f s", rec.Name, rec.Seconds["total"])
		recs = append(recs, rec)
	}
	out := &outputDoc{Config: cfg, Minima: recs, Seconds: time.Since(start).Seconds()}
	if err := writeJSON(filepath.Join(cfg.Output, "validation", "validation.json"), out); err != nil {
		return err
	}
	if err := writeFigure(cfg.Output, recs); err != nil {
		return err
	}
	if err := writeMarkdown(filepath.Join(cfg.Output, "validation.md"), out); err != nil {
		return err
	}
	v.logf("done in %.0f s: %s", time.Since(start).Seconds(), filepath.Join(cfg.Output, "validation.md"))
	return nil
}
