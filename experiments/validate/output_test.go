package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMarkdownFlagsUnconvergedStart: a minimum whose start came from a power method that stopped
// at its iteration limit is marked in its row and counted in the result line.
func TestMarkdownFlagsUnconvergedStart(t *testing.T) {
	doc := func(converged bool) string {
		out := &outputDoc{Config: &config{C: []float64{0.9, 1.1}},
			Minima: []*minRecord{{Name: "B1_lr0.01", Batch: 1, LR: 0.01, EtaStar: 0.0105, Source: "store:abc", TruncConverged: converged}}}
		path := filepath.Join(t.TempDir(), "validation.md")
		if err := writeMarkdown(path, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const mark = "power method at its iteration limit"
	if md := doc(true); strings.Contains(md, mark) || strings.Contains(md, "did not converge") {
		t.Errorf("converged start flagged:\n%s", md)
	}
	md := doc(false)
	if !strings.Contains(md, mark) || !strings.Contains(md, "at 1 minima the start's top eigenmatrix did not converge") {
		t.Errorf("unconverged start not flagged:\n%s", md)
	}
}
