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
	"github.com/sgdstability/sgdstab/train"
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

// formatFile is the name of the file at the top of a store that holds its format.
const formatFile = "FORMAT"

// oldFormatAdvice ends the message about records of another format.
const oldFormatAdvice = "use a new store directory (or delete the old one)"

func formatLine() string { return fmt.Sprintf("sgdstab store format %d\n", Format) }

// Open returns the store in dir, creating the directory if needed. A store that holds records of
// another format is refused with a message saying what to do (CheckFormat).
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty directory name")
	}
	if err := CheckFormat(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	p := filepath.Join(dir, formatFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(p, []byte(formatLine())); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return &Store{Dir: dir}, nil
}

// CheckFormat reports whether the store in dir can be used by this program: it does not exist,
// holds no records, or its FORMAT file names this program's Format. Stores written before the
// FORMAT file existed (format 1) have records but no FORMAT file.
func CheckFormat(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, formatFile))
	switch {
	case err == nil && string(raw) == formatLine():
		return nil
	case err == nil:
		return fmt.Errorf("store: %s holds records of another format (%q), this program writes format %d: %s",
			dir, strings.TrimSpace(string(raw)), Format, oldFormatAdvice)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("store: %w", err)
	}
	found := ""
	werr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") && !atomicfile.IsTemp(d.Name()) {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if werr != nil {
		return fmt.Errorf("store: %w", werr)
	}
	if found != "" {
		return fmt.Errorf("store: %s holds records of an older format (e.g. %s; format 1, without a FORMAT file), this program writes format %d: %s",
			dir, found, Format, oldFormatAdvice)
	}
	return nil
}

// Path is where the record of key lives.
func (s *Store) Path(key string) string {
	if len(key) < 3 || strings.ContainsAny(key, `/\.`) {
		panic(fmt.Sprintf("store: malformed key %q", key))
	}
	return filepath.Join(s.Dir, key[:2], key+".json")
}

// paramsPath is where the params file of key lives (beside its record).
func (s *Store) paramsPath(key string) string {
	return strings.TrimSuffix(s.Path(key), ".json") + ".npy"
}

// Find returns the record of the run with this spec: ErrNotFound if there is none, *CorruptError
// if its record (or its params file) cannot be trusted.
func (s *Store) Find(spec Spec) (*Record, error) {
	spec.Format = Format
	return s.Get(spec.Key())
}

// Get reads and verifies the record of key (and the checksum of its params file): ErrNotFound if
// there is none, *CorruptError if the file is not a valid record of this key or its params file
// is missing or does not match.
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
	if r.Params != nil {
		if _, err := s.readParams(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readParams reads and checks the params file of a verified record.
func (s *Store) readParams(r *Record) ([]byte, error) {
	p := s.Path(r.Key)
	want := filepath.Base(s.paramsPath(r.Key))
	if r.Params.File != want {
		return nil, &CorruptError{Path: p, Reason: fmt.Sprintf("params file %q, want %q", r.Params.File, want)}
	}
	raw, err := os.ReadFile(s.paramsPath(r.Key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &CorruptError{Path: p, Reason: fmt.Sprintf("params file %s is missing", r.Params.File)}
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if got := sha(raw); got != r.Params.SHA256 {
		return nil, &CorruptError{Path: p, Reason: fmt.Sprintf("params file %s: checksum %.12s... does not match the record's %.12s...",
			r.Params.File, got, r.Params.SHA256)}
	}
	return raw, nil
}

// Params reads the parameters of a record returned by Get or Find (checksum verified).
func (s *Store) Params(r *Record) (train.Params, error) {
	if r.Params == nil {
		return train.Params{}, fmt.Errorf("store: record %.12s... (status %s) has no parameters", r.Key, r.Status)
	}
	raw, err := s.readParams(r)
	if err != nil {
		return train.Params{}, err
	}
	w, err := decodeParams(raw)
	if err != nil {
		return train.Params{}, &CorruptError{Path: s.paramsPath(r.Key), Reason: err.Error()}
	}
	p, err := train.ParamsFromFlat(w, r.Params.Inputs, r.Params.Hidden, r.Params.Outputs)
	if err != nil {
		return train.Params{}, &CorruptError{Path: s.paramsPath(r.Key), Reason: err.Error()}
	}
	return p, nil
}

// Put seals the record (format, key from its spec, checksum) and writes it atomically,
// replacing any earlier record of the same key. With params (the run's final parameters) it first
// writes them atomically to the params file beside the record and names that file and its
// checksum in the record, so that a kill at any moment leaves either no record, or a record whose
// params file is complete (a params file without a record is overwritten when the run is redone).
func (s *Store) Put(r *Record, params *train.Params) error {
	r.setKey()
	p := s.Path(r.Key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	r.Params = nil
	if params != nil {
		d, k := params.Dims()
		if err := params.Check(d, k); err != nil {
			return fmt.Errorf("store: record %.12s...: %w", r.Key, err)
		}
		raw, err := encodeParams(params.Flat())
		if err != nil {
			return fmt.Errorf("store: record %.12s...: %w", r.Key, err)
		}
		pp := s.paramsPath(r.Key)
		if err := atomicfile.WriteFile(pp, raw); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		r.Params = &ParamsFile{File: filepath.Base(pp), SHA256: sha(raw), Hidden: params.Hidden, Inputs: d, Outputs: k}
	}
	b, err := r.seal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, b); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Quarantine moves a corrupt record aside (to <path>.corrupt-<unix nanoseconds>), and its params
// file if there is one, so that the run is redone while the bad files stay available for
// inspection. It returns the record's new path.
func (s *Store) Quarantine(key string) (string, error) {
	p := s.Path(key)
	stamp := time.Now().UnixNano()
	dst := fmt.Sprintf("%s.corrupt-%d", p, stamp)
	if err := os.Rename(p, dst); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	pp := s.paramsPath(key)
	if err := os.Rename(pp, fmt.Sprintf("%s.corrupt-%d", pp, stamp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return dst, fmt.Errorf("store: %w", err)
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
