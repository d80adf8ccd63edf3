package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// PathsFile is the file name, beside the table, of the sharpness paths of a grid's runs.
const PathsFile = "sharpness_paths.jsonl"

// Path is the sharpness recorded during one run's training (training.sharpness_every): one JSON
// line of PathsFile. At checkpoint j, after epoch Epochs[j] (0: the initial point), Sharpness[j]
// is the Gauss-Newton lambda_max (a warm-started Lanczos estimate with relative Ritz residual
// Residual[j]) and StepSize[j] the step size eta_t in force (below LR during the warm-up), so
// that 2/eta_t can be drawn beside the sharpness (THEORY.md Thm 1). Key, Config, LR, Batch, Seed
// and Status are the run's, as in its table row. Non-finite values are "NaN", "+Inf", "-Inf".
type Path struct {
	Key       string    `json:"key"`
	Config    string    `json:"config,omitempty"`
	LR        float64   `json:"lr"`
	Batch     int       `json:"batch"`
	Seed      uint64    `json:"seed"`
	Status    string    `json:"status"`
	Epochs    []int     `json:"epochs"`
	Sharpness []float64 `json:"sharpness"`
	StepSize  []float64 `json:"step_size"`
	Residual  []float64 `json:"residual"`
}

// pathJSON is Path's JSON form: the float series as jsonfloat values (the outer fields shadow
// the alias's own of the same names).
type pathJSON struct {
	pathAlias
	Sharpness []jsonfloat.Float `json:"sharpness"`
	StepSize  []jsonfloat.Float `json:"step_size"`
	Residual  []jsonfloat.Float `json:"residual"`
}

type pathAlias Path

// check validates a path: a step size lr > 0, a batch size >= 1, at least one checkpoint,
// series of one length, epochs >= 0 and increasing.
func (p *Path) check() error {
	switch {
	case !(p.LR > 0) || math.IsInf(p.LR, 0):
		return fmt.Errorf("lr: need a finite step size > 0, got %s", jsonfloat.Format(p.LR))
	case p.Batch < 1:
		return fmt.Errorf("batch: need a batch size >= 1, got %d", p.Batch)
	case len(p.Epochs) == 0:
		return errors.New("no checkpoints")
	case len(p.Sharpness) != len(p.Epochs) || len(p.StepSize) != len(p.Epochs) || len(p.Residual) != len(p.Epochs):
		return fmt.Errorf("series of unequal lengths: %d epochs, %d sharpness, %d step_size, %d residual",
			len(p.Epochs), len(p.Sharpness), len(p.StepSize), len(p.Residual))
	}
	for j, e := range p.Epochs {
		if e < 0 || (j > 0 && e <= p.Epochs[j-1]) {
			return fmt.Errorf("epochs: need increasing epochs >= 0, got %v", p.Epochs)
		}
	}
	return nil
}

// EncodePaths returns paths as JSON lines, one object per path. Paths are checked first.
func EncodePaths(paths []Path) ([]byte, error) {
	var buf bytes.Buffer
	for i := range paths {
		p := &paths[i]
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("results: path of run %.12s: %w", p.Key, err)
		}
		b, err := json.Marshal(pathJSON{pathAlias: pathAlias(*p),
			Sharpness: jsonfloat.Slice(p.Sharpness), StepSize: jsonfloat.Slice(p.StepSize), Residual: jsonfloat.Slice(p.Residual)})
		if err != nil {
			return nil, fmt.Errorf("results: path of run %.12s: %w", p.Key, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// ReadPaths reads JSON lines as EncodePaths writes them; blank lines are skipped, unknown keys
// ignored, and every path is checked. Errors name the line.
func ReadPaths(r io.Reader) ([]Path, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<26)
	var paths []Path
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var in pathJSON
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		p := Path(in.pathAlias)
		p.Sharpness, p.StepSize, p.Residual = jsonfloat.Float64s(in.Sharpness), jsonfloat.Float64s(in.StepSize), jsonfloat.Float64s(in.Residual)
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		paths = append(paths, p)
	}
	return paths, sc.Err()
}

// ReadPathsFile reads a paths file (ReadPaths).
func ReadPathsFile(path string) ([]Path, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	paths, err := ReadPaths(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return paths, nil
}

// WritePaths writes dir/PathsFile atomically (internal/atomicfile) when there are paths, and
// removes a stale one when there are none, so that the file always belongs to the table beside it.
func WritePaths(dir string, paths []Path) error {
	file := filepath.Join(dir, PathsFile)
	if len(paths) == 0 {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("results: %w", err)
		}
		return nil
	}
	b, err := EncodePaths(paths)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := atomicfile.WriteFile(file, b); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}
