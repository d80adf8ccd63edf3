package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
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
	return WriteFileAtomic(p, b)
}

// Quarantine moves a corrupt record aside (to <path>.corrupt-<unix nanoseconds>) so that the
// run is redone while the bad file stays available for inspection. It returns the new path.
func (s *Store) Quarantine(key string) (string, error) {
	p := s.Path(key)
	dst := fmt.Sprintf("%s.corrupt-%d", p, time.Now().UnixNano())
	if err := os.Rename(p, dst); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return dst, syncDir(filepath.Dir(p))
}

// CleanTemp removes temporary files (left by a process killed while writing) older than age.
// Younger ones may belong to a process still writing into a shared store, so they stay.
func (s *Store) CleanTemp(age time.Duration) (int, error) {
	removed := 0
	cutoff := time.Now().Add(-age)
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isTemp(d.Name()) {
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

const tempMarker = ".tmp-"

func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// WriteFileAtomic writes data to path so that path holds either its old content or all of data,
// whatever happens: a temporary file in the same directory is written and fsynced, renamed over
// path, and the directory is fsynced so the rename itself survives a crash.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("store: writing %s: %w", tmp, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("store: fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("store: fsync directory %s: %w", dir, err)
	}
	return nil
}
