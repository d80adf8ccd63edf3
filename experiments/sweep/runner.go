package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
)

// Engine trains and analyses single runs. The real one (engine.go) wires the train and analysis
// packages; tests use fakes.
type Engine interface {
	// Spec returns the identity of a run (everything that determines its result), validating
	// the run's configuration.
	Spec(run grid.Run) (store.Spec, error)
	// Run trains the run and, if it converged, analyses the minimum. It returns the record to
	// store (the runner fills in Spec, Created and Host), or ctx.Err() when cancelled. report
	// may be called often (after every epoch) from the calling goroutine.
	Run(ctx context.Context, run grid.Run, report func(Status)) (*store.Record, error)
}

// Status is what a run is doing now, for the progress display.
type Status struct {
	Phase string // "train" or "analyse"
	Epoch int
	Loss  float64
}

// Task is one run of the grid with its key and what the store holds for it.
type Task struct {
	Run     grid.Run
	Spec    store.Spec
	Key     string
	Record  *store.Record       // finished record, nil if none
	Corrupt *store.CorruptError // unreadable record, to be moved aside and redone
}

// Done reports whether the run has a valid record.
func (t *Task) Done() bool { return t.Record != nil }

// Runner performs a sweep.
type Runner struct {
	Config  *grid.Config
	Store   *store.Store
	Engine  Engine
	Workers int
	Display *Display
}

// Plan computes every run's key and looks its record up.
func (r *Runner) Plan(runs []grid.Run) ([]*Task, error) {
	tasks := make([]*Task, len(runs))
	for i, run := range runs {
		spec, err := r.Engine.Spec(run)
		if err != nil {
			return nil, err
		}
		t := &Task{Run: run, Spec: spec, Key: spec.Key()}
		rec, err := r.Store.Get(t.Key)
		var ce *store.CorruptError
		switch {
		case err == nil:
			t.Record = rec
		case errors.Is(err, store.ErrNotFound):
		case errors.As(err, &ce):
			t.Corrupt = ce
		default:
			return nil, err
		}
		tasks[i] = t
	}
	return tasks, nil
}

// Outcome counts what a sweep did.
type Outcome struct {
	Skipped, Ran, Failed, Unstarted int
	Interrupted                     bool
}

// Sweep runs every task without a valid record, Workers at a time, storing each record as soon
// as its run is done. Corrupt records are reported, moved aside and redone. A cancelled ctx
// stops the workers between epochs; the runs in progress are abandoned (no record) and are
// redone by the next sweep.
func (r *Runner) Sweep(ctx context.Context, tasks []*Task) (Outcome, error) {
	var out Outcome
	var todo []*Task
	for _, t := range tasks {
		if t.Done() {
			out.Skipped++
			continue
		}
		if t.Corrupt != nil {
			moved, err := r.Store.Quarantine(t.Key)
			if err != nil {
				return out, fmt.Errorf("moving corrupt record aside: %w", err)
			}
			r.Display.Logf("corrupt record for %v: %s; moved to %s, the run is redone", t.Run, t.Corrupt.Reason, moved)
			t.Corrupt = nil
		}
		todo = append(todo, t)
	}
	// Longest first, so that the last runs to finish are short ones and both workers stay busy.
	sort.SliceStable(todo, func(i, j int) bool { return cost(todo[i].Run) > cost(todo[j].Run) })
	workers := r.Workers
	if workers < 1 {
		workers = 1
	}
	if workers > len(todo) {
		workers = max(len(todo), 1)
	}
	r.Display.Begin(todo, out.Skipped, workers)
	host, _ := os.Hostname()

	queue := make(chan *Task)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for t := range queue {
				r.Display.Start(w, t)
				rec, err := runSafely(ctx, r.Engine, t.Run, func(s Status) { r.Display.Update(w, s) })
				if err == nil {
					rec.Spec = t.Spec
					rec.Created = time.Now().UTC().Format(time.RFC3339)
					rec.Host = host
					err = r.Store.Put(rec)
				}
				mu.Lock()
				switch {
				case err == nil:
					out.Ran++
					t.Record = rec
				case ctx.Err() != nil:
					// abandoned, counted below as not done; the next sweep redoes it
				default:
					out.Failed++
				}
				mu.Unlock()
				if ctx.Err() != nil && err != nil {
					r.Display.Abandon(w, t)
				} else {
					r.Display.Finish(w, t, rec, err)
				}
			}
		}(w)
	}
feed:
	for _, t := range todo {
		select {
		case queue <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	r.Display.End()
	out.Unstarted = len(todo) - out.Ran - out.Failed
	out.Interrupted = ctx.Err() != nil
	return out, nil
}

// runSafely calls e.Run, turning a panic into an error so that one bad run does not end the
// sweep (it is reported as failed, gets no record, and is retried by the next sweep).
func runSafely(ctx context.Context, e Engine, run grid.Run, report func(Status)) (rec *store.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return e.Run(ctx, run, report)
}

// cost is a rough relative cost of a run for ordering and the time estimate: the number of
// epochs grows like 1/lr, and an epoch costs about the same at every batch size except that
// small batches pay a per-step overhead.
func cost(r grid.Run) float64 { return (1 + 2/float64(r.Batch)) / r.LR }

// Table writes the table of every run of the grid that has a record, in grid order.
func (r *Runner) Table(tasks []*Task) (int, error) {
	var recs []*store.Record
	for _, t := range tasks {
		if t.Record == nil {
			// Another shard may have finished it meanwhile.
			rec, err := r.Store.Get(t.Key)
			var ce *store.CorruptError
			switch {
			case err == nil:
				t.Record = rec
			case errors.As(err, &ce):
				r.Display.Logf("corrupt record for %v left out of the table: %s (a sweep redoes it)", t.Run, ce.Reason)
				continue
			case errors.Is(err, store.ErrNotFound):
				continue
			default:
				return 0, err
			}
		}
		recs = append(recs, t.Record)
	}
	return len(recs), store.WriteTable(r.Config.Output, r.Config.Name, recs)
}
