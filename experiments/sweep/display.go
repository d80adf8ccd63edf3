package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
)

// display shows a sweep's progress. On a terminal it keeps one status line at the bottom (a bar
// over the runs, elapsed time, an estimate of the time left, each worker's run with its epoch
// and loss) and prints finished runs above it. Elsewhere (CI, files) it prints plain lines: one
// per started and finished run, and every Heartbeat a progress line.
type display struct {
	W         io.Writer
	TTY       bool
	Width     func() int    // terminal width; nil means 100
	Heartbeat time.Duration // plain mode; 0 means 30 s
	// Cost estimates a run's relative cost for the time-left estimate; nil counts runs.
	Cost func(grid.Run) float64

	mu       sync.Mutex
	t0       time.Time
	total    int
	skipped  int
	done     int
	failed   int
	other    int     // recorded by other processes
	costTodo float64 // estimated cost of the runs to do
	costDone float64
	slots    []slot
	queued   int // trained runs waiting for the analysis
	begun    map[*task]time.Time
	shown    bool // a status line is on screen
	stop     chan struct{}
	stopped  sync.WaitGroup
}

type slot struct {
	task    *task
	status  status
	started time.Time
}

func (d *display) costOf(t *task) float64 {
	if d.Cost == nil {
		return 1
	}
	return d.Cost(t.Run)
}

// logf prints a line (above the status line on a terminal).
func (d *display) logf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	fmt.Fprintf(d.W, format+"\n", args...)
	d.draw()
}

// begin starts the display of a sweep over todo (skipped runs are done already) with the given
// number of slots (trainers and the analysis).
func (d *display) begin(todo []*task, skipped, workers int) {
	d.mu.Lock()
	d.t0 = time.Now()
	d.total, d.skipped = len(todo), skipped
	d.costTodo = 0
	for _, t := range todo {
		d.costTodo += d.costOf(t)
	}
	d.slots = make([]slot, workers)
	d.begun = map[*task]time.Time{}
	d.queued = 0
	d.stop = make(chan struct{})
	d.mu.Unlock()
	interval := 250 * time.Millisecond
	if !d.TTY {
		interval = d.Heartbeat
		if interval <= 0 {
			interval = 30 * time.Second
		}
	}
	d.stopped.Add(1)
	go func() {
		defer d.stopped.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-tick.C:
				d.tick()
			}
		}
	}()
}

func (d *display) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.TTY {
		d.clear()
		d.draw()
		return
	}
	running := d.running()
	if running == "" {
		return
	}
	fmt.Fprintf(d.W, "progress: %s; running %s\n", d.counts(), running)
}

// start marks slot w (a trainer, or the analysis) as working on t.
func (d *display) start(w int, t *task, s status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.Phase == "analyse" {
		d.queued--
	} else {
		d.begun[t] = time.Now()
	}
	d.slots[w] = slot{task: t, started: time.Now(), status: s}
	if !d.TTY && s.Phase == "train" {
		fmt.Fprintf(d.W, "start  %v\n", t.Run)
	}
}

// queue reports that trainer w finished t, which now waits for its analysis.
func (d *display) queue(w int, t *task, rec *store.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.slots[w] = slot{}
	d.queued++
	if !d.TTY {
		fmt.Fprintf(d.W, "trained %v: %s after %d epochs in %.1fs; analysis queued\n", t.Run, rec.Status, rec.Epochs, rec.TrainSeconds)
	}
}

// drop reports a queued analysis dropped by an interrupt.
func (d *display) drop(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queued--
	d.clear()
	fmt.Fprintf(d.W, "stopped %v before its analysis (no record written; the next sweep redoes it)\n", t.Run)
	d.draw()
}

// update records worker w's current status.
func (d *display) update(w int, s status) {
	d.mu.Lock()
	d.slots[w].status = s
	d.mu.Unlock()
}

// finish reports worker w's run as done (rec) or failed (err).
func (d *display) finish(w int, t *task, rec *store.Record, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	elapsed := time.Since(d.begun[t])
	delete(d.begun, t)
	d.slots[w] = slot{}
	d.costDone += d.costOf(t)
	d.clear()
	if err != nil {
		d.failed++
		fmt.Fprintf(d.W, "FAILED %v after %s: %v\n", t.Run, round(elapsed), err)
	} else {
		d.done++
		fmt.Fprintf(d.W, "[%*d/%d] %v: %s (%s in all)\n", digits(d.total), d.done+d.failed+d.other, d.total, t.Run, summary(rec, t.Run.LR), round(elapsed))
	}
	d.draw()
}

// elsewhere reports that another process recorded a run of this sweep.
func (d *display) elsewhere(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.other++
	d.costDone += d.costOf(t)
	d.clear()
	fmt.Fprintf(d.W, "recorded %v by another process\n", t.Run)
	d.draw()
}

// abandon reports that worker w's run was stopped by an interrupt (no record written).
func (d *display) abandon(w int, t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.slots[w] = slot{}
	delete(d.begun, t)
	d.clear()
	fmt.Fprintf(d.W, "stopped %v (no record written; the next sweep redoes it)\n", t.Run)
	d.draw()
}

// end stops the display and removes the status line.
func (d *display) end() {
	if d.stop != nil {
		close(d.stop)
		d.stopped.Wait()
		d.stop = nil
	}
	d.mu.Lock()
	d.clear()
	d.mu.Unlock()
}

func (d *display) counts() string {
	elapsed := time.Since(d.t0)
	left := "?"
	if d.costDone > 0 {
		left = "~" + round(time.Duration(float64(elapsed)*(d.costTodo-d.costDone)/d.costDone)).String()
	}
	return fmt.Sprintf("%d/%d runs, %s elapsed, %s left", d.done+d.failed+d.other, d.total, round(elapsed), left)
}

func (d *display) running() string {
	var parts []string
	for _, s := range d.slots {
		if s.task == nil {
			continue
		}
		p := fmt.Sprintf("lr=%g B=%d", s.task.Run.LR, s.task.Run.Batch)
		switch {
		case s.status.Phase == "analyse":
			p = "analysing " + p
		case s.status.Epoch > 0:
			p += fmt.Sprintf(" ep %d loss %.2e", s.status.Epoch, s.status.Loss)
		default:
			p += " starting"
		}
		parts = append(parts, p)
	}
	if d.queued > 0 {
		parts = append(parts, fmt.Sprintf("%d queued for analysis", d.queued))
	}
	return strings.Join(parts, " | ")
}

// draw writes the status line (terminal only); the caller holds mu.
func (d *display) draw() {
	if !d.TTY || d.stop == nil {
		return
	}
	const barLen = 20
	frac := 0.0
	if d.total > 0 {
		frac = float64(d.done+d.failed+d.other) / float64(d.total)
	}
	fill := int(frac * barLen)
	bar := "[" + strings.Repeat("#", fill) + strings.Repeat(".", barLen-fill) + "]"
	line := bar + " " + d.counts()
	if r := d.running(); r != "" {
		line += " | " + r
	}
	width := 100
	if d.Width != nil {
		if w := d.Width(); w > 10 {
			width = w
		}
	}
	if len(line) > width-1 {
		line = line[:width-1]
	}
	fmt.Fprint(d.W, line)
	d.shown = true
}

// clear erases the status line; the caller holds mu.
func (d *display) clear() {
	if d.shown {
		fmt.Fprint(d.W, "\r\x1b[K")
		d.shown = false
	}
}

// summary is a one-line description of a finished run.
func summary(rec *store.Record, lr float64) string {
	s := fmt.Sprintf("%s after %d epochs, loss %.2e, train %.1fs", rec.Status, rec.Epochs, float64(rec.FinalLoss), rec.TrainSeconds)
	if len(rec.Analysis) == 0 {
		return s
	}
	var rep struct {
		Sharpness            *float64 `json:"sharpness"`
		GeneralizedSharpness *float64 `json:"generalized_sharpness"`
	}
	if json.Unmarshal(rec.Analysis, &rep) == nil && rep.Sharpness != nil && rep.GeneralizedSharpness != nil {
		s += fmt.Sprintf(", analysis %.1fs: sharpness %.4g, generalized %.4g, 2/eta %.4g", rec.AnalysisSeconds, *rep.Sharpness, *rep.GeneralizedSharpness, 2/lr)
	}
	return s
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

func digits(n int) int { return len(fmt.Sprint(n)) }
