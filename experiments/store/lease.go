package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// ErrLeased is returned by Claim for a run that another live process has claimed.
var ErrLeased = errors.New("store: the run is leased by another process")

// LeaseInfo is the content of a lease file: who holds the lease and when it last said so.
type LeaseInfo struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Token     string    `json:"token"`     // random, tells this holder's lease from a later one
	Heartbeat time.Time `json:"heartbeat"` // refreshed by the holder every timeout/10
}

func (li LeaseInfo) String() string { return fmt.Sprintf("%s pid %d", li.Host, li.PID) }

// Lease is a process's claim on one run: the file <key>.lease beside the run's record. While the
// holder lives it refreshes the heartbeat; Release removes the file.
type Lease struct {
	path  string
	f     *os.File // the lease file, open for the heartbeat (it follows the file if renamed)
	info  LeaseInfo
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
	lost  bool
	onErr func(error)
}

// leasePath is where the lease of key lives (beside its record).
func (s *Store) leasePath(key string) string {
	return strings.TrimSuffix(s.Path(key), ".json") + ".lease"
}

// Claim claims the run of key for this process so that no other process (on this machine or
// another one sharing the store) trains it at the same time. The protocol:
//
//   - The lease file <key>.lease is created with O_EXCL (exactly one creator succeeds) and holds
//     LeaseInfo as JSON; the holder keeps it open and rewrites it in place every timeout/10 with
//     a new heartbeat, after checking that the path still names its file (os.SameFile): writes
//     through the open file never touch a lease that replaced it.
//   - A lease whose heartbeat is older than timeout is stale (its holder died or hangs), and so
//     is one whose holder ran on this machine (same host name) and has exited (no process with
//     its pid). A stale lease is taken over by one process at a time: the taker first creates
//     the marker <key>.lease.takeover with O_EXCL (whoever finds it there gets ErrLeased and
//     tries later), re-reads the lease under the marker, removes it only if it is still the
//     stale lease it judged, removes the marker, and then races for the O_EXCL create like any
//     newcomer. Only a marker holder ever removes someone else's lease file, so two processes
//     can never both hold a lease. A marker older than timeout (its taker died inside the
//     takeover) is cleared. A lease file that cannot be parsed (a creator between its create
//     and its write) counts as fresh until its modification time is older than timeout.
//   - Any other existing lease gives ErrLeased: the caller tries the run again later (it may
//     get a record meanwhile, or its lease may go stale or be released).
//
// onErr (may be nil) hears of heartbeat failures and of a lost lease (another process took it
// over after this one's heartbeat lapsed); the run is then trained twice, which costs time but
// no data (records are written atomically and training is deterministic).
func (s *Store) Claim(key string, timeout time.Duration, onErr func(error)) (*Lease, error) {
	if timeout <= 0 {
		panic(fmt.Sprintf("store: lease timeout %v", timeout))
	}
	p := s.leasePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	host, _ := os.Hostname()
	tok := make([]byte, 8)
	rand.Read(tok)
	l := &Lease{path: p, info: LeaseInfo{Host: host, PID: os.Getpid(), Token: hex.EncodeToString(tok)}, onErr: onErr}
	for attempt := 0; attempt < 2; attempt++ {
		err := l.create()
		if err == nil {
			l.start(timeout)
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("store: lease %s: %w", p, err)
		}
		raw, stale, err := readLease(p, timeout)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // released meanwhile: try to create it again
		case err != nil:
			return nil, fmt.Errorf("store: lease %s: %w", p, err)
		case !stale:
			return nil, ErrLeased
		}
		if err := takeOver(p, raw, timeout); err != nil {
			return nil, err
		}
	}
	return nil, ErrLeased
}

// readLease reads a lease file and says whether it is stale.
func readLease(p string, timeout time.Duration) (raw []byte, stale bool, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, false, err
	}
	raw, err = os.ReadFile(p)
	if err != nil {
		return nil, false, err
	}
	beat := fi.ModTime()
	var li LeaseInfo
	if json.Unmarshal(raw, &li) == nil && !li.Heartbeat.IsZero() {
		beat = li.Heartbeat
		if host, _ := os.Hostname(); li.Host == host && li.PID > 0 && processGone(li.PID) {
			return raw, true, nil // its holder on this machine has exited: no need to wait
		}
	}
	return raw, time.Since(beat) > timeout, nil
}

// takeOver removes the stale lease file p whose content was raw, so that Claim can create its
// own; it returns ErrLeased when another process is taking the lease over or p no longer is that
// stale lease (another process took it over or its holder refreshed it).
func takeOver(p string, raw []byte, timeout time.Duration) error {
	marker := p + ".takeover"
	m, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		clearStaleMarker(marker, timeout)
		return ErrLeased
	}
	if err != nil {
		return fmt.Errorf("store: taking over lease %s: %w", p, err)
	}
	m.Close()
	defer os.Remove(marker)
	cur, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // released meanwhile: race for the create
	case err != nil:
		return fmt.Errorf("store: taking over lease %s: %w", p, err)
	case string(cur) != string(raw):
		return ErrLeased // refreshed or replaced since it was judged stale
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: taking over lease %s: %w", p, err)
	}
	return nil
}

// clearStaleMarker removes a takeover marker older than timeout (left by a taker that died
// inside takeOver). It moves the marker to a name of its own first and puts it back when what it
// moved is not the marker it judged stale (a fresh one made meanwhile).
func clearStaleMarker(marker string, timeout time.Duration) {
	fi, err := os.Stat(marker)
	if err != nil || time.Since(fi.ModTime()) <= timeout {
		return
	}
	tomb := fmt.Sprintf("%s.stale-%d-%d", marker, os.Getpid(), time.Now().UnixNano())
	if os.Rename(marker, tomb) != nil {
		return
	}
	if moved, err := os.Stat(tomb); err != nil || !os.SameFile(fi, moved) {
		os.Link(tomb, marker) // fails rather than overwrite a marker made since
	}
	os.Remove(tomb)
}

// create makes the lease file with O_EXCL and writes the lease's info into it.
func (l *Lease) create() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	l.f = f
	if err := l.write(); err != nil {
		f.Close()
		os.Remove(l.path)
		return fmt.Errorf("writing: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(l.path))
}

// write puts the lease's info with the current time as heartbeat into the open lease file.
func (l *Lease) write() error {
	l.info.Heartbeat = time.Now().UTC()
	b, _ := json.Marshal(l.info)
	b = append(b, '\n')
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return err
	}
	if err := l.f.Truncate(int64(len(b))); err != nil {
		return err
	}
	return l.f.Sync()
}

// start runs the heartbeat: every timeout/10 the lease file is rewritten with the current time.
func (l *Lease) start(timeout time.Duration) {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		tick := time.NewTicker(timeout / 10)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
				if err := l.refresh(); err != nil {
					if l.onErr != nil {
						l.onErr(err)
					}
					if l.Lost() {
						return
					}
				}
			}
		}
	}()
}

// mine reports whether the lease path still names this lease's file.
func (l *Lease) mine() bool {
	a, err := os.Stat(l.path)
	if err != nil {
		return false
	}
	b, err := l.f.Stat()
	return err == nil && os.SameFile(a, b)
}

// refresh rewrites the heartbeat, unless another process holds the lease now.
func (l *Lease) refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.mine() {
		l.lost = true
		return fmt.Errorf("store: lease %s was taken over by another process (this one's heartbeat lapsed)", l.path)
	}
	if err := l.write(); err != nil {
		return fmt.Errorf("store: lease heartbeat: %w", err)
	}
	return nil
}

// Lost reports whether another process took the lease over.
func (l *Lease) Lost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release stops the heartbeat and removes the lease file (if it still is this lease). Call it
// after the run's record is written, or when the run is given up; it may be called twice.
func (l *Lease) Release() error {
	if l == nil || l.stop == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	l.stop = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.f.Close()
	if !l.mine() {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: releasing lease: %w", err)
	}
	return nil
}

// Leases lists the lease files in the store with their content (unparseable ones are left out).
func (s *Store) Leases() (map[string]LeaseInfo, error) {
	out := map[string]LeaseInfo{}
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".lease") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var li LeaseInfo
		if json.Unmarshal(raw, &li) == nil {
			out[strings.TrimSuffix(d.Name(), ".lease")] = li
		}
		return nil
	})
	return out, err
}

// CleanLeases removes the stale leases in the store (heartbeat older than timeout: left by a
// process that died, e.g. between writing a record and releasing its lease) the way a takeover
// does, so that a live lease is never removed, and the takeovers' leftovers older than timeout.
// It returns how many files it removed.
func (s *Store) CleanLeases(timeout time.Duration) (int, error) {
	removed := 0
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".lease"):
			raw, stale, err := readLease(p, timeout)
			if err == nil && stale && takeOver(p, raw, timeout) == nil {
				removed++
			}
		case strings.HasSuffix(p, ".lease.takeover"):
			clearStaleMarker(p, timeout)
		case strings.Contains(d.Name(), ".lease.stale-") || strings.Contains(d.Name(), ".lease.takeover.stale-"):
			if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > timeout && os.Remove(p) == nil {
				removed++
			}
		}
		return nil
	})
	return removed, err
}
