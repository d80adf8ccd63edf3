package validate

import (
	"encoding/json"
	"math"
	"sort"

	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// RatePoint is one growth-rate measurement at eta = C * eta*.
type RatePoint struct {
	C, Rate, Lo, Hi float64
}

// Bracket is the observed transition in c = eta / eta*.
type Bracket struct {
	// Lo is the largest c whose interval lies below 0 (decay) and Hi the smallest c whose interval
	// lies above 0 (growth); NaN when no such c was tested (a missing end: null in JSON).
	Lo, Hi float64
	// Consistent: every decaying c lies below every growing c (a monotone transition).
	Consistent bool
	// ContainsOne: Consistent and Lo < 1 < Hi (both sides observed).
	ContainsOne bool
}

// LinearBracket finds the transition of the growth rate from the points (any order).
func LinearBracket(points []RatePoint) Bracket {
	ps := append([]RatePoint(nil), points...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].C < ps[j].C })
	b := Bracket{Lo: math.NaN(), Hi: math.NaN()}
	for _, p := range ps {
		if p.Hi < 0 {
			b.Lo = p.C // ascending: ends at the largest decaying c
		}
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Lo > 0 {
			b.Hi = ps[i].C
		}
	}
	b.Consistent = math.IsNaN(b.Lo) || math.IsNaN(b.Hi) || b.Lo < b.Hi
	b.ContainsOne = b.Consistent && b.Lo < 1 && 1 < b.Hi
	return b
}

// EscapePoint is the nonlinear check at eta = C * eta*: Escaped of Runs restarts left the minimum.
type EscapePoint struct {
	C             float64
	Escaped, Runs int
}

// EscapeBracket finds the transition of the escape fraction: Lo is the largest c at and below
// which no restart escaped, Hi the smallest c at and above which a majority of restarts escaped
// (NaN when there is none). ContainsOne: Lo < 1 < Hi. Consistent is always true here (the
// definition is monotone); it reports whether both ends exist.
func EscapeBracket(points []EscapePoint) Bracket {
	ps := append([]EscapePoint(nil), points...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].C < ps[j].C })
	b := Bracket{Lo: math.NaN(), Hi: math.NaN()}
	for _, p := range ps {
		if p.Escaped > 0 {
			break
		}
		b.Lo = p.C
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if 2*ps[i].Escaped <= ps[i].Runs {
			break
		}
		b.Hi = ps[i].C
	}
	b.Consistent = !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi)
	b.ContainsOne = b.Consistent && b.Lo < 1 && 1 < b.Hi
	return b
}

// bracketJSON is the JSON form of a Bracket: a missing end is null, other values are
// internal/jsonfloat numbers (an infinite c would be "+Inf").
type bracketJSON struct {
	Lo          *jsonfloat.Float `json:"lo"`
	Hi          *jsonfloat.Float `json:"hi"`
	Consistent  bool             `json:"consistent"`
	ContainsOne bool             `json:"contains_one"`
}

// MarshalJSON writes a missing end (NaN in memory) as null.
func (b Bracket) MarshalJSON() ([]byte, error) {
	f := func(x float64) *jsonfloat.Float {
		if math.IsNaN(x) {
			return nil
		}
		return jsonfloat.Ptr(x)
	}
	return json.Marshal(bracketJSON{f(b.Lo), f(b.Hi), b.Consistent, b.ContainsOne})
}

// UnmarshalJSON reads what MarshalJSON writes (null: a missing end, NaN in memory).
func (b *Bracket) UnmarshalJSON(data []byte) error {
	var j bracketJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	f := func(x *jsonfloat.Float) float64 {
		if x == nil {
			return math.NaN()
		}
		return float64(*x)
	}
	*b = Bracket{Lo: f(j.Lo), Hi: f(j.Hi), Consistent: j.Consistent, ContainsOne: j.ContainsOne}
	return nil
}
