package validate

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
	"github.com/sgdstability/sgdstab/train"
)

func TestZZGrowthBaseline(t *testing.T) {
	out := os.Getenv("BASELINE_OUT")
	if out == "" {
		t.Skip()
	}
	res := map[string]any{}
	for _, c := range diagCases {
		lin, err := DiagonalLinear(c.h)
		if err != nil {
			t.Fatal(err)
		}
		p := sampling.P(lin.N, c.batch)
		top, err := lin.TopEigen(p, 1e-13, 0)
		if err != nil {
			t.Fatal(err)
		}
		start, err := CovarianceStart(lin.R, top.S, lin.R)
		if err != nil {
			t.Fatal(err)
		}
		for _, proc := range []string{sampling.Independent, sampling.Mixture} {
			g, err := lin.Growth(start, GrowthOptions{Process: proc, Batch: c.batch, Eta: 1.05 * top.EtaStar, Chains: 64, Replicas: 4, Steps: 100, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			res[c.name+"/"+proc] = g.Replica
		}
		res[c.name+"/top"] = []float64{top.Lambda, float64(top.Iterations)}
	}
	ds := tinyData(7, 9, 3, 2)
	p := train.InitParams(ds.D, 5, ds.K, 1, 3)
	g, _ := train.GaussNewtonGram(ds, p, train.LossSum)
	lin, _, err := GramLinear(ds.N, ds.K, g, 1e-10)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := lin.TopEigen(sampling.P(7, 2), 1e-9, 3000)
	start, _ := CovarianceStart(lin.R, top.S, lin.R)
	for _, proc := range []string{sampling.Independent, sampling.Mixture} {
		gr, err := lin.Growth(start, GrowthOptions{Process: proc, Batch: 2, Eta: top.EtaStar, Chains: 64, Replicas: 4, Steps: 100, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		res["gram/"+proc] = gr.Replica
	}
	buf, _ := json.MarshalIndent(res, "", " ")
	os.WriteFile(out, buf, 0o644)
}
