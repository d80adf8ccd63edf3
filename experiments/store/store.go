package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// ErrNotFound is returned by Get for a run that has no record.
var ErrNotFound = errors.New("store: no record")

// CorruptError is a record file that cannot be trusted.
type CorruptError struct {
	Path, Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: corrupt record %s: %s", e.Path, e.Reason)
}

// Store is a directory of run records.
type Store struct {
	Dir string
}

// Open returns the store in dir, creating the directory if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{Dir: dir}, nil
}

// Path is where the record of key lives.
func (s *Store) Path(key string) string {
	if len(key) < 3 || strings.ContainsAny(key, `/\.`) {
		panic(fmt.Sprintf("store: malformed key %q", key))
	}
	return filepath.Join(s.Dir, key[:2], key+".json")
}

// Get reads and verifies the record of key: ErrNotFound if there is none, *CorruptError if the
// file is not a valid record of this key.
func (s *Store) Get(key string) (*Record, error) {
	p := s.Path(key)
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r, reason := verify(raw, key)
	if reason != "" {
		return nil, &CorruptError{Path: p, Reason: reason}
	}
	return r, nil
}

// Put seals the record (format, key from its spec, checksum) and writes it atomically,
// replacing any earlier record of the same key.
func (s *Store) Put(r *Record) error {
	b, err := r.seal()
	if err != nil {
		return err
	}
	p := s.Path(r.Key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := atomicfile.WriteFile(p, b); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Quarantine moves a corrupt record aside (to <path>.corrupt-<unix nanoseconds>) so that the
// run is redone while the bad file stays available for inspection. It returns the new path.
func (s *Store) Quarantine(key string) (string, error) {
	p := s.Path(key)
	dst := fmt.Sprintf("%s.corrupt-%d", p, time.Now().UnixNano())
	if err := os.Rename(p, dst); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return dst, atomicfile.SyncDir(filepath.Dir(p))
}

// CleanTemp removes temporary files (left by a process killed while writing) older than age.
// Younger ones may belong to a process still writing into a shared store, so they stay.
func (s *Store) CleanTemp(age time.Duration) (int, error) {
	removed := 0
	cutoff := time.Now().Add(-age)
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !atomicfile.IsTemp(d.Name()) {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if info.ModTime().Before(cutoff) {
			if os.Remove(p) == nil {
				removed++
			}
		}
		return nil
	})
	return removed, err
}
