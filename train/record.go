package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// RunFormat identifies the run-record JSON format written by WriteRunRecord.
const RunFormat = "sgdstab-train-run/2"

// ParamsLayout documents Params' JSON layout inside a run record, for tools that read it without
// this code.
const ParamsLayout = "params.w1: h x D row-major (w1[j*D+p] from input p to hidden unit j); params.b1: h; " +
	"params.w2: K x h row-major; params.b2: K; f(x) = w2 relu(w1 x + b1) + b2; " +
	"flat vector order w1, b1, w2, b2; D = 784 (28x28 pixels row by row, values byte/255), K = 4"

// DataInfo identifies the data set a run was trained on.
type DataInfo struct {
	Selection data.Selection `json:"selection"`
	N         int            `json:"n"`
	D         int            `json:"d"`
	K         int            `json:"k"`
	Checksum  string         `json:"checksum"` // data.Dataset.Checksum
}

// RunRecord is the portable record of one run: the Result's fields (config, status, epochs, steps,
// steps_per_epoch, final_loss, loss_curve, train_seconds, params) at the top level of the JSON
// object, plus format, layout and data. Non-finite losses are written as "NaN", "+Inf" or "-Inf".
type RunRecord struct {
	Format string   `json:"format"`
	Layout string   `json:"layout"`
	Data   DataInfo `json:"data"`
	Result
}

// NewRunRecord describes res, trained on ds selected by sel.
func NewRunRecord(ds *data.Dataset, sel data.Selection, res *Result) *RunRecord {
	return &RunRecord{Format: RunFormat, Layout: ParamsLayout,
		Data:   DataInfo{Selection: sel, N: ds.N, D: ds.D, K: ds.K, Checksum: ds.Checksum()},
		Result: *res}
}

// MarshalJSON writes the Result's fields and the record's own at the top level.
func (r RunRecord) MarshalJSON() ([]byte, error) {
	b, err := r.Result.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range map[string]any{"format": r.Format, "layout": r.Layout, "data": r.Data} {
		if m[k], err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *RunRecord) UnmarshalJSON(b []byte) error {
	var extra struct {
		Format string   `json:"format"`
		Layout string   `json:"layout"`
		Data   DataInfo `json:"data"`
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	if err := r.Result.UnmarshalJSON(b); err != nil {
		return err
	}
	r.Format, r.Layout, r.Data = extra.Format, extra.Layout, extra.Data
	return nil
}

// resultJSON overrides Result's float fields that may be NaN or Inf (a diverged run's loss):
// they are written as the strings "NaN", "+Inf", "-Inf" (package jsonfloat).
type resultJSON struct {
	resultAlias
	FinalLoss jsonfloat.Float   `json:"final_loss"`
	LossCurve []jsonfloat.Float `json:"loss_curve"`
}

type resultAlias Result

// MarshalJSON writes a Result; non-finite losses are "NaN", "+Inf" or "-Inf".
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{resultAlias: resultAlias(r), FinalLoss: jsonfloat.Float(r.FinalLoss),
		LossCurve: jsonfloat.Slice(r.LossCurve)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var in resultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Result(in.resultAlias)
	r.FinalLoss = float64(in.FinalLoss)
	r.LossCurve = jsonfloat.Float64s(in.LossCurve)
	return nil
}

// WriteRunRecord writes rec as indented JSON to path atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func WriteRunRecord(path string, rec *RunRecord) error {
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return fmt.Errorf("train: encoding run record: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// ReadRunRecord reads a run record and checks its format and the shapes of its parameters.
func ReadRunRecord(path string) (*RunRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var rec RunRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("train: %s is not a run record: %w", path, err)
	}
	if rec.Format != RunFormat {
		return nil, fmt.Errorf("train: %s has format %q, want %q", path, rec.Format, RunFormat)
	}
	if rec.Data.D < 1 || rec.Data.K < 1 {
		return nil, errors.New("train: " + path + ": run record lacks the data dimensions")
	}
	if err := rec.Params.Check(rec.Data.D, rec.Data.K); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &rec, nil
}
