// Package atomicfile writes files so that a reader (or a process restarted after a crash) sees
// either the old content or all of the new content, never a part.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TempMarker is part of the name of every temporary file WriteFile creates:
// "." + base + TempMarker + random. IsTemp recognizes such names.
const TempMarker = ".tmp-"

// IsTemp reports whether a file name is one of WriteFile's temporary files (left behind only by a
// process killed while writing).
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, TempMarker)
}

// WriteFile writes data to path atomically: a temporary file in the same directory is written,
// made world-readable (0644), fsynced and renamed over path, and the directory is fsynced so that
// the rename itself survives a crash. On error nothing is left behind and path is unchanged.
func WriteFile(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+TempMarker+"*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil { // CreateTemp makes the file private
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and removals inside it durable. File systems that
// cannot sync a directory (os.ErrInvalid) are accepted.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// CheckDir reports whether files can be written in dir, by creating and removing a temporary
// file there (named like WriteFile's, so that one left by a kill is recognized by IsTemp), so that
// a command refuses a directory it cannot write before it does any work. With create, missing
// directories are made first (as the command would make them anyway); without, a missing dir is
// an error.
func CheckDir(dir string, create bool) error {
	if dir == "" {
		dir = "."
	}
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create directory %s: %w", dir, err)
		}
	}
	info, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("directory %s: %w", dir, err)
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".write-check"+TempMarker+"*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("directory %s: removing the write check %s: %w", dir, name, err)
	}
	return nil
}
