package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/sgdstability/sgdstab/internal/jsonfloat"
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
