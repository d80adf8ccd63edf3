package plots

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestReadTableTiny(t *testing.T) {
	rows := tinyRows(t)
	if len(rows) != 12 {
		t.Fatalf("%d rows, want 12", len(rows))
	}
	r := rows[0]
	if r.Key != "k0" || r.Config != "tiny" || r.LR != 0.002 || r.Batch != 1 || r.N != 64 || r.Status != StatusConverged ||
		r.Epochs != 100 || r.Steps != 6400 || r.Sharpness != 291 || r.GenSharpness != 970 || r.Bound25 != 902.1 || r.Line != 2 {
		t.Errorf("row 0 = %+v", r)
	}
	if r.Extra["note"] != "extra" {
		t.Errorf("extra column not kept: %v", r.Extra)
	}
	div := rows[2]
	if div.Converged() || div.Status != "diverged" || !math.IsNaN(div.Sharpness) || !math.IsNaN(div.GenSharpness) {
		t.Errorf("diverged row = %+v", div)
	}
	if got := div.TwoOverLR(); math.Abs(got-2/0.043) > 1e-12 {
		t.Errorf("TwoOverLR = %g", got)
	}
	var missing int
	for _, r := range rows {
		if r.Converged() && math.IsNaN(r.Bound25) {
			missing++
		}
	}
	if missing != 1 {
		t.Errorf("%d converged rows without bound25, want 1", missing)
	}
	// eta*/eta = 2/(lambda_gen eta) from the eta_star column.
	if got, want := r.EtaStarOverEta(), 0.00206186/0.002; math.Abs(got-want) > 1e-12 {
		t.Errorf("EtaStarOverEta = %g, want %g", got, want)
	}
}

// TestReadTableRoundTrip writes a synthetic table in the contract's layout and reads it back.
func TestReadTableRoundTrip(t *testing.T) {
	want := defaultSynth().rows()
	got, err := ReadTable(bytes.NewReader(tableCSV(want)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for i := range want {
		g, w := got[i], want[i]
		if g.LR != w.LR || g.Batch != w.Batch || g.Status != w.Status || g.Epochs != w.Epochs || g.Steps != w.Steps ||
			!same(g.Sharpness, w.Sharpness) || !same(g.GenSharpness, w.GenSharpness) || !same(g.GenLo, w.GenLo) ||
			!same(g.GenHi, w.GenHi) || !same(g.Bound15, w.Bound15) || !same(g.Bound25, w.Bound25) || !same(g.Bound16, w.Bound16) ||
			!same(g.EtaStar, w.EtaStar) || !same(g.P, w.P) || !same(g.FinalLoss, w.FinalLoss) {
			t.Fatalf("row %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func TestReadTableErrors(t *testing.T) {
	cases := []struct{ name, csv, want string }{
		{"empty", "", "no header"},
		{"no lr", "batch,status\n1,converged\n", `"lr" missing`},
		{"no status", "lr,batch\n0.1,1\n", `"status" missing`},
		{"bad number", "lr,batch,status,sharpness\n0.1,1,converged,abc\n", "line 2: column sharpness: invalid number"},
		{"bad count", "lr,batch,status\n0.1,1.5,converged\n", "line 2: column batch: invalid integer"},
		{"zero lr", "lr,batch,status\n0,1,converged\n", "line 2: column lr"},
		{"missing lr", "lr,batch,status\n,1,converged\n", "line 2: column lr"},
		{"zero batch", "lr,batch,status\n0.1,0,converged\n", "line 2: column batch"},
		{"batch > n", "lr,batch,status,n\n0.1,9,converged,8\n", "batch 9 exceeds n = 8"},
		{"short row", "lr,batch,status\n0.1,1\n", "line 2: 2 cells"},
		{"duplicate", "lr,batch,status,lr\n0.1,1,converged,0.1\n", "duplicate column"},
	}
	for _, tc := range cases {
		_, err := ReadTable(strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	// Minimal table: only the required columns, integral reals for counts, blank lines.
	rows, err := ReadTable(strings.NewReader("status,batch,lr\nconverged,512.0,0.01\n\ndiverged,1,0.02\n"))
	if err != nil || len(rows) != 2 || rows[0].Batch != 512 || rows[0].N != -1 || !math.IsNaN(rows[0].Sharpness) {
		t.Errorf("minimal table: %v %+v", err, rows)
	}
	if _, err := ReadTableFile("testdata/does-not-exist.csv"); err == nil {
		t.Error("missing file accepted")
	}
}
