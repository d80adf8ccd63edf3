package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
	"github.com/sgdstability/sgdstab/train"
)

// Format is the version of the record layout and of the key's definition. Changing what a record
// means (or what the sweep computes for it) requires a new Format, which changes every key.
// Format 2: the analysis settings in the spec are resolved (defaults filled in), and converged
// runs keep their parameters in a params file beside the record. Format 3: the analysis reports
// the shape of the top eigenmatrix of pinv(C) D, and bound (25) has one more start (the top
// eigenvector of that eigenmatrix), which can raise (25) and with it the bracket's lower end.
// Format 4: the fused engine's row kernels (the forward product and the weight gradient) fuse
// every multiply-add (one rounding; train/kernels.go), so every trajectory differs from format
// 3's in the last bits, and a run at the edge of stability can end elsewhere.
const Format = 4

// Spec is everything that determines a run's result. Train and Analysis are the JSON encodings
// of the resolved train.Config and of the resolved analysis settings (every default filled in,
// JSON names only, so that writing a default explicitly or leaving it out gives the same spec);
// the store does not interpret them beyond reading named fields for the table.
type Spec struct {
	Format   int             `json:"format"`
	Data     data.Selection  `json:"data"`
	N        int             `json:"n"`
	Train    json.RawMessage `json:"train"`
	Analysis json.RawMessage `json:"analysis"`
}

// NewSpec builds a spec from a data selection (with defaults filled in), its size n, and the
// training and analysis settings (encoded with encoding/json).
func NewSpec(sel data.Selection, n int, train, analysis any) (Spec, error) {
	t, err := json.Marshal(train)
	if err != nil {
		return Spec{}, fmt.Errorf("store: encoding training settings: %w", err)
	}
	a, err := json.Marshal(analysis)
	if err != nil {
		return Spec{}, fmt.Errorf("store: encoding analysis settings: %w", err)
	}
	sel.Dir = ""
	return Spec{Format: Format, Data: sel, N: n, Train: t, Analysis: a}, nil
}

// Key is the run's key: the hex SHA-256 of the spec's JSON encoding.
func (s Spec) Key() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("store: spec does not encode: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Record is the stored result of one run. Status is "converged", "diverged" or "epoch_limit"
// (train.Status); only converged runs carry analysis results.
type Record struct {
	Format int    `json:"format"`
	Key    string `json:"key"`
	Spec   Spec   `json:"spec"`

	Status       string            `json:"status"`
	Epochs       int               `json:"epochs"`
	Steps        int               `json:"steps"`
	FinalLoss    jsonfloat.Float   `json:"final_loss"`
	LossCurve    []jsonfloat.Float `json:"loss_curve,omitempty"`
	TrainSeconds float64           `json:"train_seconds"`
	// SharpnessPath is the sharpness recorded during training (training.sharpness_every > 0).
	SharpnessPath *train.SharpnessPath `json:"sharpness_path,omitempty"`

	// Analysis is the analysis.Report of the converged minimum (JSON keys p, sharpness,
	// gd_threshold, generalized_sharpness, ...).
	Analysis         json.RawMessage  `json:"analysis,omitempty"`
	HessianSharpness *jsonfloat.Float `json:"hessian_sharpness,omitempty"`
	ResidualRel      *jsonfloat.Float `json:"residual_rel,omitempty"`
	AnalysisSeconds  float64          `json:"analysis_seconds,omitempty"`
	// StageSeconds times the analysis' stages (curvature, generalized_sharpness, bound25, ...).
	StageSeconds map[string]float64 `json:"stage_seconds,omitempty"`

	// Notes are remarks of the sweep about this run (e.g. a quantity that does not exist here).
	Notes []string `json:"notes,omitempty"`

	// Params names the file beside the record that holds the final parameters (converged runs).
	Params *ParamsFile `json:"params,omitempty"`

	DataChecksum string `json:"data_checksum,omitempty"`
	Created      string `json:"created,omitempty"` // RFC 3339
	Host         string `json:"host,omitempty"`
	Backend      string `json:"backend,omitempty"`

	// Checksum is the hex SHA-256 of the record's JSON encoding with Checksum empty.
	Checksum string `json:"checksum"`
}

// ParamsFile describes a run's parameter file: a NumPy .npy file (version 1.0, little-endian
// float64, shape (d,)) holding the flat vector w = (W1, b1, W2, b2) of an Inputs -> Hidden ->
// Outputs network in the layout of train.ParamsLayout, d = Hidden*Inputs + Hidden +
// Outputs*Hidden + Outputs. File is its name in the record's directory and SHA256 the hex SHA-256
// of its bytes; a file that is missing or does not match makes the record corrupt.
type ParamsFile struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Hidden  int    `json:"hidden"`
	Inputs  int    `json:"inputs"`
	Outputs int    `json:"outputs"`
}

// seal sets Format, Key and Checksum and returns the encoded record.
func (r *Record) seal() ([]byte, error) {
	r.setKey()
	r.Checksum = ""
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("store: encoding record %s: %w", r.Key, err)
	}
	sum := sha256.Sum256(b)
	r.Checksum = hex.EncodeToString(sum[:])
	b, err = json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// setKey sets the record's format and its key (from its spec).
func (r *Record) setKey() {
	r.Format = Format
	r.Spec.Format = Format
	r.Key = r.Spec.Key()
}

// verify decodes a record and checks its format, key and checksum; the reason is "" when fine.
func verify(raw []byte, wantKey string) (*Record, string) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Sprintf("not a valid record: %v", err)
	}
	if dec.More() {
		return nil, "trailing data after the record"
	}
	if r.Format != Format || r.Spec.Format != Format {
		return nil, fmt.Sprintf("record format %d, this program writes %d: %s", r.Format, Format, oldFormatAdvice)
	}
	if r.Key != wantKey {
		return nil, fmt.Sprintf("record key %.12s... does not match its file name %.12s...", r.Key, wantKey)
	}
	if k := r.Spec.Key(); k != r.Key {
		return nil, fmt.Sprintf("record key %.12s... does not match the hash of its spec %.12s...", r.Key, k)
	}
	got := r.Checksum
	r.Checksum = ""
	b, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Sprintf("record does not re-encode: %v", err)
	}
	sum := sha256.Sum256(b)
	if want := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Sprintf("checksum %.12s... does not match the content %.12s...", got, want)
	}
	r.Checksum = got
	return &r, ""
}
