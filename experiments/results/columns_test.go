package results

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/internal/jsonfloat"
)

// legacyColumns are the columns of the table before analysis_status and nonuniformity_status
// were added. Other tools read these by name and position: they stay, in this order, first.
var legacyColumns = []string{
	"key", "config", "hidden", "init_factor", "lr", "batch", "n", "seed", "init_seed",
	"status", "epochs", "steps", "final_loss", "train_seconds",
	"p", "sharpness", "gd_threshold", "two_over_eta", "generalized_sharpness",
	"gen_sharpness_lo", "gen_sharpness_hi", "eta_star", "bound15", "bound16", "bound25",
	"nonuniformity", "hessian_sharpness", "residual_rel", "analysis_seconds",
	"covariance_trace", "expected_loss", "expected_grad_norm2",
	"loss", "sampling", "engine", "warmup_steps", "conv_threshold", "conv_epochs", "max_epochs",
	"data_checksum", "created", "notes",
}

func TestColumnsKeepLegacyLayout(t *testing.T) {
	cols := Columns()
	if !slices.Equal(cols[:len(legacyColumns)], legacyColumns) {
		t.Errorf("columns %v\ndo not start with the legacy layout %v", cols, legacyColumns)
	}
	if got := cols[len(legacyColumns):]; !slices.Equal(got, []string{"analysis_status", "nonuniformity_status",
		"top_eigenmatrix_effective_rank", "top_eigenmatrix_top_share", "top_eigenmatrix_min_eig_rel", "bound25_over_gen"}) {
		t.Errorf("added columns %v", got)
	}
}

// filled returns a row with a distinct value in every column (reals: i + 0.25 for column i,
// except the values in special), found by reflection so that a new column is covered too.
func filled(t *testing.T, special map[string]float64) Row {
	t.Helper()
	var r Row
	v := reflect.ValueOf(&r).Elem()
	for i, c := range columns {
		f := v.Field(c.field)
		x := float64(i) + 0.25
		if s, ok := special[c.name]; ok {
			x = s
		}
		switch c.kind {
		case kindString:
			f.SetString("s," + c.name + "\"q\"") // a comma and quotes: CSV must quote them
		case kindFloat:
			f.SetFloat(x)
		case kindInt:
			f.SetInt(int64(i + 1))
		case kindReal:
			f.Set(reflect.ValueOf(jsonfloat.Ptr(x)))
		case kindOptInt:
			n := -i
			f.Set(reflect.ValueOf(&n))
		case kindOptUint:
			n := uint64(1)<<63 + uint64(i)
			f.Set(reflect.ValueOf(&n))
		default:
			t.Fatalf("column %s: kind %d not covered", c.name, c.kind)
		}
	}
	r.Batch, r.N = 3, nil // valid for the reader's checks
	return r
}

// same compares rows field by field, NaN equal to NaN and nil only to nil.
func same(t *testing.T, what string, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := reflect.ValueOf(&got[i]).Elem(), reflect.ValueOf(&want[i]).Elem()
		for _, c := range columns {
			if a, b := c.text(g), c.text(w); a != b {
				t.Errorf("%s: row %d column %s: %q, want %q", what, i, c.name, a, b)
			}
			gf, wf := g.Field(c.field), w.Field(c.field)
			if gf.Kind() == reflect.Pointer && gf.IsNil() != wf.IsNil() {
				t.Errorf("%s: row %d column %s: nil %v, want %v", what, i, c.name, gf.IsNil(), wf.IsNil())
			}
			if c.kind == kindReal && !gf.IsNil() {
				x, y := gf.Elem().Float(), wf.Elem().Float()
				if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
					t.Errorf("%s: row %d column %s: %v, want %v (bits differ)", what, i, c.name, x, y)
				}
			}
		}
	}
}

// TestRoundTrip writes rows with every column set, with non-finite values, with missing values
// and with awkward reals (shortest decimals, subnormals, 0.1+0.2) to CSV and JSON lines and
// reads them back bit for bit.
func TestRoundTrip(t *testing.T) {
	full := filled(t, map[string]float64{"sharpness": math.NaN(), "bound15": math.Inf(1), "bound16": math.Inf(-1),
		"final_loss": 0.1 + 0.2, "p": 5e-324, "nonuniformity": math.Copysign(0, -1), "bound25": 1.7976931348623157e308, "lr": 1e-6})
	var empty Row // every optional column missing
	empty.LR, empty.Batch, empty.Status = 0.5, 1, StatusDiverged
	empty.Derive()
	rows := []Row{full, empty}
	for name, read := range map[string]func([]byte) ([]Row, error){
		"csv":   func(b []byte) ([]Row, error) { return ReadCSV(bytes.NewReader(b)) },
		"jsonl": func(b []byte) ([]Row, error) { return ReadJSONL(bytes.NewReader(b)) },
	} {
		enc := EncodeCSV(rows)
		if name == "jsonl" {
			enc = EncodeJSONL(rows)
		}
		got, err := read(enc)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, enc)
		}
		same(t, name, got, rows)
	}
	if two := Value(empty.TwoOverEta); two != 4 {
		t.Errorf("two_over_eta of the empty row = %v, want 4", two)
	}
}

// TestEncodings pins the text of the two encodings: the words for non-finite numbers, empty
// cells and nulls for missing values, and the key order.
func TestEncodings(t *testing.T) {
	n := 64
	r := Row{Key: "k", LR: 0.01, Batch: 8, N: &n, Status: StatusConverged, FinalLoss: jsonfloat.Ptr(math.NaN()),
		Sharpness: jsonfloat.Ptr(math.Inf(1)), Bound15: jsonfloat.Ptr(math.Inf(-1)), P: jsonfloat.Ptr(1e-7),
		AnalysisStatus: AnalysisIterationLimit}
	csvText := string(EncodeCSV([]Row{r}))
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	if len(lines) != 2 || lines[0] != strings.Join(Columns(), ",") {
		t.Fatalf("csv:\n%s", csvText)
	}
	if want := "k,,,,0.01,8,64,,,converged,,,NaN,,1e-07,+Inf,,,,,,,-Inf,"; !strings.HasPrefix(lines[1], want) {
		t.Errorf("csv row %q\nwant prefix %q", lines[1], want)
	}
	if !strings.HasSuffix(lines[1], ",iteration_limit,,,,,") {
		t.Errorf("csv row %q does not end with the analysis status and four empty cells", lines[1])
	}
	js := string(EncodeJSONL([]Row{r}))
	for _, want := range []string{`{"key":"k","config":null,"hidden":null,"init_factor":null,"lr":0.01,"batch":8,"n":64,`,
		`"final_loss":"NaN"`, `"sharpness":"+Inf"`, `"bound15":"-Inf"`, `"p":1e-07`, `"analysis_status":"iteration_limit","nonuniformity_status":null,`, `"bound25_over_gen":null}`} {
		if !strings.Contains(js, want) {
			t.Errorf("jsonl %s\nlacks %s", js, want)
		}
	}
}

func TestDerive(t *testing.T) {
	r := Row{LR: 0.04, Sharpness: jsonfloat.Ptr(8), GenSharpness: jsonfloat.Ptr(40)}
	r.Derive()
	if Value(r.TwoOverEta) != 50 || Value(r.GDThreshold) != 0.25 || Value(r.EtaStar) != 0.05 {
		t.Errorf("derived 2/eta %v, 2/sharpness %v, 2/lambda_gen %v; want 50, 0.25, 0.05",
			Value(r.TwoOverEta), Value(r.GDThreshold), Value(r.EtaStar))
	}
	if r.SharpnessRatio() != 8.0/50 || r.GenRatio() != 40.0/50 || r.EtaStarOverEta() != 0.05/0.04 {
		t.Errorf("ratios %v %v %v", r.SharpnessRatio(), r.GenRatio(), r.EtaStarOverEta())
	}
	// The ratios do not need Derive.
	raw := Row{LR: 0.04, Sharpness: jsonfloat.Ptr(8), GenSharpness: jsonfloat.Ptr(40)}
	if raw.TwoOverLR() != 50 || raw.SharpnessRatio() != r.SharpnessRatio() || raw.GenRatio() != r.GenRatio() {
		t.Errorf("ratios without Derive: %v %v %v", raw.TwoOverLR(), raw.SharpnessRatio(), raw.GenRatio())
	}
	// Present values are kept; non-positive or non-finite sources give nothing.
	kept := Row{LR: 0.04, GDThreshold: jsonfloat.Ptr(7), Sharpness: jsonfloat.Ptr(8), GenSharpness: jsonfloat.Ptr(0)}
	kept.Derive()
	if Value(kept.GDThreshold) != 7 || kept.EtaStar != nil {
		t.Errorf("kept: gd_threshold %v, eta_star %v", Value(kept.GDThreshold), kept.EtaStar)
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), -1} {
		r := Row{LR: 1, Sharpness: jsonfloat.Ptr(x)}
		r.Derive()
		if r.GDThreshold != nil {
			t.Errorf("sharpness %v gave gd_threshold %v", x, Value(r.GDThreshold))
		}
	}
	if kept.GenRatio() != 0 {
		t.Errorf("GenRatio with lambda_gen 0: %v", kept.GenRatio())
	}
	if !math.IsNaN((&Row{LR: 1}).EtaStarOverEta()) {
		t.Error("eta*/eta without eta_star is not NaN")
	}
	// bound25_over_gen = bound25 / generalized_sharpness, from finite positive sources only
	b := Row{LR: 1, Bound25: jsonfloat.Ptr(30), GenSharpness: jsonfloat.Ptr(40)}
	b.Derive()
	if Value(b.Bound25OverGen) != 0.75 {
		t.Errorf("bound25_over_gen %v, want 0.75", Value(b.Bound25OverGen))
	}
	for _, pair := range [][2]float64{{30, 0}, {30, math.NaN()}, {math.Inf(1), 40}, {0, 40}, {30, math.Inf(1)}} {
		r := Row{LR: 1, Bound25: jsonfloat.Ptr(pair[0]), GenSharpness: jsonfloat.Ptr(pair[1])}
		r.Derive()
		if r.Bound25OverGen != nil {
			t.Errorf("bound25 %v, lambda_gen %v gave bound25_over_gen %v", pair[0], pair[1], Value(r.Bound25OverGen))
		}
	}
	if r := (Row{LR: 1, Bound25: jsonfloat.Ptr(30)}); func() bool { r.Derive(); return r.Bound25OverGen != nil }() {
		t.Error("bound25_over_gen without lambda_gen")
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		status string
		flag   bool
	}{{"", false}, {AnalysisConverged, false}, {AnalysisIterationLimit, true}, {"failed", true}} {
		r := Row{AnalysisStatus: tc.status, NonuniformityStatus: tc.status}
		if r.GenUnconverged() != tc.flag || r.NonuniformityUnconverged() != tc.flag {
			t.Errorf("status %q: flags %v %v, want %v", tc.status, r.GenUnconverged(), r.NonuniformityUnconverged(), tc.flag)
		}
	}
	if !(&Row{Status: "converged"}).Converged() || (&Row{Status: "epoch_limit"}).Converged() || (&Row{}).Converged() {
		t.Error("Converged")
	}
}

func TestReadCSVForeignTable(t *testing.T) {
	// Columns in another order, an unknown column, a BOM, integral reals for integers, blank
	// lines, "null" and empty cells as missing values, other spellings of infinity.
	table := "\ufeffstatus,batch,lr,note,n,epochs,sharpness,generalized_sharpness,final_loss\n" +
		"converged,512.0,0.01,x,512,null,190.5,195,1e-7\n\n" +
		"diverged,1,0.02,,512,3,,,inf\n"
	rows, err := ReadCSV(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.Batch != 512 || r.LR != 0.01 || *r.N != 512 || r.Epochs != nil || Value(r.Sharpness) != 190.5 || !r.Converged() {
		t.Errorf("row 0 = %+v", r)
	}
	if Value(r.TwoOverEta) != 200 || Value(r.GDThreshold) != 2/190.5 || Value(r.EtaStar) != 2.0/195 {
		t.Errorf("derived columns not filled: %v %v %v", Value(r.TwoOverEta), Value(r.GDThreshold), Value(r.EtaStar))
	}
	d := rows[1]
	if *d.Epochs != 3 || d.Sharpness != nil || !math.IsInf(Value(d.FinalLoss), 1) || d.Converged() {
		t.Errorf("row 1 = %+v", d)
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct{ name, csv, want string }{
		{"empty", "", "no header"},
		{"no lr", "batch,status\n1,converged\n", `"lr" missing`},
		{"no status", "lr,batch\n0.1,1\n", `"status" missing`},
		{"bad number", "lr,batch,status,sharpness\n0.1,1,converged,abc\n", "line 2: column sharpness: invalid number"},
		{"bad count", "lr,batch,status\n0.1,1.5,converged\n", "line 2: column batch: invalid integer"},
		{"bad seed", "lr,batch,status,seed\n0.1,1,converged,-1\n", "line 2: column seed: invalid unsigned"},
		{"zero lr", "lr,batch,status\n0,1,converged\n", "line 2: column lr"},
		{"infinite lr", "lr,batch,status\n+Inf,1,converged\n", "line 2: column lr"},
		{"missing lr", "lr,batch,status\n,1,converged\n", "line 2: column lr"},
		{"zero batch", "lr,batch,status\n0.1,0,converged\n", "line 2: column batch"},
		{"batch > n", "lr,batch,status,n\n0.1,9,converged,8\n", "batch 9 exceeds n = 8"},
		{"short row", "lr,batch,status\n0.1,1\n", "line 2: 2 cells"},
		{"duplicate", "lr,batch,status,lr\n0.1,1,converged,0.1\n", "duplicate column"},
	}
	for _, tc := range cases {
		_, err := ReadCSV(strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, jsonl, want string }{
		{"not json", "{\n", "line 1"},
		{"no batch", `{"lr":0.1,"status":"converged"}`, `"batch" missing`},
		{"string as number", `{"lr":0.1,"batch":1,"status":"converged","sharpness":"12"}`, "column sharpness"},
		{"number as string", `{"lr":0.1,"batch":1,"status":3}`, "column status: not a string"},
		{"null lr", `{"lr":null,"batch":1,"status":"converged"}`, "column lr: missing value"},
		{"bad batch", "\n" + `{"lr":0.1,"batch":0,"status":"converged"}`, "line 2: column batch"},
	} {
		_, err := ReadJSONL(strings.NewReader(tc.jsonl))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("jsonl %s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadFile("testdata/does-not-exist.csv"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRowSets(t *testing.T) {
	n8, n64 := 8, 64
	rows := []Row{{LR: 0.1, Batch: 8, N: &n8}, {LR: 0.01, Batch: 1}, {LR: 0.1, Batch: 1, N: &n64}, {LR: 0.01, Batch: 8}}
	if got := Batches(rows); !slices.Equal(got, []int{1, 8}) {
		t.Errorf("Batches = %v", got)
	}
	if got := LRs(rows); !slices.Equal(got, []float64{0.01, 0.1}) {
		t.Errorf("LRs = %v", got)
	}
	if SampleCount(rows) != 64 || SampleCount(rows[1:2]) != 0 {
		t.Errorf("SampleCount = %d, %d", SampleCount(rows), SampleCount(rows[1:2]))
	}
	if got := WithBatch(rows, 8); len(got) != 2 || got[0].LR != 0.1 || got[1].LR != 0.01 {
		t.Errorf("WithBatch = %+v", got)
	}
	if got := WithLR(rows, 0.1); len(got) != 2 || got[0].Batch != 8 || got[1].Batch != 1 {
		t.Errorf("WithLR = %+v", got)
	}
	if Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 3, 2}) != 2.5 || Median([]float64{7}) != 7 {
		t.Error("Median")
	}
}
