package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sgdstability/sgdstab/analysis"
	"github.com/sgdstability/sgdstab/internal/atomicfile"
	"github.com/sgdstability/sgdstab/plots"
)

// config holds the flags of -in.
type config struct {
	batch          string
	eta            float64
	seed           uint64
	width          float64
	center, ignore bool
}

// batchReport is one line of the multi-batch output: the report with its batch size on top.
type batchReport struct {
	BatchSize int `json:"batch_size"`
	*analysis.Report
}

// parseBatches reads -batch: a comma-separated list of sizes and "n", or "all-powers"
// (1, 2, 4, ... below n, then n).
func parseBatches(s string, n int) ([]int, error) {
	if s == "all-powers" {
		var out []int
		for b := 1; b < n; b *= 2 {
			out = append(out, b)
		}
		return append(out, n), nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "n" {
			out = append(out, n)
			continue
		}
		b, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("-batch %q: %q is not a batch size (want a list like 1,2,8,n or all-powers)", s, f)
		}
		if b < 1 || b > n {
			return nil, fmt.Errorf("-batch: batch size %d outside 1..n = 1..%d", b, n)
		}
		out = append(out, b)
	}
	return out, nil
}

// readInput decodes -in: a directory of .npy files, an .npz archive (recognized by its zip
// signature), or JSON.
func readInput(path string, stdin io.Reader) (*request, error) {
	if path != "-" {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			ms, err := dirMembers(path)
			if err != nil {
				return nil, err
			}
			return decodeNumpy(ms)
		}
	}
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var magic [4]byte
		n, _ := io.ReadFull(f, magic[:])
		if bytes.Equal(magic[:n], []byte("PK\x03\x04")) || strings.HasSuffix(path, ".npz") {
			st, err := f.Stat()
			if err != nil {
				return nil, err
			}
			ms, err := npzMembers(f, st.Size())
			if err != nil {
				return nil, err
			}
			return decodeNumpy(ms)
		}
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	return decode(data)
}

// analyzeInput reads -in and analyses it for every batch size.
func analyzeInput(path string, stdin io.Reader, c config) ([]batchReport, error) {
	req, err := readInput(path, stdin)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	res, err := req.analyzeAll(c)
	if err != nil && strings.Contains(err.Error(), "do not average to zero") {
		return nil, fmt.Errorf("%s: %v (-center-gradients subtracts the mean, -ignore-gradients analyses without them)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return res, nil
}

// analyzeAll runs the analysis of a decoded request for its batch sizes (-batch overrides the
// file's). One batch size goes through AnalyzeDense/AnalyzeFactored (eta above eta* is an
// error); several through the *Batches functions (the covariance limit where eta < eta*).
func (req *request) analyzeAll(c config) ([]batchReport, error) {
	batches := req.Batches
	if c.batch != "" {
		var err error
		if batches, err = parseBatches(c.batch, req.n()); err != nil {
			return nil, err
		}
	}
	if len(batches) == 0 {
		return nil, fmt.Errorf("no batch size: give -batch or a batch_size array")
	}
	eta := req.Eta
	if c.eta > 0 {
		eta = c.eta
	}
	if c.ignore {
		req.setGradients(nil)
	}
	opt := analysis.Options{Seed: c.seed, RelWidth: c.width, CenterGradients: c.center || req.numpy}
	if len(batches) == 1 {
		opt.Eta = eta
		var rep *analysis.Report
		var err error
		if req.Dense != nil {
			rep, err = analysis.AnalyzeDense(req.Dense, batches[0], opt)
		} else {
			rep, err = analysis.AnalyzeFactored(req.Factored, batches[0], opt)
		}
		if err != nil {
			return nil, err
		}
		return []batchReport{{batches[0], rep}}, nil
	}
	var reps []*analysis.Report
	var err error
	if req.Dense != nil {
		reps, err = analysis.AnalyzeDenseBatches(req.Dense, batches, opt)
	} else {
		reps, err = analysis.AnalyzeFactoredBatches(req.Factored, batches, opt)
	}
	if err != nil {
		return nil, err
	}
	out := make([]batchReport, len(reps))
	for i, rep := range reps {
		if eta > 0 && req.gradients() != nil && eta < 2/rep.Bracket[1] {
			if err := rep.AddCovariance(eta); err != nil {
				return nil, fmt.Errorf("batch size %d: %v", batches[i], err)
			}
		}
		out[i] = batchReport{batches[i], rep}
	}
	return out, nil
}

// csvColumns are the columns of -format csv.
var csvColumns = []string{"batch_size", "p", "sharpness", "gd_threshold", "generalized_sharpness", "bracket_lo", "bracket_hi",
	"eta_star", "bound15", "bound16", "bound25", "nonuniformity", "status", "rank"}

func writeCSV(w io.Writer, res []batchReport) {
	fmt.Fprintln(w, strings.Join(csvColumns, ","))
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range res {
		fmt.Fprintln(w, strings.Join([]string{strconv.Itoa(r.BatchSize), g(r.P), g(r.Sharpness), g(r.GDThreshold), g(r.GeneralizedSharpness),
			g(r.Bracket[0]), g(r.Bracket[1]), g(r.EtaStar), g(r.Bound15), g(r.Bound16), g(r.Bound25), g(r.Nonuniformity),
			r.Diagnostics.Status, strconv.Itoa(r.Diagnostics.Rank)}, ","))
	}
}

// drawPlot writes the eta*(B) figure (plots.FigureEtaStar) to path (.png or .svg), atomically.
func drawPlot(path string, res []batchReport, n int) error {
	var pts []plots.EtaStarPoint
	for _, r := range res {
		pts = append(pts, plots.EtaStarPoint{Batch: r.BatchSize, EtaStar: r.EtaStar, Lo: 2 / r.Bracket[1], Hi: 2 / r.Bracket[0],
			GDThreshold: r.GDThreshold, BracketConverged: r.Diagnostics.Status == "converged"})
	}
	fig, err := plots.FigureEtaStar(pts, n)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := fig.Encode(&buf, strings.TrimPrefix(filepath.Ext(path), ".")); err != nil {
		return fmt.Errorf("-plot %s: %v", path, err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("-plot %s: %v", path, err)
	}
	return nil
}
