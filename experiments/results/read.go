package results

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"

	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// ReadFile reads a table from a file: JSON lines if its name ends in .jsonl, CSV otherwise.
func ReadFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	read := ReadCSV
	if strings.HasSuffix(path, ".jsonl") {
		read = ReadJSONL
	}
	rows, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// ReadCSV reads a table in CSV form: a header of column names, one row per run. The columns
// lr, batch and status are required; all others are optional (an absent column or an empty
// cell is a missing value), columns this package does not know are ignored, and blank lines
// are skipped. Every row is checked (lr finite and > 0, 1 <= batch <= n) and completed by
// Row.Derive. Errors name the line and the column.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty table: no header line")
	}
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := index[h]; dup {
			return nil, fmt.Errorf("line 1: duplicate column %q", h)
		}
		index[h] = i
	}
	for _, req := range required {
		if _, ok := index[req]; !ok {
			return nil, fmt.Errorf("line 1: required column %q missing", req)
		}
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("line %d: %d cells, header has %d", line, len(rec), len(header))
		}
		row, err := parse(func(c column) (string, error) {
			if i, ok := index[c.name]; ok {
				return rec[i], nil
			}
			return "", nil
		})
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
}

// ReadJSONL reads a table in JSON-lines form (as EncodeJSONL writes it): one object per line,
// keys = column names, null = missing; the same rules as ReadCSV otherwise.
func ReadJSONL(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	var rows []Row
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		for _, req := range required {
			if _, ok := obj[req]; !ok {
				return nil, fmt.Errorf("line %d: required key %q missing", line, req)
			}
		}
		row, err := parse(func(c column) (string, error) { return jsonCell(c, obj[c.name]) })
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// jsonCell is the text of a JSON value as the CSV cell of column c would have it: "" for
// null or an absent key, the number's text, a string's content; "NaN", "+Inf" and "-Inf" are
// the only strings a numeric column accepts.
func jsonCell(c column, raw json.RawMessage) (string, error) {
	s := string(raw)
	if raw == nil || s == "null" {
		return "", nil
	}
	quoted := strings.HasPrefix(s, `"`)
	switch {
	case c.kind == kindString:
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("not a string: %s", raw)
		}
	case quoted:
		var f jsonfloat.Float
		if err := f.UnmarshalJSON(raw); err != nil {
			return "", err
		}
		s = jsonfloat.Format(float64(f))
	}
	return s, nil
}

// parse builds a row from the cells of one line of a table (cell returns "" for a column
// the table lacks), checks it and fills its derived columns.
func parse(cell func(c column) (string, error)) (Row, error) {
	var row Row
	v := reflect.ValueOf(&row).Elem()
	for _, c := range columns {
		s, err := cell(c)
		if err == nil {
			err = c.set(v, s)
		}
		if err != nil {
			return row, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return row, row.check()
}

// required are the columns every table must have.
var required = []string{"lr", "batch", "status"}

// check validates a row read from a table and fills its derived columns.
func (r *Row) check() error {
	if !(r.LR > 0) || math.IsInf(r.LR, 0) {
		return fmt.Errorf("column lr: need a finite step size > 0, got %s", jsonfloat.Format(r.LR))
	}
	if r.Batch < 1 {
		return fmt.Errorf("column batch: need a batch size >= 1, got %d", r.Batch)
	}
	if r.N != nil && *r.N > 0 && r.Batch > *r.N {
		return fmt.Errorf("batch %d exceeds n = %d", r.Batch, *r.N)
	}
	r.Derive()
	return nil
}
