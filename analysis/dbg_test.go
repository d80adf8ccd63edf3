package analysis

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	for _, n := range []int{128, 256} {
		f := syntheticNetwork(n, 20, 1)
		for _, b := range []int{1, 8, 64} {
			t0 := time.Now()
			r, err := AnalyzeFactored(f, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			dg := r.Diagnostics
			t.Logf("n=%d B=%d %v r=%d apps=%d certs=%d res=%.2g width=%.2g b25it=%d lmin/lmax=%.2g gen=%.8g secs=%v", n, b, time.Since(t0), dg.Rank, dg.Applications, dg.Certificates, dg.Residual, dg.BracketRelWidth, dg.Bound25Iterations, dg.LambdaMinRange/r.Sharpness, r.GeneralizedSharpness, r.Seconds)
		}
	}
}
