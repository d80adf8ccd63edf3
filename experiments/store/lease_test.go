package store

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const leaseKey = "abcdef0123"

func TestLeaseExclusiveAndReleased(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	l, err := s.Claim(leaseKey, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(leaseKey, time.Minute, nil); !errors.Is(err, ErrLeased) {
		t.Errorf("second claim: %v, want ErrLeased", err)
	}
	leases, _ := s.Leases()
	if li, ok := leases[leaseKey]; !ok || li.PID != os.Getpid() || li.Host == "" || li.Heartbeat.IsZero() {
		t.Errorf("lease file holds %+v", leases)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	if _, err := os.Stat(s.leasePath(leaseKey)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lease file left after release: %v", err)
	}
	l2, err := s.Claim(leaseKey, time.Minute, nil)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	l2.Release()
}

// writeStale writes a lease of a dead holder whose heartbeat is an hour old.
func writeStale(t *testing.T, s *Store) {
	t.Helper()
	b, _ := json.Marshal(LeaseInfo{Host: "gone", PID: 1, Token: "dead", Heartbeat: time.Now().Add(-time.Hour)})
	os.MkdirAll(s.Dir+"/ab", 0o755) // leaseKey[:2]
	if err := os.WriteFile(s.leasePath(leaseKey), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A stale lease is taken over by exactly one of many processes racing for it (goroutines here:
// the protocol uses only file operations).
func TestLeaseStaleTakenOverOnce(t *testing.T) {
	for round := 0; round < 20; round++ {
		s := &Store{Dir: t.TempDir()}
		writeStale(t, s)
		var wins atomic.Int32
		var wg sync.WaitGroup
		var mu sync.Mutex
		var held []*Lease
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := s.Claim(leaseKey, time.Minute, nil)
				switch {
				case err == nil:
					wins.Add(1)
					mu.Lock()
					held = append(held, l)
					mu.Unlock()
				case !errors.Is(err, ErrLeased):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d processes took the stale lease over", round, wins.Load())
		}
		leases, _ := s.Leases()
		if leases[leaseKey].Token != held[0].info.Token {
			t.Errorf("the lease file holds %+v, not the winner's", leases[leaseKey])
		}
		held[0].Release()
		if files, _ := os.ReadDir(s.Dir + "/ab"); len(files) != 0 {
			t.Errorf("files left: %v", files)
		}
	}
}

// The holder's heartbeat keeps its lease fresh past the timeout; a holder whose lease was taken
// over hears of it.
func TestLeaseHeartbeat(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	lost := make(chan error, 10)
	l, err := s.Claim(leaseKey, 200*time.Millisecond, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := s.Claim(leaseKey, 200*time.Millisecond, nil); !errors.Is(err, ErrLeased) {
		t.Errorf("claim of a lease with a live heartbeat: %v", err)
	}
	// another process's takeover: the lease file renamed away, a new one created
	if err := os.Rename(s.leasePath(leaseKey), s.leasePath(leaseKey)+".stale-x"); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(LeaseInfo{Host: "other", PID: 2, Token: "other", Heartbeat: time.Now()})
	os.WriteFile(s.leasePath(leaseKey), b, 0o644)
	select {
	case err := <-lost:
		if !l.Lost() {
			t.Errorf("onErr %v but not Lost", err)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("a taken-over lease was not noticed")
	}
	l.Release()
	if raw, err := os.ReadFile(s.leasePath(leaseKey)); err != nil || string(raw) != string(b) {
		t.Errorf("the lost lease's holder touched the other process's lease: %q, %v", raw, err)
	}
}

func TestCleanLeases(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	writeStale(t, s)
	live, err := s.Claim("cdef012345", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	if n, err := s.CleanLeases(time.Minute); n != 1 || err != nil {
		t.Errorf("removed %d, %v; want the stale lease only", n, err)
	}
	leases, _ := s.Leases()
	if _, ok := leases[leaseKey]; ok || len(leases) != 1 {
		t.Errorf("left %v", leases)
	}
}

// A lease of a process of this machine that has exited is stale at once (no wait for the timeout).
func TestLeaseOfExitedLocalProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	s := &Store{Dir: t.TempDir()}
	host, _ := os.Hostname()
	b, _ := json.Marshal(LeaseInfo{Host: host, PID: cmd.Process.Pid, Token: "exited", Heartbeat: time.Now()})
	os.MkdirAll(filepath.Dir(s.leasePath(leaseKey)), 0o755)
	os.WriteFile(s.leasePath(leaseKey), b, 0o644)
	l, err := s.Claim(leaseKey, time.Hour, nil)
	if err != nil {
		t.Fatalf("lease of exited pid %d: %v", cmd.Process.Pid, err)
	}
	l.Release()
	// the same lease from another machine is left to its holder until the timeout
	b, _ = json.Marshal(LeaseInfo{Host: host + "-other", PID: cmd.Process.Pid, Token: "remote", Heartbeat: time.Now()})
	os.WriteFile(s.leasePath(leaseKey), b, 0o644)
	if _, err := s.Claim(leaseKey, time.Hour, nil); !errors.Is(err, ErrLeased) {
		t.Errorf("fresh lease of another machine: %v", err)
	}
}

// A takeover in progress (its marker) keeps other takers out; a marker left by a taker that died
// (older than the timeout) is cleared, and the stale lease is then taken over.
func TestLeaseTakeoverMarker(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	writeStale(t, s)
	marker := s.leasePath(leaseKey) + ".takeover"
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(leaseKey, time.Minute, nil); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim during a takeover: %v, want ErrLeased", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("a fresh marker was removed: %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(leaseKey, time.Minute, nil); !errors.Is(err, ErrLeased) {
		t.Fatalf("claim that finds a stale marker: %v, want ErrLeased (it clears the marker for the next try)", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale marker not cleared: %v", err)
	}
	l, err := s.Claim(leaseKey, time.Minute, nil)
	if err != nil {
		t.Fatalf("claim after the stale marker was cleared: %v", err)
	}
	l.Release()
	if files, _ := os.ReadDir(s.Dir + "/ab"); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}
