package store

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// Columns are the table's columns in order (CONTRACTS.md's list, then extras). CSV header =
// JSON keys; a missing value is an empty CSV cell and a JSON null.
//
//	two_over_eta = 2/lr, gd_threshold = 2/sharpness, eta_star = 2/generalized_sharpness,
//	gen_sharpness_lo/hi = the certified bracket of the generalized sharpness.
var Columns = []string{
	"key", "config", "hidden", "init_factor", "lr", "batch", "n", "seed", "init_seed",
	"status", "epochs", "steps", "final_loss", "train_seconds",
	"p", "sharpness", "gd_threshold", "two_over_eta", "generalized_sharpness",
	"gen_sharpness_lo", "gen_sharpness_hi", "eta_star", "bound15", "bound16", "bound25",
	"nonuniformity", "hessian_sharpness", "residual_rel", "analysis_seconds",
	// extras
	"covariance_trace", "expected_loss", "expected_grad_norm2",
	"loss", "sampling", "engine", "warmup_steps", "conv_threshold", "conv_epochs", "max_epochs",
	"data_checksum", "created", "notes",
}

// Row is one table row: column name -> value (float64, int, string, json.Number or nil).
type Row map[string]any

// MakeRow flattens a record into a row of the table of grid config.
func MakeRow(config string, r *Record) (Row, error) {
	row := Row{
		"key": r.Key, "config": config, "n": r.Spec.N, "status": r.Status,
		"epochs": r.Epochs, "steps": r.Steps, "final_loss": float64(r.FinalLoss),
		"train_seconds": r.TrainSeconds,
	}
	train, err := fields(r.Spec.Train)
	if err != nil {
		return nil, fmt.Errorf("store: record %s: training settings: %w", r.Key, err)
	}
	for _, k := range []string{"hidden", "init_factor", "lr", "batch", "seed", "init_seed",
		"loss", "sampling", "engine", "warmup_steps", "conv_threshold", "conv_epochs", "max_epochs"} {
		row[k] = train[k]
	}
	if lr, ok := number(train["lr"]); ok && lr > 0 {
		row["two_over_eta"] = 2 / lr
	}
	if len(r.Analysis) > 0 {
		rep, err := fields(r.Analysis)
		if err != nil {
			return nil, fmt.Errorf("store: record %s: analysis: %w", r.Key, err)
		}
		for _, k := range []string{"p", "sharpness", "gd_threshold", "generalized_sharpness", "eta_star",
			"bound15", "bound16", "bound25", "nonuniformity", "covariance_trace", "expected_loss",
			"expected_grad_norm2"} {
			row[k] = rep[k]
		}
		if row["gd_threshold"] == nil {
			if s, ok := number(rep["sharpness"]); ok && s > 0 {
				row["gd_threshold"] = 2 / s
			}
		}
		if row["eta_star"] == nil {
			if g, ok := number(rep["generalized_sharpness"]); ok && g > 0 {
				row["eta_star"] = 2 / g
			}
		}
		if br, ok := rep["generalized_sharpness_bracket"].([]any); ok && len(br) == 2 {
			row["gen_sharpness_lo"], row["gen_sharpness_hi"] = br[0], br[1]
		}
		row["analysis_seconds"] = r.AnalysisSeconds
	}
	if r.HessianSharpness != nil {
		row["hessian_sharpness"] = float64(*r.HessianSharpness)
	}
	if r.ResidualRel != nil {
		row["residual_rel"] = float64(*r.ResidualRel)
	}
	if r.DataChecksum != "" {
		row["data_checksum"] = r.DataChecksum
	}
	if len(r.Notes) > 0 {
		row["notes"] = strings.Join(r.Notes, "; ")
	}
	if r.Created != "" {
		row["created"] = r.Created
	}
	return row, nil
}

func fields(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// cell is the CSV text of a value: shortest exact decimal for floats, "NaN"/"Inf"/"-Inf" for
// non-finite ones, "" for missing.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonValue is the JSON text of a value; non-finite floats become null.
func jsonValue(v any) []byte {
	if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
		return []byte("null")
	}
	if x, ok := v.(json.Number); ok {
		return []byte(x.String())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// EncodeCSV returns the rows as CSV with a header line of Columns.
func EncodeCSV(rows []Row) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(Columns)
	rec := make([]string, len(Columns))
	for _, r := range rows {
		for i, c := range Columns {
			rec[i] = cell(r[c])
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// EncodeJSONL returns the rows as JSON lines, keys in the order of Columns.
func EncodeJSONL(rows []Row) []byte {
	var buf bytes.Buffer
	for _, r := range rows {
		buf.WriteByte('{')
		for i, c := range Columns {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			buf.Write(k)
			buf.WriteByte(':')
			buf.Write(jsonValue(r[c]))
		}
		buf.WriteString("}\n")
	}
	return buf.Bytes()
}

// WriteTable writes <dir>/table.csv and <dir>/table.jsonl (each atomically) with one row per
// record, in the order given, labelled with the grid name config.
func WriteTable(dir, config string, recs []*Record) error {
	rows := make([]Row, 0, len(recs))
	for _, r := range recs {
		row, err := MakeRow(config, r)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "table.csv"), EncodeCSV(rows)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "table.jsonl"), EncodeJSONL(rows)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
