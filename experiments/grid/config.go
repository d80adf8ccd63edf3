package grid

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/train"
)

// Config is one grid file. Every field is documented in experiments/README.md; the zero value of
// a model or training field means "the train package's default" (resolved by TrainConfig through
// train.Config.WithDefaults, so that a record always holds the values actually used).
type Config struct {
	// Name labels the grid in tables (column "config"). Default: the file name without extension.
	Name string `yaml:"name"`
	// Output is the directory for table.csv, table.jsonl, figures and the report.
	// Default: results/<name>. Relative paths are relative to the working directory.
	Output string `yaml:"output"`
	// Store is the directory of run records, shared by grids (records are keyed by content).
	// Default: results/store.
	Store string `yaml:"store"`
	// Data selects the MNIST subset (see data.Selection). Default: digits 0-3, 128 each.
	Data data.Selection `yaml:"data"`
	// Model fixes the network and its initial point.
	Model train.Model `yaml:"model"`
	// Training fixes the SGD procedure apart from the step size, batch size and seed (its
	// max_epochs is the runs' epoch limit unless their block has its own).
	Training train.Procedure `yaml:"training"`
	// Grid lists blocks of learning rates x batch sizes; the runs are their union.
	Grid []Block `yaml:"grid"`
	// Seeds are the SGD sampling seeds; every (lr, batch) pair runs once per seed. Default: [1].
	Seeds []uint64 `yaml:"seeds"`
	// Analysis says what is computed at each converged minimum.
	Analysis Analysis `yaml:"analysis"`
	// Workers is the number of runs trained at once. Default: 2. The -workers flag overrides it.
	Workers int `yaml:"workers"`

	// File is the path the config was read from (empty for configs built in code).
	File string `yaml:"-"`
}

// Block is a product of learning rates and batch sizes.
type Block struct {
	// Name labels the block (for people; not part of any run's identity).
	Name  string    `yaml:"name"`
	LR    []float64 `yaml:"lr"`
	Batch []Batch   `yaml:"batch"`
	// MaxEpochs, if positive, is the epoch limit of this block's runs in place of
	// training.max_epochs (e.g. full-batch GD, which needs far more epochs than SGD).
	MaxEpochs int `yaml:"max_epochs"`
	// Seeds, if given, are this block's SGD seeds in place of the top-level seeds (e.g. several
	// seeds for the small batches only).
	Seeds []uint64 `yaml:"seeds"`
	// SharpnessEvery, if given, is this block's training.sharpness_every (0: no sharpness path;
	// e.g. off for full-batch GD, whose runs are 10-100x longer than SGD's).
	SharpnessEvery *int `yaml:"sharpness_every"`
}

// Analysis says what is computed at each converged minimum.
type Analysis struct {
	// Covariance asks for the limit covariance quantities at eta = lr (analysis.Options.Eta).
	// Default: true.
	Covariance *bool `yaml:"covariance"`
	// HessianSharpness asks for the exact Hessian's top eigenvalue (Lanczos) besides the
	// Gauss-Newton sharpness. Default: true.
	HessianSharpness *bool `yaml:"hessian_sharpness"`
	// Options are further analysis.Options fields by their JSON names (checked by the sweep).
	Options map[string]any `yaml:"options"`
}

// CovarianceOn reports whether the covariance limit is computed (default true).
func (a Analysis) CovarianceOn() bool { return a.Covariance == nil || *a.Covariance }

// HessianSharpnessOn reports whether the exact Hessian sharpness is computed (default true).
func (a Analysis) HessianSharpnessOn() bool { return a.HessianSharpness == nil || *a.HessianSharpness }

// Batch is a batch size in a grid file: a positive integer or the string "n" (full batch).
type Batch int

// FullBatch is the batch size written "n": the number of training samples. It is an internal
// marker: a file that writes the integer -1 is rejected (only the word n means the full batch).
const FullBatch Batch = -1

// UnmarshalYAML accepts a positive integer or "n".
func (b *Batch) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode && node.Value == "n" {
		*b = FullBatch
		return nil
	}
	var v int
	if err := node.Decode(&v); err != nil {
		return fmt.Errorf("line %d: batch size %q is neither an integer nor \"n\"", node.Line, node.Value)
	}
	if v < 1 {
		return fmt.Errorf("line %d: %s", node.Line, batchOutside(v))
	}
	*b = Batch(v)
	return nil
}

// batchOutside is the reason a batch size below 1 is rejected.
func batchOutside(v int) string {
	return fmt.Sprintf("batch size %d outside 1..n (write n for the full batch)", v)
}

// MarshalYAML writes FullBatch as "n".
func (b Batch) MarshalYAML() (any, error) {
	if b == FullBatch {
		return "n", nil
	}
	return int(b), nil
}

// Resolve returns the batch size for a data set of n samples.
func (b Batch) Resolve(n int) int {
	if b == FullBatch {
		return n
	}
	return int(b)
}

// Error is a problem with a grid file: the file, the key (dotted path, e.g. "grid[1].lr[0]")
// and the reason.
type Error struct {
	File, Key, Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Load reads and validates a grid file.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grid: %w", err)
	}
	cfg, err := Parse(raw, path)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse reads and validates a grid from YAML text; file names the source in errors and gives the
// default name.
func Parse(raw []byte, file string) (*Config, error) {
	fail := func(key, format string, args ...any) error {
		return &Error{File: file, Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fail("", "%v", err)
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null" {
		return nil, fail("", "empty grid file")
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fail("", "line %d: the file must be a mapping of keys (name:, data:, model:, ...)", doc.Line)
	}
	lines := map[int]string{}
	if err := checkKeys(doc, typeOfConfig, "", lines); err != nil {
		err.File = file
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, typeError(file, err, lines)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fail("", "more than one YAML document in the file")
	}
	cfg.File = file
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// typeError turns yaml.v3's "line N: cannot unmarshal ..." into an Error naming the key at line N.
func typeError(file string, err error, lines map[int]string) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		var line int
		if _, serr := fmt.Sscanf(msg, "line %d:", &line); serr == nil {
			if key, ok := lines[line]; ok {
				return &Error{File: file, Key: key, Reason: msg}
			}
		}
		return &Error{File: file, Reason: msg}
	}
	return &Error{File: file, Reason: err.Error()}
}

// fill sets defaults and validates; it is idempotent.
func (c *Config) fill() error {
	fail := func(key, format string, args ...any) error {
		return &Error{File: c.File, Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if c.Name == "" {
		base := filepath.Base(c.File)
		c.Name = strings.TrimSuffix(base, filepath.Ext(base))
		if c.Name == "" || c.Name == "." {
			c.Name = "grid"
		}
	}
	if c.Output == "" {
		c.Output = filepath.Join("results", c.Name)
	}
	if c.Store == "" {
		c.Store = filepath.Join("results", "store")
	}
	def := data.DefaultSelection()
	if c.Data.Classes == nil {
		c.Data.Classes = def.Classes
	}
	if c.Data.PerClass == 0 {
		c.Data.PerClass = def.PerClass
	}
	if err := c.Data.Validate(); err != nil {
		return fail("data", "%v", err)
	}
	n := c.N()

	t := c.Training
	if t.MaxEpochs > 0 && t.ConvEpochs > t.MaxEpochs {
		// train accepts such a run (it ends at its epoch limit); in a grid it is a mistake
		return fail("training.conv_epochs", "%d consecutive epochs can never happen within max_epochs = %d", t.ConvEpochs, t.MaxEpochs)
	}

	if len(c.Grid) == 0 {
		return fail("grid", "no blocks: the grid is empty (want at least one {lr: [...], batch: [...]})")
	}
	for i, b := range c.Grid {
		key := fmt.Sprintf("grid[%d]", i)
		if len(b.LR) == 0 {
			return fail(key+".lr", "empty learning-rate list")
		}
		if len(b.Batch) == 0 {
			return fail(key+".batch", "empty batch-size list")
		}
		seenLR := map[float64]bool{}
		for j, lr := range b.LR {
			k := fmt.Sprintf("%s.lr[%d]", key, j)
			if bad(lr) || lr <= 0 {
				return fail(k, "learning rate %v, want a finite number > 0", lr)
			}
			if seenLR[lr] {
				return fail(k, "learning rate %v listed twice", lr)
			}
			seenLR[lr] = true
		}
		if b.MaxEpochs < 0 {
			return fail(key+".max_epochs", "%d, want >= 1 (or 0 for training.max_epochs)", b.MaxEpochs)
		}
		if b.MaxEpochs > 0 && t.ConvEpochs > b.MaxEpochs {
			return fail(key+".max_epochs", "%d: training.conv_epochs = %d consecutive epochs can never happen within it", b.MaxEpochs, t.ConvEpochs)
		}
		if b.SharpnessEvery != nil && *b.SharpnessEvery < 0 {
			return fail(key+".sharpness_every", "%d, want an interval in epochs >= 1 (0: off)", *b.SharpnessEvery)
		}
		if err := checkSeeds(fail, key+".seeds", b.Seeds, false); err != nil {
			return err
		}
		seenB := map[int]bool{}
		for j, bs := range b.Batch {
			k := fmt.Sprintf("%s.batch[%d]", key, j)
			if bs != FullBatch && (bs < 1 || int(bs) > n) {
				return fail(k, "batch size %d outside 1..n = %d", bs, n)
			}
			r := bs.Resolve(n)
			if seenB[r] {
				return fail(k, "batch size %d listed twice (\"n\" is %d here)", r, n)
			}
			seenB[r] = true
		}
	}
	if c.Seeds == nil {
		c.Seeds = []uint64{1}
	}
	if err := checkSeeds(fail, "seeds", c.Seeds, true); err != nil {
		return err
	}
	runs, err := c.expand()
	if err != nil {
		return err
	}
	if err := c.TrainConfig(runs[0]).Validate(n); err != nil {
		var fe *train.FieldError
		if errors.As(err, &fe) {
			section := "training."
			if _, ok := yamlFields(typeOfModel)[fe.Field]; ok {
				section = "model."
			}
			return fail(section+fe.Field, "%s", fe.Reason)
		}
		return fail("model/training", "%v", err)
	}
	if c.Workers < 0 {
		return fail("workers", "%d, want >= 1 (or 0 for the default 2)", c.Workers)
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	return nil
}

// TrainConfig is run r's training configuration: the grid's model and training sections with the
// run's step size, batch size, seed and epoch limit, train's defaults filled in.
func (c *Config) TrainConfig(r Run) train.Config {
	p := c.Training
	p.MaxEpochs = r.MaxEpochs
	p.SharpnessEvery = r.SharpnessEvery
	return train.Config{Model: c.Model, LR: r.LR, Batch: r.Batch, Seed: r.Seed, Procedure: p}.WithDefaults()
}

// checkSeeds rejects a repeated seed and, when required (the top-level list), an empty list;
// key names the list in the error made by fail.
func checkSeeds(fail func(key, format string, args ...any) error, key string, seeds []uint64, required bool) error {
	if seeds == nil && !required {
		return nil
	}
	if len(seeds) == 0 {
		return fail(key, "empty seed list")
	}
	seen := map[uint64]bool{}
	for i, s := range seeds {
		if seen[s] {
			return fail(fmt.Sprintf("%s[%d]", key, i), "seed %d listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

var typeOfModel = reflect.TypeFor[train.Model]()

func bad(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

// N is the number of training samples the data selection gives.
func (c *Config) N() int { return len(c.Data.Classes) * c.Data.PerClass }
