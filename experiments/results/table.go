package results

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// File names of a table in its output directory.
const (
	CSVFile   = "table.csv"
	JSONLFile = "table.jsonl"
)

// kind is how a column's Go type is encoded.
type kind int

const (
	kindString  kind = iota // string; "" is missing
	kindFloat               // float64, required (lr)
	kindInt                 // int, required (batch)
	kindReal                // *jsonfloat.Float; nil is missing
	kindOptInt              // *int; nil is missing
	kindOptUint             // *uint64; nil is missing
)

type column struct {
	name  string
	field int
	kind  kind
}

// columns is the table's layout, read once from Row's fields and json tags.
var columns = func() []column {
	kinds := map[reflect.Type]kind{
		reflect.TypeFor[string](): kindString, reflect.TypeFor[float64](): kindFloat,
		reflect.TypeFor[int](): kindInt, reflect.TypeFor[*jsonfloat.Float](): kindReal,
		reflect.TypeFor[*int](): kindOptInt, reflect.TypeFor[*uint64](): kindOptUint,
	}
	t := reflect.TypeFor[Row]()
	cols := make([]column, t.NumField())
	for i := range cols {
		f := t.Field(i)
		k, known := kinds[f.Type]
		name := f.Tag.Get("json")
		if !known || name == "" || strings.Contains(name, ",") {
			panic(fmt.Sprintf("results: Row.%s: need a plain json tag and a column type, have %q %v", f.Name, name, f.Type))
		}
		cols[i] = column{name: name, field: i, kind: k}
	}
	return cols
}()

// Columns returns the names of the table's columns in order (the CSV header, the JSON keys).
func Columns() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return names
}

// text is the CSV cell of column c of v: "" for a missing value, the shortest decimal that
// reads back exactly for a number, "NaN", "+Inf" or "-Inf" for a non-finite one.
func (c column) text(v reflect.Value) string {
	f := v.Field(c.field)
	switch c.kind {
	case kindString:
		return f.String()
	case kindFloat:
		return jsonfloat.Format(f.Float())
	case kindInt:
		return strconv.FormatInt(f.Int(), 10)
	}
	if f.IsNil() {
		return ""
	}
	switch c.kind {
	case kindReal:
		return jsonfloat.Format(f.Elem().Float())
	case kindOptInt:
		return strconv.FormatInt(f.Elem().Int(), 10)
	default:
		return strconv.FormatUint(f.Elem().Uint(), 10)
	}
}

// json is the JSON value of column c of v: null for a missing value (an empty string
// included), a number, or one of the strings "NaN", "+Inf", "-Inf".
func (c column) json(v reflect.Value) []byte {
	f := v.Field(c.field)
	switch {
	case c.kind == kindString && f.String() == "":
		return []byte("null")
	case c.kind == kindString:
		b, _ := json.Marshal(f.String()) // a string always encodes
		return b
	case c.kind == kindFloat || c.kind == kindReal:
		if c.kind == kindReal {
			if f.IsNil() {
				return []byte("null")
			}
			f = f.Elem()
		}
		b, _ := jsonfloat.Float(f.Float()).MarshalJSON() // never fails
		return b
	}
	t := c.text(v)
	if t == "" {
		return []byte("null")
	}
	return []byte(t)
}

// set stores the cell s (CSV text, or a JSON number without quotes) in column c of v; "" and
// "null" (any case) are missing. Reals accept what strconv.ParseFloat accepts ("NaN", "+Inf",
// "-Inf" included), integers also an integral real such as "512.0" (tables of other tools).
func (c column) set(v reflect.Value, s string) error {
	f := v.Field(c.field)
	if c.kind == kindString {
		f.SetString(s)
		return nil
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "null") {
		if c.kind == kindFloat || c.kind == kindInt {
			return errors.New("missing value")
		}
		f.SetZero()
		return nil
	}
	switch c.kind {
	case kindFloat, kindReal:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		if c.kind == kindFloat {
			f.SetFloat(x)
		} else {
			f.Set(reflect.ValueOf(jsonfloat.Ptr(x)))
		}
	case kindInt, kindOptInt:
		n, err := parseInt(s)
		if err != nil {
			return err
		}
		if c.kind == kindInt {
			f.SetInt(int64(n))
		} else {
			f.Set(reflect.ValueOf(&n))
		}
	case kindOptUint:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid unsigned integer %q", s)
		}
		f.Set(reflect.ValueOf(&n))
	}
	return nil
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil {
		return n, nil
	}
	x, ferr := strconv.ParseFloat(s, 64)
	if ferr == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return int(x), nil
	}
	return 0, fmt.Errorf("invalid integer %q", s)
}

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
		var row Row
		v := reflect.ValueOf(&row).Elem()
		for _, c := range columns {
			i, ok := index[c.name]
			if !ok {
				continue
			}
			if err := c.set(v, rec[i]); err != nil {
				return nil, fmt.Errorf("line %d: column %s: %w", line, c.name, err)
			}
		}
		if err := row.check(); err != nil {
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
		var row Row
		v := reflect.ValueOf(&row).Elem()
		for _, c := range columns {
			raw, ok := obj[c.name]
			if !ok {
				continue
			}
			s := string(raw)
			if c.kind == kindString {
				if s == "null" {
					continue
				}
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, fmt.Errorf("line %d: key %s: not a string: %s", line, c.name, raw)
				}
			} else if strings.HasPrefix(s, `"`) {
				var f jsonfloat.Float // only "NaN", "+Inf", "-Inf" are numbers in quotes
				if err := f.UnmarshalJSON(raw); err != nil {
					return nil, fmt.Errorf("line %d: key %s: %w", line, c.name, err)
				}
				s = jsonfloat.Format(float64(f))
			}
			if err := c.set(v, s); err != nil {
				return nil, fmt.Errorf("line %d: key %s: %w", line, c.name, err)
			}
		}
		if err := row.check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
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
