package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run several real sweep processes on one store (the tiny grid of
// reliability_test.go) and count the trainings from their logs (one "start " line per run
// trained).

// startAll starts count sweeps on s's store at once and returns their commands and logs.
func startAll(t *testing.T, s *tinySetup, count int, args ...string) ([]*exec.Cmd, []fmt.Stringer) {
	t.Helper()
	var cmds []*exec.Cmd
	var logs []fmt.Stringer
	for i := 0; i < count; i++ {
		cmd, out := s.command(append([]string{"-workers", "1"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, logs = append(cmds, cmd), append(logs, out)
	}
	return cmds, logs
}

// tableWithoutTiming reads the table, leaving out the columns of wall-clock time and creation.
func tableWithoutTiming(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, row := range readTable(t, dir) {
		for _, c := range []string{"train_seconds", "analysis_seconds", "created"} {
			delete(row, c)
		}
		out[row["key"]] = row
	}
	return out
}

// sameTables reports the differences of two tables (numbers equal, or within 1e-12 relative:
// the OpenBLAS build's threaded reductions round by thread count).
func sameTables(t *testing.T, got, want map[string]map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("table has %d rows, the single process's %d", len(got), len(want))
	}
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("run %s missing from the table", key)
			continue
		}
		for c, wv := range w {
			gv := g[c]
			if gv == wv {
				continue
			}
			a, ea := strconv.ParseFloat(gv, 64)
			b, eb := strconv.ParseFloat(wv, 64)
			if ea != nil || eb != nil || math.Abs(a-b) > 1e-12*math.Max(math.Abs(a), math.Abs(b)) {
				t.Errorf("run %.12s column %s: %q, single process %q", key, c, gv, wv)
			}
		}
	}
}

func TestLeasesConcurrentSweeps(t *testing.T) {
	single := newTiny(t)
	if code, log := single.run(t, "-workers", "1"); code != 0 {
		t.Fatalf("single sweep exited %d:\n%s", code, log)
	}
	want := tableWithoutTiming(t, single.cfg.Output)
	runs := len(single.cfg.Runs())
	for _, procs := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d processes", procs), func(t *testing.T) {
			s := newTiny(t)
			cmds, logs := startAll(t, s, procs)
			trained := 0
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Errorf("process %d: %v\n%s", i, err, logs[i])
				}
				trained += countPrefix(logs[i].String(), "start ")
				t.Logf("process %d trained %d runs", i, countPrefix(logs[i].String(), "start "))
			}
			if trained != runs {
				t.Errorf("%d processes trained %d runs in all for %d runs of the grid", procs, trained, runs)
			}
			if code, log := s.run(t, "-table-only"); code != 0 {
				t.Fatalf("-table-only exited %d:\n%s", code, log)
			}
			s.checkComplete(t)
			sameTables(t, tableWithoutTiming(t, s.cfg.Output), want)
			if leases, _ := s.st.Leases(); len(leases) != 0 {
				t.Errorf("leases left: %v", leases)
			}
		})
	}
}

func TestLeasesKilledHolderTakenOver(t *testing.T) {
	s := newTiny(t)
	runs := len(s.cfg.Runs())
	const timeout = "1s"
	victim, vlog := s.command("-workers", "2", "-lease-timeout", timeout)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it while it holds a lease on a run it is training (no record yet: a lease taken in
	// the moment between writing a record and releasing it would leave the survivors nothing to
	// take over, and with runs as fast as the tiny ones they can finish before it goes stale),
	// after 2 records: the condition is checked again with the victim stopped (SIGSTOP), so that
	// no lease is released between the check and the kill.
	ready := func() bool {
		leases, _ := s.st.Leases()
		training := 0
		for key := range leases {
			if _, err := os.Stat(s.st.Path(key)); errors.Is(err, fs.ErrNotExist) {
				training++
			}
		}
		return training > 0 && len(s.recordFiles(t)) >= 2
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if ready() {
			victim.Process.Signal(syscall.SIGSTOP)
			if ready() {
				break
			}
			victim.Process.Signal(syscall.SIGCONT)
		}
		time.Sleep(time.Millisecond)
	}
	victim.Process.Signal(syscall.SIGKILL)
	victim.Wait()
	held, _ := s.st.Leases()
	done := len(s.recordFiles(t))
	if len(held) == 0 || done >= runs {
		t.Fatalf("killed with %d leases held and %d of %d records; make the grid slower\n%s", len(held), done, runs, vlog)
	}
	t.Logf("killed holding %d leases, %d of %d records written", len(held), done, runs)
	// As seen from another machine sharing the store: the holder's pid cannot be asked about
	// (on its own machine a lease of an exited process is stale at once), so its leases go stale
	// by their heartbeat only.
	for key, li := range held {
		li.Host = "another-machine"
		b, _ := json.Marshal(li)
		if err := os.WriteFile(filepath.Join(s.st.Dir, key[:2], key+".lease"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cmds, logs := startAll(t, s, 2, "-lease-timeout", timeout)
	trained, waited := 0, 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, logs[i])
		}
		trained += countPrefix(logs[i].String(), "start ")
		waited += strings.Count(logs[i].String(), "another process trains it")
	}
	if trained != runs-done {
		t.Errorf("the survivors trained %d runs, want the %d without a record", trained, runs-done)
	}
	if waited == 0 {
		t.Errorf("no survivor waited for the dead process's leases to go stale")
	}
	s.checkComplete(t)
	if leases, _ := s.st.Leases(); len(leases) != 0 {
		t.Errorf("leases left: %v", leases)
	}
	if stale, _ := filepath.Glob(filepath.Join(s.st.Dir, "*", "*.lease*")); len(stale) != 0 {
		t.Errorf("lease files left: %v", stale)
	}
}
