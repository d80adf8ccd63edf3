// Package jsonfloat is the project's one encoding of non-finite numbers in JSON. JSON has no NaN
// or infinity, and results have them (a diverged run's loss, an undefined ratio), so every JSON
// file the project writes spells them as the strings "NaN", "+Inf" and "-Inf"; a missing value
// is null (a nil *Float). CSV cells use the same words.
package jsonfloat

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 that survives JSON when it is not finite.
type Float float64

// Format is the text of x: the shortest decimal that reads back exactly, or NaN, +Inf, -Inf.
func Format(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// MarshalJSON writes a finite value as a JSON number and NaN/Inf as strings.
func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte(`"` + Format(x) + `"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or one of "NaN", "+Inf", "-Inf". null is an error: a missing
// value is a nil *Float, never a silent zero or NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	case "null":
		return fmt.Errorf("jsonfloat: null where a number is required")
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("jsonfloat: %s is not a number, \"NaN\", \"+Inf\" or \"-Inf\"", b)
	}
	*f = Float(x)
	return nil
}

// Ptr returns a pointer to x as a Float (for optional fields).
func Ptr(x float64) *Float { f := Float(x); return &f }

// Slice converts float64s to Floats.
func Slice(xs []float64) []Float {
	out := make([]Float, len(xs))
	for i, x := range xs {
		out[i] = Float(x)
	}
	return out
}

// Float64s converts Floats to float64s.
func Float64s(fs []Float) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = float64(f)
	}
	return out
}
