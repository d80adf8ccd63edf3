package plots

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// StatusConverged is the status of a run whose loss met the convergence rule
// (train.Status "converged"). Every other status ("diverged", "epoch_limit", or
// anything unknown) counts as not converged.
const StatusConverged = "converged"

// Row is one run of a results table. Reals that are missing (empty cell, column absent,
// or "NaN") are NaN; counts that are missing are -1. Column names are those of
// CONTRACTS.md; columns this package does not know are kept in Extra.
type Row struct {
	Line   int // line of the CSV file the row came from (1 = header)
	Key    string
	Config string
	Status string

	LR                    float64 // step size eta (column lr); required
	Batch                 int     // batch size B (column batch); required
	N                     int     // number of samples n; -1 if missing
	Hidden, Epochs, Steps int

	InitFactor, FinalLoss, TrainSeconds, P         float64
	Sharpness, GDThreshold, TwoOverEta             float64
	GenSharpness, GenLo, GenHi, EtaStar            float64 // generalized sharpness and its certified bracket
	Bound15, Bound16, Bound25, Nonuniformity       float64
	HessianSharpness, ResidualRel, AnalysisSeconds float64

	Extra map[string]string
}

// Converged reports whether the run converged.
func (r Row) Converged() bool { return r.Status == StatusConverged }

// TwoOverLR returns 2/eta: the two_over_eta column when present, else 2/lr.
func (r Row) TwoOverLR() float64 {
	if ok(r.TwoOverEta) {
		return r.TwoOverEta
	}
	return 2 / r.LR
}

// EtaStarOverEta returns eta*/eta = (2/lambda_gen)/eta, from eta_star when present,
// else from generalized_sharpness; NaN when neither is known.
func (r Row) EtaStarOverEta() float64 {
	if ok(r.EtaStar) {
		return r.EtaStar / r.LR
	}
	if ok(r.GenSharpness) && r.GenSharpness > 0 {
		return 2 / r.GenSharpness / r.LR
	}
	return math.NaN()
}

// ok reports whether x is a usable (finite) value.
func ok(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ReadTableFile reads a results table from a CSV file; see ReadTable.
func ReadTableFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := ReadTable(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// ReadTable reads a results table in CSV form: a header of snake_case column names, one
// row per run. The columns lr, batch and status are required (and lr > 0, batch >= 1 in
// every row); all others are optional, empty cells are missing values, and unknown
// columns are kept in Row.Extra. Errors name the line and the column.
func ReadTable(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty table: no header line")
	}
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("line 1: duplicate column %q", h)
		}
		col[h] = i
	}
	for _, req := range []string{"lr", "batch", "status"} {
		if _, ok := col[req]; !ok {
			return nil, fmt.Errorf("line 1: required column %q missing", req)
		}
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
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
		p := rowParser{rec: rec, col: col, line: line}
		row := Row{Line: line, Key: p.str("key"), Config: p.str("config"), Status: p.str("status")}
		row.LR = p.real("lr")
		row.Batch = p.count("batch")
		row.N = p.count("n")
		row.Hidden = p.count("hidden")
		row.Epochs = p.count("epochs")
		row.Steps = p.count("steps")
		row.InitFactor = p.real("init_factor")
		row.FinalLoss = p.real("final_loss")
		row.TrainSeconds = p.real("train_seconds")
		row.P = p.real("p")
		row.Sharpness = p.real("sharpness")
		row.GDThreshold = p.real("gd_threshold")
		row.TwoOverEta = p.real("two_over_eta")
		row.GenSharpness = p.real("generalized_sharpness")
		row.GenLo = p.real("gen_sharpness_lo")
		row.GenHi = p.real("gen_sharpness_hi")
		row.EtaStar = p.real("eta_star")
		row.Bound15 = p.real("bound15")
		row.Bound16 = p.real("bound16")
		row.Bound25 = p.real("bound25")
		row.Nonuniformity = p.real("nonuniformity")
		row.HessianSharpness = p.real("hessian_sharpness")
		row.ResidualRel = p.real("residual_rel")
		row.AnalysisSeconds = p.real("analysis_seconds")
		for name, i := range col {
			if !knownColumns[name] && rec[i] != "" {
				if row.Extra == nil {
					row.Extra = map[string]string{}
				}
				row.Extra[name] = rec[i]
			}
		}
		if p.err != nil {
			return nil, p.err
		}
		if !(row.LR > 0) || math.IsInf(row.LR, 0) {
			return nil, fmt.Errorf("line %d: column lr: need a finite step size > 0, got %q", line, rec[col["lr"]])
		}
		if row.Batch < 1 {
			return nil, fmt.Errorf("line %d: column batch: need a batch size >= 1, got %q", line, rec[col["batch"]])
		}
		if row.N > 0 && row.Batch > row.N {
			return nil, fmt.Errorf("line %d: batch %d exceeds n = %d", line, row.Batch, row.N)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

var knownColumns = map[string]bool{
	"key": true, "config": true, "hidden": true, "init_factor": true, "lr": true, "batch": true,
	"n": true, "seed": true, "init_seed": true, "status": true, "epochs": true, "steps": true,
	"final_loss": true, "train_seconds": true, "p": true, "sharpness": true, "gd_threshold": true,
	"two_over_eta": true, "generalized_sharpness": true, "gen_sharpness_lo": true,
	"gen_sharpness_hi": true, "eta_star": true, "bound15": true, "bound16": true, "bound25": true,
	"nonuniformity": true, "hessian_sharpness": true, "residual_rel": true, "analysis_seconds": true,
}

// rowParser parses the cells of one record, remembering the first error.
type rowParser struct {
	rec  []string
	col  map[string]int
	line int
	err  error
}

func (p *rowParser) cell(name string) string {
	i, ok := p.col[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(p.rec[i])
}

func (p *rowParser) str(name string) string { return p.cell(name) }

func (p *rowParser) real(name string) float64 {
	s := p.cell(name)
	if s == "" || strings.EqualFold(s, "null") {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("line %d: column %s: invalid number %q", p.line, name, s)
	}
	return v
}

func (p *rowParser) count(name string) int {
	s := p.cell(name)
	if s == "" || strings.EqualFold(s, "null") {
		return -1
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		// Accept integral reals such as "512.0" (tables written by other tools).
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f)
		}
		if p.err == nil {
			p.err = fmt.Errorf("line %d: column %s: invalid integer %q", p.line, name, s)
		}
		return -1
	}
	return v
}
