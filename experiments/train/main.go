// Command train trains one run of the paper's experiment and writes its run record.
//
//	go run ./experiments/train -lr 0.01 -batch 8 [-out run.json] [-mnist DIR] [flags]
//
// Progress (epoch, full-batch loss, step size, convergence streak) goes to stderr, at most every
// -every (default 1s) and at the end. The record (see train.RunRecord: config with defaults filled
// in, data selection and checksum, status, loss curve, final parameters in the layout of
// train.ParamsLayout) is written atomically to -out, default run.json. Runs that diverge or hit
// the epoch limit are results too: the command writes them and exits 0. Bad flags or
// configuration, missing data or a write failure: one line on stderr and exit status 1 (2 for
// flag syntax errors).
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
	"strconv"
	"strings"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/train"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c train.Config
	fs.Float64Var(&c.LR, "lr", 0, "step size eta (required, > 0)")
	fs.IntVar(&c.Batch, "batch", 0, "batch size B (required, 1..n)")
	fs.IntVar(&c.Hidden, "hidden", 0, fmt.Sprintf("hidden units h (0 = default %d)", train.DefaultHidden))
	fs.Float64Var(&c.InitFactor, "init-factor", 0, fmt.Sprintf("initialization scale (0 = default %g)", train.DefaultInitFactor))
	fs.Uint64Var(&c.InitSeed, "init-seed", 0, "seed of the initial point")
	fs.StringVar(&c.Loss, "loss", "", "per-sample loss: sum | half_sum | mean | half_mean (default sum)")
	fs.IntVar(&c.WarmupSteps, "warmup", 0, "linear warm-up length in steps (0 = use -warmup-epochs, < 0 = none)")
	fs.Float64Var(&c.WarmupEpochs, "warmup-epochs", 0, fmt.Sprintf("linear warm-up length in epochs, when -warmup is 0 (0 = default %g, < 0 = none)", train.DefaultWarmupEpochs))
	fs.Float64Var(&c.ConvThreshold, "conv-threshold", 0, "convergence threshold on the full-batch loss (0 = default 1e-6)")
	fs.IntVar(&c.ConvEpochs, "conv-epochs", 0, "consecutive epochs below the threshold (0 = default 200)")
	fs.IntVar(&c.MaxEpochs, "max-epochs", 0, fmt.Sprintf("epoch limit (0 = default %d)", train.DefaultMaxEpochs))
	fs.StringVar(&c.Sampling, "sampling", "", "independent (default) | shuffle | mixture")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the batch sampling")
	fs.Float64Var(&c.DivergeLoss, "diverge-loss", 0, "loss above which a run counts as diverged (0 = default 1e6)")
	fs.StringVar(&c.Engine, "engine", "", "fused (default) | gorgonia")
	fs.IntVar(&c.SharpnessEvery, "sharpness-every", 0, "record the Gauss-Newton sharpness every N epochs, at epoch 0 and at the last (0 = off)")
	mnist := fs.String("mnist", "", "directory with the MNIST IDX files (default: $"+data.EnvDir+", then the Go module cache)")
	classes := fs.String("classes", "0,1,2,3", "digits to train on, comma-separated")
	perClass := fs.Int("per-class", 128, "images per class")
	out := fs.String("out", "run.json", "run record file")
	every := fs.Duration("every", time.Second, "minimum time between progress lines (0: every epoch)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w (see -h)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	sel := data.DefaultSelection()
	sel.PerClass = *perClass
	sel.Classes = nil
	for _, s := range strings.Split(*classes, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-classes: %q is not a digit", s)
		}
		sel.Classes = append(sel.Classes, d)
	}
	if *perClass < 1 {
		return fmt.Errorf("-per-class = %d, want at least 1", *perClass)
	}
	if err := sel.Validate(); err != nil {
		return err
	}
	// Validate what does not depend on n before reading any file (the batch size is checked
	// against n below).
	var fe *train.FieldError
	if err := c.Validate(max(c.Batch, 1)); err != nil && !(errors.As(err, &fe) && fe.Field == "batch") {
		return err
	}
	// The record must be writable before anything trains.
	if info, err := os.Stat(*out); err == nil && info.IsDir() {
		return fmt.Errorf("-out %s is a directory, want a file name", *out)
	}
	if err := atomicfile.CheckDir(filepath.Dir(*out), false); err != nil {
		return fmt.Errorf("-out %s: %w", *out, err)
	}
	sel.Dir = *mnist
	ds, err := data.Load(sel)
	if err != nil {
		return err
	}
	sel.Dir = ""
	if err := c.Validate(ds.N); err != nil {
		return err
	}
	cfg := c.WithDefaults()
	fmt.Fprintf(stderr, "training h=%d init_factor=%g lr=%g batch=%d n=%d loss=%s warm-up=%d steps engine=%s (max %d epochs)\n",
		cfg.Hidden, cfg.InitFactor, cfg.LR, cfg.Batch, ds.N, cfg.Loss, cfg.WarmupLength(ds.N), cfg.Engine, cfg.MaxEpochs)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var last time.Time
	var lastP train.Progress
	shown := false
	show := func(p train.Progress) {
		fmt.Fprintf(stderr, "epoch %6d  loss %.4e  lr %.4g  streak %d\n", p.Epoch, p.Loss, p.LR, p.Streak)
	}
	res, err := train.Train(ctx, ds, cfg, func(p train.Progress) {
		lastP, shown = p, false
		if now := time.Now(); now.Sub(last) >= *every {
			last, shown = now, true
			show(p)
		}
	})
	if err != nil {
		return err
	}
	if lastP.Epoch > 0 && !shown {
		show(lastP)
	}
	if err := train.WriteRunRecord(*out, train.NewRunRecord(ds, sel, res)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s after %d epochs (%d steps, %.1fs), final loss %.4g; wrote %s\n",
		res.Status, res.Epochs, res.Steps, res.Seconds, res.FinalLoss, *out)
	return nil
}
