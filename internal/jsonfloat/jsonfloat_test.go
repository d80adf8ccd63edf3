package jsonfloat

import (
	"encoding/json"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := []float64{0, -0.5, 1e-300, 1.7976931348623157e308, 0.1, math.NaN(), math.Inf(1), math.Inf(-1)}
	b, err := json.Marshal(Slice(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := `[0,-0.5,1e-300,1.7976931348623157e+308,0.1,"NaN","+Inf","-Inf"]`; string(b) != want {
		t.Errorf("encoded %s, want %s", b, want)
	}
	var out []Float
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i, x := range Float64s(out) {
		if !(x == in[i] || math.IsNaN(x) && math.IsNaN(in[i])) {
			t.Errorf("element %d: %v, want %v", i, x, in[i])
		}
	}
}

func TestRejects(t *testing.T) {
	for _, s := range []string{`null`, `"nan"`, `"Inf"`, `"1"`, `true`} {
		var f Float
		if err := json.Unmarshal([]byte(s), &f); err == nil {
			t.Errorf("%s accepted as %v", s, f)
		}
	}
	var p *Float
	if err := json.Unmarshal([]byte(`null`), &p); err != nil || p != nil {
		t.Errorf("null into *Float: %v, %v; want nil pointer, no error", p, err)
	}
}

func TestFormat(t *testing.T) {
	for x, want := range map[float64]string{0.1: "0.1", 2: "2", math.Inf(-1): "-Inf", 1e21: "1e+21"} {
		if got := Format(x); got != want {
			t.Errorf("Format(%v) = %q, want %q", x, got, want)
		}
	}
}
