package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/sgdstability/sgdstab/data"
)

// RunFormat identifies the run-record JSON format written by WriteRunRecord.
const RunFormat = "sgdstab-train-run/1"

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
// object, plus format, layout and data. Non-finite losses are written as null.
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

// resultJSON overrides Result's float fields that may be NaN or Inf (not representable in JSON).
type resultJSON struct {
	resultAlias
	FinalLoss *float64   `json:"final_loss"`
	LossCurve []*float64 `json:"loss_curve"`
}

type resultAlias Result

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func nilToNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes a Result with non-finite losses (diverged runs) as null.
func (r Result) MarshalJSON() ([]byte, error) {
	out := resultJSON{resultAlias: resultAlias(r), FinalLoss: finiteOrNil(r.FinalLoss),
		LossCurve: make([]*float64, len(r.LossCurve))}
	for i, v := range r.LossCurve {
		out.LossCurve[i] = finiteOrNil(v)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a Result; null losses become NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	var in resultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Result(in.resultAlias)
	r.FinalLoss = nilToNaN(in.FinalLoss)
	r.LossCurve = make([]float64, len(in.LossCurve))
	for i, p := range in.LossCurve {
		r.LossCurve[i] = nilToNaN(p)
	}
	return nil
}

// WriteRunRecord writes rec as indented JSON to path atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func WriteRunRecord(path string, rec *RunRecord) error {
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return fmt.Errorf("train: encoding run record: %w", err)
	}
	return writeAtomic(path, append(b, '\n'))
}

func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil { // CreateTemp makes the file private
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: the rename is durable once the directory is synced
		d.Close()
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
