package analysis

import (
	"math/rand/v2"
	"testing"
)

func TestQuickSmoke(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	in := randDense(rng, problemSpec{n: 5, d: 4, k: 1})
	for b := 1; b <= 5; b++ {
		rep, err := AnalyzeDense(in, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		br := newBrute(in, b)
		g, _ := br.genSharpness()
		t.Logf("B=%d p=%.3f gen=%.12g brute=%.12g bracket=%v b15=%g b16=%g b25=%g l=%g diag=%+v", b, rep.P, rep.GeneralizedSharpness, g, rep.Bracket, rep.Bound15, rep.Bound16, rep.Bound25, rep.Sharpness, rep.Diagnostics)
	}
}
