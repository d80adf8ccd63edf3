package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/experiments/grid"
	"github.com/sgdstability/sgdstab/experiments/internal/cmdtest"
	"github.com/sgdstability/sgdstab/experiments/store"
)

// These tests run the real sweep binary (real data, trainer and analysis) on a tiny grid:
// 16 images, 3 hidden units, a few hundred epochs, so that a run takes milliseconds to a second.

// tinyGrid has runs that converge, one learning rate that diverges, and enough runs that a kill
// lands in the middle of the sweep.
const tinyGrid = `
name: tiny
data: {classes: [0, 1, 2, 3], per_class: 4}
model: {hidden: 3, init_factor: 1, init_seed: 1}
training: {warmup_steps: 20, conv_threshold: 1e-4, conv_epochs: 20, max_epochs: 3000}
grid:
  - name: a
    lr: [0.05, 0.1, 0.2, 40]
    batch: [1, 2, 4, n]
seeds: [1]
analysis: {covariance: true, hessian_sharpness: true}
workers: 2
`

func TestMain(m *testing.M) { cmdtest.Main(m) }

type tinySetup struct {
	bin, cfgPath, mnist string
	cfg                 *grid.Config
	st                  *store.Store
}

func newTiny(t *testing.T) *tinySetup {
	t.Helper()
	bin := cmdtest.Build(t, ".")
	mnist, err := data.Locate("")
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	text := tinyGrid + fmt.Sprintf("output: %s\nstore: %s\n", filepath.Join(dir, "out"), filepath.Join(dir, "store"))
	path := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := grid.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &tinySetup{bin: bin, cfgPath: path, mnist: mnist, cfg: cfg, st: &store.Store{Dir: cfg.Store}}
}

func (s *tinySetup) command(args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(s.bin, append([]string{"-config", s.cfgPath, "-mnist", s.mnist, "-progress", "plain"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func (s *tinySetup) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd, out := s.command(args...)
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// recordFiles lists the files in the store that are records (not temporary, not quarantined).
func (s *tinySetup) recordFiles(t *testing.T) []string { return s.storeFiles(".json") }

// paramsFiles lists the params files in the store (not temporary, not quarantined).
func (s *tinySetup) paramsFiles(t *testing.T) []string { return s.storeFiles(".npy") }

// storeFiles lists the store's files whose names end in ext, except temporary files.
func (s *tinySetup) storeFiles(ext string) []string {
	var files []string
	filepath.WalkDir(s.st.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ext) && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// checkComplete verifies that every run of the grid has exactly one valid record, that there
// is no other record, and that the table lists every run once.
func (s *tinySetup) checkComplete(t *testing.T) map[string]*store.Record {
	t.Helper()
	eng, err := newEngine(s.cfg, s.mnist)
	if err != nil {
		t.Fatal(err)
	}
	runs := s.cfg.Runs()
	recs := map[string]*store.Record{}
	for _, r := range runs {
		spec, err := eng.spec(r)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.st.Get(spec.Key())
		if err != nil {
			t.Errorf("%v: %v", r, err)
			continue
		}
		recs[rec.Key] = rec
	}
	if files := s.recordFiles(t); len(files) != len(runs) {
		t.Errorf("%d record files for %d runs", len(files), len(runs))
	}
	rows := readTable(t, s.cfg.Output)
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row["key"]] {
			t.Errorf("table lists %s twice", row["key"])
		}
		seen[row["key"]] = true
		if recs[row["key"]] == nil {
			t.Errorf("table row %s is not a run of the grid", row["key"])
		}
	}
	if len(rows) != len(runs) {
		t.Errorf("table has %d rows for %d runs", len(rows), len(runs))
	}
	return recs
}

func TestReliabilityKillResumeCorrupt(t *testing.T) {
	s := newTiny(t)
	runs := s.cfg.Runs()

	// 1. Start a sweep and SIGKILL it once a few records are written.
	cmd, out := s.command("-workers", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(s.recordFiles(t)) < 4 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killedAt := len(s.recordFiles(t))
	if killedAt >= len(runs) {
		t.Fatalf("the sweep finished (%d records) before the kill; make the tiny grid slower\n%s", killedAt, out)
	}
	t.Logf("killed with %d of %d records written", killedAt, len(runs))
	// Whatever is there is valid: every record (with its params file, if it names one); a params
	// file without a record is what a kill between the two writes leaves, and is ignored.
	for _, f := range s.recordFiles(t) {
		key := strings.TrimSuffix(filepath.Base(f), ".json")
		rec, err := s.st.Get(key)
		if err != nil {
			t.Errorf("record left by the killed sweep: %v", err)
			continue
		}
		if rec.Status == "converged" {
			if _, err := s.st.Params(rec); err != nil {
				t.Errorf("params of a record left by the killed sweep: %v", err)
			}
		}
	}

	// 2. The next invocation finishes the grid, redoing nothing that was done. (A kill between a
	// lease's O_EXCL create and its first write leaves an empty lease, which counts as fresh
	// until it is older than the lease timeout, 5 minutes by default: a short one here.)
	code, log := s.run(t, "-lease-timeout", "15s")
	if code != 0 {
		t.Fatalf("resumed sweep exited %d:\n%s", code, log)
	}
	if want := fmt.Sprintf("%d done already", killedAt); !strings.Contains(log, want) {
		t.Errorf("resume did not report %q:\n%s", want, log)
	}
	if got := countPrefix(log, "start "); got != len(runs)-killedAt {
		t.Errorf("resumed sweep started %d runs, want %d", got, len(runs)-killedAt)
	}
	recs := s.checkComplete(t)

	// 3. The diverging learning rate is recorded as diverged, and the rest converged and were
	// analysed.
	for _, rec := range recs {
		var tc struct {
			LR float64 `json:"lr"`
		}
		if err := json.Unmarshal(rec.Spec.Train, &tc); err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.LR == 40 && rec.Status != "diverged":
			t.Errorf("lr 40: status %s, want diverged", rec.Status)
		case rec.Status == "converged" && len(rec.Analysis) == 0:
			t.Errorf("converged run %s without analysis", rec.Key)
		case rec.Status != "converged" && len(rec.Analysis) != 0:
			t.Errorf("%s run %s analysed", rec.Status, rec.Key)
		}
	}
	nConv := 0
	for _, rec := range recs {
		if rec.Status == "converged" {
			nConv++
		}
	}
	if nConv == 0 {
		t.Errorf("no run converged; the tiny grid tests nothing of the analysis")
	}

	// 4. Nothing to do on a third invocation.
	code, log = s.run(t)
	if code != 0 || !strings.Contains(log, fmt.Sprintf("%d done already, 0 to run", len(runs))) {
		t.Errorf("third sweep (exit %d) was not a no-op:\n%s", code, log)
	}

	// 5. A corrupt record is reported, moved aside and redone.
	files := s.recordFiles(t)
	victim := files[len(files)/2]
	raw, _ := os.ReadFile(victim)
	if err := os.WriteFile(victim, bytes.Replace(raw, []byte(`"epochs":`), []byte(`"epochs":1`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, log = s.run(t, "-dry-run")
	if code != 0 || !strings.Contains(log, "corrupt record (will be redone)") {
		t.Errorf("dry run (exit %d) does not show the corrupt record:\n%s", code, log)
	}
	code, log = s.run(t)
	if code != 0 || !strings.Contains(log, "corrupt record for") || !strings.Contains(log, "checksum") {
		t.Errorf("corrupt record not reported (exit %d):\n%s", code, log)
	}
	if moved, _ := filepath.Glob(victim + ".corrupt-*"); len(moved) != 1 {
		t.Errorf("corrupt file kept as %v", moved)
	}
	s.checkComplete(t)

	// 6. A params file whose checksum does not match its record makes the record corrupt: it is
	// reported, moved aside with its record, and the run is redone.
	params := s.paramsFiles(t)
	if len(params) != nConv {
		t.Fatalf("%d params files for %d converged runs", len(params), nConv)
	}
	victim = params[0]
	raw, _ = os.ReadFile(victim)
	raw[len(raw)-1] ^= 0x10
	if err := os.WriteFile(victim, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, log = s.run(t)
	if code != 0 || !strings.Contains(log, "corrupt record for") || !strings.Contains(log, "params file") ||
		countPrefix(log, "start ") != 1 {
		t.Errorf("corrupt params file not reported and redone once (exit %d):\n%s", code, log)
	}
	if moved, _ := filepath.Glob(victim + ".corrupt-*"); len(moved) != 1 {
		t.Errorf("corrupt params file kept as %v", moved)
	}
	s.checkComplete(t)

	// 7. A kill between writing a params file and its record leaves a params file without a
	// record (the state made here by removing a record): the run is redone, once, and its params
	// file replaced by the same bytes (training and analysis are deterministic).
	victim = params[len(params)-1]
	before, _ := os.ReadFile(victim)
	if err := os.Remove(strings.TrimSuffix(victim, ".npy") + ".json"); err != nil {
		t.Fatal(err)
	}
	code, log = s.run(t)
	if code != 0 || countPrefix(log, "start ") != 1 || !strings.Contains(log, fmt.Sprintf("%d done already", len(runs)-1)) {
		t.Errorf("run with a params file but no record not redone once (exit %d):\n%s", code, log)
	}
	if after, _ := os.ReadFile(victim); !bytes.Equal(after, before) {
		t.Errorf("redone run wrote other parameters")
	}
	s.checkComplete(t)
}

func TestReliabilityInterrupt(t *testing.T) {
	s := newTiny(t)
	runs := s.cfg.Runs()
	cmd, out := s.command("-workers", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(s.recordFiles(t)) < 2 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	done := len(s.recordFiles(t))
	if done == len(runs) {
		t.Skipf("the sweep finished before the interrupt")
	}
	if code != 130 || !strings.Contains(out.String(), "interrupted: rerun") {
		t.Errorf("interrupted sweep exited %d:\n%s", code, out)
	}
	// The table was written for what was done.
	if rows := readTable(t, s.cfg.Output); len(rows) != done {
		t.Errorf("table after interrupt has %d rows, store %d records", len(rows), done)
	}
	code, log := s.run(t)
	if code != 0 {
		t.Fatalf("resumed sweep exited %d:\n%s", code, log)
	}
	s.checkComplete(t)
}

func countPrefix(log, prefix string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}
