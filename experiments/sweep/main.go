// Command sweep runs an experiment grid: it expands a grid file (experiments/*.yaml) into runs,
// trains each run that the results store does not hold yet (several at once), analyses every
// converged minimum, writes one record per run as soon as it is done, and finally writes the
// table of all runs of the grid that have a record.
//
//	go run ./experiments/sweep -config experiments/quick.yaml [-dry-run] [-shard i/N]
//	    [-workers 2] [-mnist DIR] [-table-only] [-progress auto|bar|plain] [-max-memory BYTES]
//
// Interrupting (Ctrl-C, SIGTERM) stops the runs in progress between epochs without writing
// anything for them; rerunning the same command resumes with the unfinished runs. A second
// Ctrl-C quits at once (records are written atomically, so that is safe too).
//
// -shard i/N (0 <= i < N) runs every N-th run of the grid starting at i, for batch schedulers'
// job arrays writing into one shared store; the table written at the end holds every run of the
// grid that has a record by then (rerun with -table-only after all shards for the final one).
//
// Concurrent sweeps on one store (processes, shards, machines sharing the directory) train every
// run once: a run is claimed before training with a lease file <key>.lease beside its record
// (host, pid, a heartbeat refreshed every -lease-timeout/10), skipped while another live process
// holds it, taken over when its heartbeat is older than -lease-timeout (default 5 min), and
// released after the record is written (see store.Claim).
//
// Exit status: 0 when every selected run has a record, 1 on errors or failed runs, 2 on bad
// usage, 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) int {
	err := sweep(args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errInterrupted):
		return 130
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sweep: %v (see -h)\n", err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "sweep: %v\n", err)
		return 1
	}
}

var errInterrupted = errors.New("interrupted")

func sweep(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "grid file (e.g. experiments/quick.yaml); required")
	dryRun := fs.Bool("dry-run", false, "list the runs and which are done, train nothing")
	shardFlag := fs.String("shard", "", "run shard `i/N` of the grid only (0 <= i < N)")
	workers := fs.Int("workers", 0, "runs trained at once (0: the grid's workers, default 2)")
	mnist := fs.String("mnist", "", "directory of the MNIST IDX files (default: see go doc ./data)")
	tableOnly := fs.Bool("table-only", false, "only rewrite the grid's table from the store")
	progress := fs.String("progress", "auto", "progress display: auto (bar on a terminal), bar, plain")
	heartbeat := fs.Duration("heartbeat", 30*time.Second, "plain progress: interval of the progress lines")
	leaseTimeout := fs.Duration("lease-timeout", defaultLeaseTimeout, "a run's lease whose heartbeat is older than this is stale: its holder is taken as dead and the run retrained")
	maxMemory := fs.Uint64("max-memory", 0, "most memory in `bytes` one analysis may need by analysis.MemoryEstimate; every run is checked before any trains (0: 3/4 of the machine's memory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *configPath == "" {
		return usageError{errors.New("-config is required")}
	}
	shard, shards, err := grid.ParseShard(*shardFlag)
	if err != nil {
		return usageError{err}
	}
	if *leaseTimeout <= 0 {
		return usageError{fmt.Errorf("-lease-timeout %v: want > 0", *leaseTimeout)}
	}
	if *workers < 0 {
		return usageError{fmt.Errorf("-workers %d: want >= 1", *workers)}
	}
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	switch *progress {
	case "auto":
	case "bar":
		tty = true
	case "plain":
		tty = false
	default:
		return usageError{fmt.Errorf("-progress %q: want auto, bar or plain", *progress)}
	}

	analysis.SetMemoryLimit(*maxMemory)
	cfg, err := grid.Load(*configPath)
	if err != nil {
		return err
	}
	if *workers > 0 {
		cfg.Workers = *workers
	}
	eng, err := newEngine(cfg, *mnist)
	if err != nil {
		return err
	}
	disp := &display{W: stderr, TTY: tty, Heartbeat: *heartbeat}
	if tty {
		disp.Width = func() int {
			w, _, err := term.GetSize(int(os.Stderr.Fd()))
			if err != nil {
				return 0
			}
			return w
		}
	}
	if err := store.CheckFormat(cfg.Store); err != nil {
		return err
	}
	st := &store.Store{Dir: cfg.Store}
	r := &runner{Config: cfg, Store: st, Engine: eng, Workers: cfg.Workers, Display: disp, LeaseTimeout: *leaseTimeout}

	all := cfg.Runs()
	tasks, err := r.plan(all)
	if err != nil {
		return err
	}
	mine := tasks
	if shards > 1 {
		mine = nil
		for _, run := range grid.Shard(all, shard, shards) {
			mine = append(mine, tasks[run.Index])
		}
	}

	if *dryRun {
		return list(stdout, cfg, mine, len(all), *shardFlag)
	}
	// Everything written must be writable before anything trains (a read-only store or output
	// directory would otherwise show only after the first run).
	if !*tableOnly {
		if _, err := store.Open(cfg.Store); err != nil {
			return err
		}
		if err := atomicfile.CheckDir(cfg.Store, true); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	if err := atomicfile.CheckDir(cfg.Output, true); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if !*tableOnly {
		if n, err := st.CleanTemp(time.Hour); err == nil && n > 0 {
			disp.logf("removed %d stale temporary files from %s", n, cfg.Store)
		}
		cleanLeases := func() {
			if n, err := st.CleanLeases(*leaseTimeout); err == nil && n > 0 {
				disp.logf("removed %d stale leases (of processes that died) from %s", n, cfg.Store)
			}
		}
		cleanLeases()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-ctx.Done():
				stop() // a second Ctrl-C kills the process at once
				disp.logf("interrupt: stopping the runs in progress (no record is written for them); Ctrl-C again quits at once")
			case <-finished:
			}
		}()
		done := 0
		for _, t := range mine {
			if t.done() {
				done++
			}
		}
		what := fmt.Sprintf("%d runs", len(all))
		if shards > 1 {
			what = fmt.Sprintf("shard %d/%d: %d of %d runs", shard, shards, len(mine), len(all))
		}
		disp.logf("sweep %s (%s): %s, %d done already, %d to run on %d workers; store %s",
			cfg.Name, *configPath, what, done, len(mine)-done, min(cfg.Workers, max(len(mine)-done, 1)), cfg.Store)
		start := time.Now()
		out, err := r.sweep(ctx, mine)
		if err != nil {
			return err
		}
		cleanLeases()
		rows, terr := r.table(tasks)
		disp.logf("sweep %s: %d run, %d skipped (done before), %d done by other processes, %d failed, %d not done, in %s; table %s/table.csv has %d of %d runs",
			cfg.Name, out.Ran, out.Skipped, out.Elsewhere, out.Failed, out.Unstarted, round(time.Since(start)), cfg.Output, rows, len(all))
		if terr != nil {
			return terr
		}
		if out.Interrupted {
			disp.logf("interrupted: rerun the same command to finish the remaining runs")
			return errInterrupted
		}
		if out.Failed > 0 {
			return fmt.Errorf("%d runs failed (see above); they have no record and are retried by the next sweep", out.Failed)
		}
		return nil
	}
	rows, err := r.table(tasks)
	if err != nil {
		return err
	}
	disp.logf("table %s/table.csv: %d of %d runs of %s", cfg.Output, rows, len(all), cfg.Name)
	return nil
}

// list prints the dry-run listing.
func list(w io.Writer, cfg *grid.Config, tasks []*task, total int, shard string) error {
	done, corrupt := 0, 0
	bw := len("block")
	for _, t := range tasks {
		bw = max(bw, len(t.Run.Block))
	}
	fmt.Fprintf(w, "%5s  %-*s  %-9s  %5s  %5s  %-12s  %s\n", "index", bw, "block", "lr", "batch", "seed", "key", "state")
	for _, t := range tasks {
		state := "to do"
		switch {
		case t.Record != nil:
			done++
			state = "done: " + t.Record.Status
		case t.Corrupt != nil:
			corrupt++
			state = "corrupt record (will be redone): " + t.Corrupt.Reason
		}
		fmt.Fprintf(w, "%5d  %-*s  %-9g  %5d  %5d  %-12.12s  %s\n", t.Run.Index, bw, t.Run.Block, t.Run.LR, t.Run.Batch, t.Run.Seed, t.Key, state)
	}
	sel := ""
	if shard != "" {
		sel = fmt.Sprintf(" (shard %s of %d runs)", shard, total)
	}
	fmt.Fprintf(w, "%s: %d runs%s, %d done, %d to do (%d of them with a corrupt record); store %s, table %s\n",
		cfg.Name, len(tasks), sel, done, len(tasks)-done, corrupt, cfg.Store, cfg.Output)
	return nil
}
