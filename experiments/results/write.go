package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// File names of a table in its output directory.
const (
	CSVFile   = "table.csv"
	JSONLFile = "table.jsonl"
)

// EncodeCSV returns rows as CSV with a header line of Columns.
func EncodeCSV(rows []Row) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(Columns())
	rec := make([]string, len(columns))
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for j, c := range columns {
			rec[j] = c.text(v)
		}
		w.Write(rec)
	}
	w.Flush() // writes to memory: cannot fail
	return buf.Bytes()
}

// EncodeJSONL returns rows as JSON lines, one object per row with every column as a key, in
// column order.
func EncodeJSONL(rows []Row) []byte {
	var buf bytes.Buffer
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		buf.WriteByte('{')
		for j, c := range columns {
			if j > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(c.name)
			buf.Write(k)
			buf.WriteByte(':')
			buf.Write(c.json(v))
		}
		buf.WriteString("}\n")
	}
	return buf.Bytes()
}

// WriteTable writes dir/table.csv and dir/table.jsonl, each atomically (internal/atomicfile),
// creating dir if needed.
func WriteTable(dir string, rows []Row) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, CSVFile), EncodeCSV(rows)); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, JSONLFile), EncodeJSONL(rows)); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}
