package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/train"
)

// engine trains and analyses single runs. The real one (engine.go) wires the train and analysis
// packages; tests use fakes.
type engine interface {
	// spec returns the identity of a run (everything that determines its result), validating
	// the run's configuration.
	spec(run grid.Run) (store.Spec, error)
	// train trains the run and returns its record (the runner fills in Spec, Created and Host)
	// and, when the run converged, the minimum to analyse (nil otherwise: the record is final).
	// A cancelled ctx returns ctx.Err(). report may be called after every epoch.
	train(ctx context.Context, run grid.Run, report func(status)) (*store.Record, minimum, error)
	// analyse analyses a minimum returned by train and completes rec.
	analyse(run grid.Run, m minimum, rec *store.Record) error
}

// minimum is what engine.train hands to engine.analyse; the runner only takes the parameters
// from it, which the store keeps beside the record.
type minimum interface {
	params() *train.Params
}

// status is what a run is doing now, for the progress display.
type status struct {
	Phase string // "train", "queued" (for analysis) or "analyse"
	Epoch int
	Loss  float64
}

// task is one run of the grid with its key and what the store holds for it.
type task struct {
	Run     grid.Run
	Spec    store.Spec
	Key     string
	Record  *store.Record       // finished record, nil if none
	Corrupt *store.CorruptError // unreadable record, to be moved aside and redone

	lease *store.Lease // this process's claim while it trains and analyses the run
}

// done reports whether the run has a valid record.
func (t *task) done() bool { return t.Record != nil }

// runner performs a sweep.
type runner struct {
	Config  *grid.Config
	Store   *store.Store
	Engine  engine
	Workers int
	Display *display
	// LeaseTimeout is the age of a heartbeat after which another process's lease on a run is
	// stale and taken over (store.Claim). Default 5 min.
	LeaseTimeout time.Duration
}

// defaultLeaseTimeout is runner.LeaseTimeout's default (the sweep's -lease-timeout).
const defaultLeaseTimeout = 5 * time.Minute

// plan computes every run's key and looks its record up.
func (r *runner) plan(runs []grid.Run) ([]*task, error) {
	tasks := make([]*task, len(runs))
	for i, run := range runs {
		spec, err := r.Engine.spec(run)
		if err != nil {
			return nil, err
		}
		t := &task{Run: run, Spec: spec, Key: spec.Key()}
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

// outcome counts what a sweep did.
type outcome struct {
	Skipped, Ran, Failed, Unstarted int
	Elsewhere                       int // recorded by other processes during this sweep
	Interrupted                     bool
}

// sweep runs every task without a valid record and stores each record as soon as its run is
// done. Workers goroutines train (one run each at a time, longest expected runs first); converged
// runs queue for analysis, one at a time, which pauses the trainers between two epochs and uses
// every core (an analysis holds ~n K d floats: 320 MB at n = 512, h = 20). Corrupt records are reported,
// moved aside and redone. A cancelled ctx stops training between epochs and drops the queued
// analyses (those runs get no record and are redone by the next sweep); an analysis in progress
// is finished and stored.
//
// Before training a run the sweep claims it with a lease in the store (store.Claim), so that
// concurrent sweeps on one store (other processes, other machines) train every run once: a run
// leased by another live process is skipped for now and tried again every few seconds until it
// has a record (then it is counted in Elsewhere) or its lease is released without one or goes
// stale (then this process trains it). The lease is released once the record is written, when
// the run fails, and when it is abandoned on an interrupt.
func (r *runner) sweep(ctx context.Context, tasks []*task) (outcome, error) {
	var out outcome
	var todo []*task
	for _, t := range tasks {
		if t.done() {
			out.Skipped++
			continue
		}
		if t.Corrupt != nil {
			moved, err := r.Store.Quarantine(t.Key)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				moved = "(already gone: another process moved or replaced it)"
			case err != nil:
				return out, fmt.Errorf("moving corrupt record aside: %w", err)
			}
			r.Display.logf("corrupt record for %v: %s; moved to %s, the run is redone", t.Run, t.Corrupt.Reason, moved)
			t.Corrupt = nil
		}
		todo = append(todo, t)
	}
	sort.SliceStable(todo, func(i, j int) bool { return r.cost(todo[i].Run) > r.cost(todo[j].Run) })
	r.Display.Cost = r.cost
	workers := min(max(r.Workers, 1), max(len(todo), 1))
	r.Display.begin(todo, out.Skipped, workers+1) // slots: trainers, then the analysis
	host, _ := os.Hostname()

	var mu sync.Mutex
	finish := func(slot int, t *task, rec *store.Record, m minimum, err error) {
		defer r.release(t)
		if err == nil {
			rec.Spec = t.Spec
			rec.Created = time.Now().UTC().Format(time.RFC3339)
			rec.Host = host
			var p *train.Params
			if m != nil {
				p = m.params()
			}
			err = r.Store.Put(rec, p)
		}
		mu.Lock()
		switch {
		case err == nil:
			out.Ran++
			t.Record = rec
		case ctx.Err() != nil:
			// abandoned; counted as not done below, redone by the next sweep
		default:
			out.Failed++
		}
		mu.Unlock()
		if err != nil && ctx.Err() != nil {
			r.Display.abandon(slot, t)
		} else {
			r.Display.finish(slot, t, rec, err)
		}
	}

	type job struct {
		t   *task
		rec *store.Record
		m   minimum
	}
	analyses := make(chan job, len(todo)) // never blocks a trainer
	// Training and analysis take turns: trainers hold phase for reading while they compute an
	// epoch and let go of it between epochs; an analysis holds it for writing, so it waits at
	// most one epoch and then has every core to itself (its BLAS calls use them all). Running
	// both at once oversubscribes the cores, which OpenBLAS's busy-waiting threads punish hard.
	var phase sync.RWMutex
	cores := runtime.NumCPU()
	setBLASThreads(1) // one per trainer
	analysed := make(chan struct{})
	go func() {
		defer close(analysed)
		slot := workers
		for j := range analyses {
			if ctx.Err() != nil {
				r.release(j.t)
				r.Display.drop(j.t)
				continue
			}
			phase.Lock()
			setBLASThreads(cores)
			r.Display.start(slot, j.t, status{Phase: "analyse"})
			err := safely(func() error { return r.Engine.analyse(j.t.Run, j.m, j.rec) })
			setBLASThreads(1)
			phase.Unlock()
			finish(slot, j.t, j.rec, j.m, err)
		}
	}()

	pending := &pendingRuns{todo: todo}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				t, err := r.next(ctx, pending, &out, &mu)
				if t == nil {
					return
				}
				if err != nil {
					finish(w, t, nil, nil, err)
					continue
				}
				r.Display.start(w, t, status{Phase: "train"})
				var rec *store.Record
				var m minimum
				var paused time.Duration
				phase.RLock()
				err = safely(func() (err error) {
					rec, m, err = r.Engine.train(ctx, t.Run, func(s status) {
						r.Display.update(w, s)
						phase.RUnlock() // let a waiting analysis in between epochs
						t0 := time.Now()
						phase.RLock()
						paused += time.Since(t0)
					})
					return err
				})
				phase.RUnlock()
				if rec != nil {
					// train_seconds is the run's own time, without the pauses for analyses.
					rec.TrainSeconds = max(rec.TrainSeconds-paused.Seconds(), 0)
				}
				if err == nil && m != nil {
					r.Display.queue(w, t, rec)
					analyses <- job{t, rec, m}
					continue
				}
				finish(w, t, rec, nil, err)
			}
		}(w)
	}
	wg.Wait()
	close(analyses)
	<-analysed
	r.Display.end()
	out.Unstarted = len(todo) - out.Ran - out.Failed - out.Elsewhere
	out.Interrupted = ctx.Err() != nil
	return out, nil
}

// pendingRuns are the runs this sweep has neither claimed nor seen recorded by another process.
type pendingRuns struct {
	mu      sync.Mutex
	todo    []*task
	waiting map[*task]bool // reported as leased by another process
}

// next returns the next run for a trainer, claimed by this process: the first pending run that
// has no record and whose lease this process gets. Runs recorded meanwhile by other processes
// leave the list (counted in out.Elsewhere under mu). When every pending run is leased by others
// it waits and tries again; it returns nil when no run is pending or ctx is cancelled. A store
// error is returned with its run (which then counts as failed).
func (r *runner) next(ctx context.Context, p *pendingRuns, out *outcome, mu *sync.Mutex) (*task, error) {
	timeout := r.LeaseTimeout
	if timeout <= 0 {
		timeout = defaultLeaseTimeout
	}
	poll := min(max(timeout/10, 100*time.Millisecond), 10*time.Second)
	for {
		if ctx.Err() != nil {
			return nil, nil
		}
		p.mu.Lock()
		for i := 0; i < len(p.todo); i++ {
			t := p.todo[i]
			recorded := func() bool {
				rec, err := r.Store.Get(t.Key)
				if err != nil {
					return false // none yet (or corrupt: this process redoes it)
				}
				t.Record = rec
				mu.Lock()
				out.Elsewhere++
				mu.Unlock()
				r.Display.elsewhere(t)
				return true
			}
			take := func() { p.todo = append(p.todo[:i], p.todo[i+1:]...); i-- }
			if recorded() {
				take()
				continue
			}
			lease, err := r.Store.Claim(t.Key, timeout, func(err error) { r.Display.logf("%v: %v", t.Run, err) })
			switch {
			case errors.Is(err, store.ErrLeased):
				if p.waiting == nil {
					p.waiting = map[*task]bool{}
				}
				if !p.waiting[t] {
					p.waiting[t] = true
					r.Display.logf("leased %v: another process trains it; this one takes it if its lease is released without a record or goes stale (%s)", t.Run, timeout)
				}
				continue
			case err != nil:
				take()
				p.mu.Unlock()
				return t, err
			}
			// a record written just before the other process released its lease
			if recorded() {
				lease.Release()
				take()
				continue
			}
			t.lease = lease
			take()
			p.mu.Unlock()
			return t, nil
		}
		left := len(p.todo)
		p.mu.Unlock()
		if left == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// release gives up this process's lease on t (if it holds one).
func (r *runner) release(t *task) {
	if t.lease != nil {
		if err := t.lease.Release(); err != nil {
			r.Display.logf("%v: %v", t.Run, err)
		}
		t.lease = nil
	}
}

// safely calls f, turning a panic into an error so that one bad run does not end the sweep (it
// is reported as failed, gets no record, and is retried by the next sweep).
func safely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

// cost is a rough relative cost of a run, for the order of the runs and the time estimate.
// SGD needs about A/eta steps to converge (A ~ 8,000 here, see experiments/EXPLORATION.md), i.e.
// A B/(eta n) epochs but at least a few thousand, capped at max_epochs; an epoch costs about the
// same at every batch size, a little more at small B (per-step overhead).
func (r *runner) cost(run grid.Run) float64 {
	maxEpochs := float64(run.MaxEpochs)
	if maxEpochs <= 0 {
		maxEpochs = train.DefaultMaxEpochs
	}
	epochs := min(max(3000, 8000*float64(run.Batch)/(run.LR*float64(r.Config.N()))), maxEpochs)
	return epochs * (1 + 1/float64(run.Batch))
}

// table writes the table of every run of the grid that has a record, in grid order.
func (r *runner) table(tasks []*task) (int, error) {
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
				r.Display.logf("corrupt record for %v left out of the table: %s (a sweep redoes it)", t.Run, ce.Reason)
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
