package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/store"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// fakeEngine stands in for training and analysis: a run with lr >= divergeAt diverges, one with
// lr == failAt fails, one with lr == blockAt waits for cancellation; the others converge with a
// made-up report whose numbers are functions of (lr, batch).
type fakeEngine struct {
	divergeAt, failAt, blockAt float64
	started                    chan grid.Run // if non-nil, receives every run as it starts

	mu    sync.Mutex
	calls map[string]int
}

type fakeSettings struct {
	LR    float64 `json:"lr"`
	Batch int     `json:"batch"`
	Seed  uint64  `json:"seed"`
}

func (f *fakeEngine) spec(r grid.Run) (store.Spec, error) {
	cfg := &grid.Config{}
	return store.NewSpec(cfg.Data, 8, fakeSettings{r.LR, r.Batch, r.Seed}, map[string]any{"eta": r.LR})
}

func (f *fakeEngine) train(ctx context.Context, r grid.Run, report func(status)) (*store.Record, minimum, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[r.String()]++
	f.mu.Unlock()
	if f.started != nil {
		f.started <- r
	}
	report(status{Phase: "train", Epoch: 1, Loss: 0.5})
	switch {
	case r.LR == f.blockAt:
		<-ctx.Done()
		return nil, nil, ctx.Err()
	case r.LR == f.failAt && r.Batch == 2:
		panic("fake panic")
	case f.divergeAt > 0 && r.LR >= f.divergeAt:
		return &store.Record{Status: "diverged", Epochs: 3, FinalLoss: jsonfloat.Float(1e7)}, nil, nil
	}
	return &store.Record{Status: "converged", Epochs: 10, Steps: 10 * 8 / r.Batch, FinalLoss: 1e-7}, fakeMinimum{r}, nil
}

func (f *fakeEngine) analyse(r grid.Run, m minimum, rec *store.Record) error {
	if m.(fakeMinimum).run != r {
		return fmt.Errorf("minimum of %v handed to the analysis of %v", m, r)
	}
	if r.LR == f.failAt {
		return errors.New("fake failure")
	}
	rec.Analysis = json.RawMessage(fmt.Sprintf(`{"p":%g,"sharpness":%g,"generalized_sharpness":%g,"generalized_sharpness_bracket":[1,2]}`,
		1/float64(r.Batch), 1/r.LR, 1.5/r.LR))
	rec.ResidualRel = jsonfloat.Ptr(0.01)
	return nil
}

// fakeMinimum is a fake run's minimum: a 2 -> 1 -> 1 network whose parameters encode the run.
type fakeMinimum struct{ run grid.Run }

func (m fakeMinimum) params() *train.Params {
	return &train.Params{Hidden: 1, W1: []float64{m.run.LR, float64(m.run.Batch)}, B1: []float64{float64(m.run.Seed)}, W2: []float64{1}, B2: []float64{-1}}
}

func (f *fakeEngine) count(r grid.Run) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[r.String()]
}

const fakeGrid = `
name: fake
data: {per_class: 2}
grid:
  - lr: [0.01, 0.02, 0.5, 1.0]
    batch: [1, 2, n]
seeds: [1, 2]
`

func setup(t *testing.T, text string, eng engine) (*runner, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	text += fmt.Sprintf("output: %s\nstore: %s\n", filepath.Join(dir, "out"), filepath.Join(dir, "store"))
	cfg, err := grid.Parse([]byte(text), filepath.Join(dir, "fake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	return &runner{Config: cfg, Store: st, Engine: eng, Workers: 2, Display: &display{W: &syncWriter{w: &log}, Heartbeat: time.Hour}}, &log
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func sweepAll(t *testing.T, r *runner, ctx context.Context) ([]*task, outcome) {
	t.Helper()
	tasks, err := r.plan(r.Config.Runs())
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.sweep(ctx, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.table(tasks); err != nil {
		t.Fatal(err)
	}
	return tasks, out
}

func readTable(t *testing.T, dir string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "table.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, c := range rows[0] {
			m[c] = row[i]
		}
		out = append(out, m)
	}
	return out
}

// Converged runs keep their minimum's parameters in the store, the others have none.
func TestSweepKeepsParams(t *testing.T) {
	r, _ := setup(t, fakeGrid, &fakeEngine{divergeAt: 0.5})
	tasks, _ := sweepAll(t, r, context.Background())
	for _, tk := range tasks {
		rec, err := r.Store.Find(tk.Spec)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Store.Params(rec)
		if rec.Status != "converged" {
			if rec.Params != nil || err == nil {
				t.Errorf("%v (%s) has parameters", tk.Run, rec.Status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tk.Run, err)
		}
		if want := *(fakeMinimum{tk.Run}).params(); !slices.Equal(p.Flat(), want.Flat()) || p.Hidden != 1 {
			t.Errorf("%v: stored parameters %+v, want %+v", tk.Run, p, want)
		}
	}
}

func TestSweepRecordsEveryRunOnceAndResumes(t *testing.T) {
	eng := &fakeEngine{divergeAt: 0.5}
	r, log := setup(t, fakeGrid, eng)
	runs := r.Config.Runs()
	if len(runs) != 24 {
		t.Fatalf("%d runs", len(runs))
	}
	_, out := sweepAll(t, r, context.Background())
	if out.Ran != 24 || out.Skipped != 0 || out.Failed != 0 || out.Interrupted {
		t.Fatalf("outcome %+v\n%s", out, log)
	}
	for _, run := range runs {
		if eng.count(run) != 1 {
			t.Errorf("%v trained %d times", run, eng.count(run))
		}
	}
	rows := readTable(t, r.Config.Output)
	if len(rows) != 24 {
		t.Fatalf("table has %d rows", len(rows))
	}
	diverged := 0
	for i, row := range rows {
		run := runs[i]
		if row["lr"] != fmt.Sprint(run.LR) || row["batch"] != fmt.Sprint(run.Batch) || row["config"] != "fake" {
			t.Errorf("row %d (%s, %s) is not run %v", i, row["lr"], row["batch"], run)
		}
		if row["status"] == "diverged" {
			diverged++
			if row["sharpness"] != "" {
				t.Errorf("diverged run analysed: %v", row)
			}
		} else if row["sharpness"] != fmt.Sprint(1/run.LR) {
			t.Errorf("row %d sharpness %s", i, row["sharpness"])
		}
	}
	if diverged != 12 {
		t.Errorf("%d diverged rows, want 12 (lr 0.5 and 1)", diverged)
	}
	// A second sweep finds everything done.
	_, out = sweepAll(t, r, context.Background())
	if out.Ran != 0 || out.Skipped != 24 {
		t.Errorf("second sweep %+v", out)
	}
	for _, run := range runs {
		if eng.count(run) != 1 {
			t.Errorf("%v trained %d times after the second sweep", run, eng.count(run))
		}
	}
}

func TestSweepFailureIsNotRecorded(t *testing.T) {
	eng := &fakeEngine{failAt: 0.02}
	r, log := setup(t, fakeGrid, eng)
	tasks, out := sweepAll(t, r, context.Background())
	if out.Failed != 6 || out.Ran != 18 {
		t.Fatalf("outcome %+v", out)
	}
	for _, task := range tasks {
		_, err := r.Store.Get(task.Key)
		if failed := task.Run.LR == 0.02; failed != errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v: Get = %v", task.Run, err)
		}
	}
	if !strings.Contains(log.String(), "FAILED lr=0.02") || !strings.Contains(log.String(), "fake failure") || !strings.Contains(log.String(), "panic: fake panic") {
		t.Errorf("failure not reported:\n%s", log)
	}
	// Once fixed, the next sweep runs only the failed ones.
	eng.failAt = -1
	_, out = sweepAll(t, r, context.Background())
	if out.Ran != 6 || out.Skipped != 18 {
		t.Errorf("retry outcome %+v", out)
	}
}

func TestSweepCorruptRecordIsReportedAndRerun(t *testing.T) {
	eng := &fakeEngine{}
	r, log := setup(t, fakeGrid, eng)
	tasks, _ := sweepAll(t, r, context.Background())
	victim := tasks[5]
	path := r.Store.Path(victim.Key)
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, raw[:len(raw)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	_, out := sweepAll(t, r, context.Background())
	if out.Ran != 1 || out.Skipped != 23 {
		t.Fatalf("outcome %+v", out)
	}
	if eng.count(victim.Run) != 2 {
		t.Errorf("corrupt run trained %d times in all, want 2", eng.count(victim.Run))
	}
	if !strings.Contains(log.String(), "corrupt record for "+victim.Run.String()) {
		t.Errorf("not reported:\n%s", log)
	}
	if _, err := r.Store.Get(victim.Key); err != nil {
		t.Errorf("rerun record: %v", err)
	}
	moved, _ := filepath.Glob(path + ".corrupt-*")
	if len(moved) != 1 {
		t.Errorf("corrupt file kept as %v", moved)
	}
	if rows := readTable(t, r.Config.Output); len(rows) != 24 {
		t.Errorf("table has %d rows", len(rows))
	}
}

func TestSweepInterrupt(t *testing.T) {
	eng := &fakeEngine{blockAt: 0.01, started: make(chan grid.Run, 100)}
	r, log := setup(t, fakeGrid, eng)
	r.Workers = 1
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once a blocking run has started.
		for run := range eng.started {
			if run.LR == 0.01 {
				cancel()
				return
			}
		}
	}()
	tasks, out := sweepAll(t, r, ctx)
	if !out.Interrupted || out.Ran+out.Unstarted != 24 || out.Unstarted == 0 {
		t.Fatalf("outcome %+v", out)
	}
	recorded := 0
	for _, task := range tasks {
		_, err := r.Store.Get(task.Key)
		switch {
		case err == nil:
			recorded++
			if task.Run.LR == 0.01 {
				t.Errorf("interrupted run %v has a record", task.Run)
			}
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("%v: %v", task.Run, err)
		}
	}
	if recorded != out.Ran {
		t.Errorf("%d records, %d runs done", recorded, out.Ran)
	}
	if !strings.Contains(log.String(), "stopped lr=0.01") {
		t.Errorf("abandoned run not reported:\n%s", log)
	}
	// Resume: the rest, each exactly once in all.
	eng.blockAt = -1
	eng.started = nil
	_, out = sweepAll(t, r, context.Background())
	if out.Ran+out.Skipped != 24 || out.Interrupted {
		t.Errorf("resume outcome %+v", out)
	}
	for _, task := range tasks {
		want := 1
		if task.Run.LR == 0.01 && eng.count(task.Run) == 2 {
			want = 2 // the one abandoned
		}
		if eng.count(task.Run) != want {
			t.Errorf("%v trained %d times", task.Run, eng.count(task.Run))
		}
	}
}

func TestShardsTogetherRunTheGridOnce(t *testing.T) {
	eng := &fakeEngine{}
	r, _ := setup(t, fakeGrid, eng)
	all := r.Config.Runs()
	tasks, err := r.plan(all)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	total := 0
	for i := 0; i < n; i++ {
		var mine []*task
		for _, run := range grid.Shard(all, i, n) {
			mine = append(mine, tasks[run.Index])
		}
		out, err := r.sweep(context.Background(), mine)
		if err != nil {
			t.Fatal(err)
		}
		if out.Skipped != 0 {
			t.Errorf("shard %d skipped %d runs done by another shard", i, out.Skipped)
		}
		total += out.Ran
		// Each shard's table holds every run recorded so far, not only its own.
		fresh, _ := r.plan(all)
		rows, err := r.table(fresh)
		if err != nil || rows != total {
			t.Errorf("after shard %d the table has %d rows (%v), want %d", i, rows, err, total)
		}
	}
	if total != len(all) {
		t.Errorf("shards ran %d runs, grid has %d", total, len(all))
	}
	for _, run := range all {
		if eng.count(run) != 1 {
			t.Errorf("%v trained %d times", run, eng.count(run))
		}
	}
}

func TestDisplayModes(t *testing.T) {
	for _, tty := range []bool{false, true} {
		eng := &fakeEngine{divergeAt: 0.5}
		r, log := setup(t, "data: {per_class: 2}\ngrid: [{lr: [0.01, 0.5], batch: [2]}]\n", eng)
		r.Display.TTY = tty
		r.Display.Heartbeat = time.Millisecond
		sweepAll(t, r, context.Background())
		s := log.String()
		for _, want := range []string{"lr=0.01 B=2 seed=1: converged after 10 epochs", "generalized 150, 2/eta 200", "lr=0.5 B=2 seed=1: diverged after 3 epochs"} {
			if !strings.Contains(s, want) {
				t.Errorf("tty=%v: no %q in\n%s", tty, want, s)
			}
		}
		if strings.Contains(s, "\x1b[K") != tty {
			t.Errorf("tty=%v: terminal control codes present = %v", tty, !tty)
		}
	}
}

func TestCostOrdersSlowRunsFirst(t *testing.T) {
	cfg, err := grid.Parse([]byte("training: {max_epochs: 20000}\ngrid: [{lr: [0.002, 0.043], batch: [1, 32, n]}]\n"), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{Config: cfg}
	c := func(lr float64, b int) float64 { return r.cost(grid.Run{LR: lr, Batch: b}) }
	// Full batch at a small step size hits the epoch cap: the most expensive.
	if got, want := c(0.002, 512), 20000*(1+1.0/512); got != want {
		t.Errorf("capped cost %v, want %v", got, want)
	}
	if !(min(c(0.002, 512), c(0.002, 32)) > c(0.043, 32) && c(0.043, 32) > c(0.043, 1)) {
		t.Errorf("costs out of order: %v %v %v %v", c(0.002, 512), c(0.002, 32), c(0.043, 32), c(0.043, 1))
	}
}

// phasedEngine checks that no epoch is being computed while an analysis runs.
type phasedEngine struct {
	fakeEngine
	inEpoch   atomic.Int32
	overlaps  atomic.Int32
	analysing atomic.Int32
}

func (p *phasedEngine) train(ctx context.Context, r grid.Run, report func(status)) (*store.Record, minimum, error) {
	for e := 1; e <= 20; e++ {
		p.inEpoch.Add(1)
		if p.analysing.Load() > 0 {
			p.overlaps.Add(1)
		}
		time.Sleep(200 * time.Microsecond)
		p.inEpoch.Add(-1)
		report(status{Phase: "train", Epoch: e, Loss: 1})
	}
	return &store.Record{Status: "converged", Epochs: 20, FinalLoss: 1e-7}, fakeMinimum{r}, nil
}

func (p *phasedEngine) analyse(r grid.Run, m minimum, rec *store.Record) error {
	p.analysing.Add(1)
	defer p.analysing.Add(-1)
	for i := 0; i < 5; i++ {
		if p.inEpoch.Load() > 0 {
			p.overlaps.Add(1)
		}
		time.Sleep(200 * time.Microsecond)
	}
	rec.Analysis = json.RawMessage(`{"sharpness":1}`)
	return nil
}

func TestAnalysisExcludesTraining(t *testing.T) {
	eng := &phasedEngine{}
	r, _ := setup(t, fakeGrid, eng)
	_, out := sweepAll(t, r, context.Background())
	if out.Ran != 24 {
		t.Fatalf("outcome %+v", out)
	}
	if n := eng.overlaps.Load(); n != 0 {
		t.Errorf("an analysis overlapped a training epoch %d times", n)
	}
}

// A store of the old format (records, no FORMAT file) is refused before anything is read or
// trained, also by a dry run, with a message that says what to do.
func TestOldStoreRefused(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "store")
	os.MkdirAll(filepath.Join(old, "ab"), 0o755)
	os.WriteFile(filepath.Join(old, "ab", "abcd.json"), []byte(`{"format":1}`), 0o644)
	cfgPath := filepath.Join(dir, "g.yaml")
	os.WriteFile(cfgPath, []byte(fakeGrid+"store: "+old+"\noutput: "+filepath.Join(dir, "out")+"\n"), 0o644)
	for _, args := range [][]string{{"-dry-run"}, {"-table-only"}, {}} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-config", cfgPath}, args...), &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "use a new store directory (or delete the old one)") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// Analysis options out of range fail the grid, also in a dry run, before anything is trained or
// written, naming the key.
func TestAnalysisOptionsRefusedUpFront(t *testing.T) {
	for _, width := range []string{"2", "1e-300"} {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "g.yaml")
		os.WriteFile(cfgPath, []byte(fakeGrid+"analysis: {options: {rel_width: "+width+"}}\nstore: "+filepath.Join(dir, "store")+
			"\noutput: "+filepath.Join(dir, "out")+"\n"), 0o644)
		for _, args := range [][]string{{"-dry-run"}, {}} {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"-config", cfgPath}, args...), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "analysis.options.rel_width: rel_width = "+width) {
				t.Errorf("rel_width %s %v: exit %d, stderr %q", width, args, code, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
				t.Errorf("rel_width %s %v: the store was created", width, args)
			}
		}
	}
}

// A store or output directory that cannot be written is refused before anything trains, with a
// message naming it; -h prints the usage and exits 0.
func TestUnwritableRefusedUpFront(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct{ store, output, want string }{
		{filepath.Join(dir, "store"), filepath.Join(file, "out"), "output: cannot create directory " + filepath.Join(file, "out")},
		{filepath.Join(file, "store"), filepath.Join(dir, "out"), filepath.Join(file, "store")},
	} {
		cfgPath := filepath.Join(dir, "g.yaml")
		os.WriteFile(cfgPath, []byte(fakeGrid+"store: "+tc.store+"\noutput: "+tc.output+"\n"), 0o644)
		for _, args := range [][]string{{}, {"-table-only"}} {
			if len(args) == 1 && strings.HasPrefix(tc.store, file) {
				continue // -table-only writes no store
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"-config", cfgPath, "-progress", "plain"}, args...), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), tc.want) || strings.Contains(stderr.String(), "start ") {
				t.Errorf("store %s output %s %v: exit %d, stderr %q", tc.store, tc.output, args, code, stderr.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "-config") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr.String())
	}
}

// A run whose analysis would not fit in memory fails the grid at plan time, also in a dry run;
// -max-memory sets the limit.
func TestMemoryRefusedAtPlanTime(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		extra string
		args  []string
	}{
		{"model: {hidden: 1000000000}\n", nil},
		{"", []string{"-max-memory", "1000"}},
	} {
		cfgPath := filepath.Join(dir, "g.yaml")
		os.WriteFile(cfgPath, []byte(fakeGrid+tc.extra+"store: "+filepath.Join(dir, "store")+"\noutput: "+filepath.Join(dir, "out")+"\n"), 0o644)
		for _, args := range [][]string{{"-dry-run"}, {}} {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{"-config", cfgPath}, tc.args...), args...), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "needs about") || !strings.Contains(stderr.String(), "-max-memory") {
				t.Errorf("%q %v %v: exit %d, stderr %q", tc.extra, tc.args, args, code, stderr.String())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		t.Errorf("the store was created")
	}
}
