package train

import (
	"encoding/json"
	"os"
	"testing"
)

type lzRow struct {
	Name                      string
	GN, HS, ResRel, ResNorm   float64
}

func TestZZLanczosBaseline(t *testing.T) {
	out := os.Getenv("BASELINE_OUT")
	if out == "" {
		t.Skip()
	}
	var rows []lzRow
	add := func(name string, ds interface{}, run func() (*Curvature, float64)) {
		cv, hs := run()
		rows = append(rows, lzRow{name, cv.GNSharpness, hs, cv.ResidualRel, cv.ResidualNorm})
	}
	mn := loadMNIST(t)
	for _, c := range []struct {
		name string
		n, h int
		init float64
		seed uint64
	}{{"tiny", 0, 5, 1, 3}, {"mnist64", 64, 6, 2, 9}, {"mnist128", 128, 20, 1, 2}} {
		ds := tinyData(9, 6, 3, 11)
		if c.n > 0 {
			ds = subset(mn, c.n)
		}
		p := InitParams(ds.D, c.h, ds.K, c.init, c.seed)
		add(c.name, ds, func() (*Curvature, float64) {
			cv, err := PerSampleCurvature(ds, p, LossSum)
			if err != nil {
				t.Fatal(err)
			}
			hs, err := HessianSharpness(ds, p, LossSum)
			if err != nil {
				t.Fatal(err)
			}
			return cv, hs
		})
	}
	buf, _ := json.MarshalIndent(rows, "", " ")
	os.WriteFile(out, buf, 0o644)
}
