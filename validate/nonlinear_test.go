package validate

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
	"github.com/sgdstability/sgdstab/train"
)

// tinyData is a random data set with sparse inputs (half the pixels zero) and one-hot targets.
func tinyData(n, d, k int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	ds := &data.Dataset{N: n, D: d, K: k, X: make([]float64, n*d), Y: make([]float64, n*k)}
	for i := range ds.X {
		if rng.Float64() < 0.5 {
			ds.X[i] = rng.Float64()
		}
	}
	for i := 0; i < n; i++ {
		ds.Y[i*k+rng.IntN(k)] = 1
	}
	return ds
}

// TestDirection: x = V y built from train's Gram matrix is an isometry onto range(H) with
// x^T H x = sum_a L_a y_a^2, H from train.PerSampleCurvature's Jacobians (an independent code).
func TestDirection(t *testing.T) {
	ds := tinyData(7, 9, 3, 2)
	for _, loss := range []string{train.LossSum, train.LossMean} {
		p := train.InitParams(ds.D, 5, ds.K, 1, 3)
		curv, err := train.PerSampleCurvature(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		g, err := train.GaussNewtonGram(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		lin, u, err := GramLinear(ds.N, ds.K, g, 1e-10)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		y := make([]float64, lin.R)
		for a := range y {
			y[a] = rng.NormFloat64()
		}
		x, err := Direction(ds, p, loss, lin, u, y)
		if err != nil {
			t.Fatal(err)
		}
		k, dim, m := ds.K, curv.D, curv.OutputHessian[0]
		quad, want := 0.0, 0.0
		for i := 0; i < ds.N; i++ {
			for a := 0; a < k; a++ {
				v := dot(curv.Jacobians[i][a*dim:(a+1)*dim], x)
				quad += m * v * v / float64(ds.N)
			}
		}
		for a, v := range y {
			want += lin.L[a] * v * v
		}
		if math.Abs(dot(x, x)-dot(y, y)) > 1e-9*dot(y, y) || math.Abs(quad-want) > 1e-9*want {
			t.Errorf("%s: ||x||^2 = %v, ||y||^2 = %v; x^T H x = %v, want %v", loss, dot(x, x), dot(y, y), quad, want)
		}
		if _, err := Direction(ds, p, loss, lin, u, y[:len(y)-1]); err == nil {
			t.Errorf("%s: Direction accepted a short y", loss)
		}
	}
}

// checkRecord checks a restart's record against its own loss curve.
func checkRecord(t *testing.T, name string, n int, res *RestartResult, opt RestartOptions) {
	t.Helper()
	if res.Epochs != len(res.LossCurve) || res.FinalLoss != res.LossCurve[len(res.LossCurve)-1] && !math.IsNaN(res.FinalLoss) {
		t.Errorf("%s: %d epochs, curve of %d, final loss %v", name, res.Epochs, len(res.LossCurve), res.FinalLoss)
	}
	first := 0
	for e, l := range res.LossCurve {
		if first == 0 && !(l <= opt.EscapeLoss) {
			first = e + 1
		}
	}
	if res.Escaped != (first > 0) || res.EscapeEpoch != first {
		t.Errorf("%s: escaped %v at epoch %d, but the curve first exceeds %v at epoch %d: %v", name, res.Escaped, res.EscapeEpoch, opt.EscapeLoss, first, res.LossCurve)
	}
	if !res.Escaped && res.Epochs != opt.Epochs {
		t.Errorf("%s: stopped after %d epochs without escaping, want %d", name, res.Epochs, opt.Epochs)
	}
	if res.Steps != res.Epochs*((n+opt.Batch-1)/opt.Batch) {
		t.Errorf("%s: %d steps in %d epochs at B = %d", name, res.Steps, res.Epochs, opt.Batch)
	}
}

// TestRestartEscapes: from a point far from any minimum at a small step size the loss descends
// and does not escape; at a huge step size it escapes (diverges). The mixture process with
// B = n is GD: the same run as SGD with B = n.
func TestRestartEscapes(t *testing.T) {
	ds := tinyData(8, 9, 3, 5)
	p := train.InitParams(ds.D, 4, ds.K, 1, 1)
	l0 := fullLoss(t, ds, p)
	for _, proc := range []string{sampling.Independent, sampling.Mixture} {
		opt := RestartOptions{Process: proc, Batch: 2, Eta: 1e-3, Epochs: 5, EscapeLoss: 2 * l0, Seed: 1}
		res, err := Restart(context.Background(), ds, p, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkRecord(t, proc+" small", ds.N, res, opt)
		if res.Escaped || res.FinalLoss >= l0 {
			t.Errorf("%s: small step escaped or did not descend: %+v (start %v)", proc, res, l0)
		}
		opt = RestartOptions{Process: proc, Batch: 2, Eta: 50, Epochs: 20, EscapeLoss: 2 * l0, Seed: 1}
		res, err = Restart(context.Background(), ds, p, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkRecord(t, proc+" huge", ds.N, res, opt)
		if !res.Escaped || res.Epochs >= 20 {
			t.Errorf("%s: huge step did not escape: %+v", proc, res)
		}
	}
	var runs [2]*RestartResult
	for q, proc := range []string{sampling.Independent, sampling.Mixture} {
		r, err := Restart(context.Background(), ds, p, RestartOptions{Process: proc, Batch: ds.N, Eta: 0.05, Epochs: 6, EscapeLoss: 2 * l0, Seed: uint64(q)})
		if err != nil {
			t.Fatal(err)
		}
		runs[q] = r
	}
	if d := maxDiff(runs[0].Params.Flat(), runs[1].Params.Flat()); d != 0 {
		t.Errorf("ALG(0) differs from GD by %g", d)
	}
	if _, err := Restart(context.Background(), ds, p, RestartOptions{Process: "adam", Batch: 2, Eta: 1, EscapeLoss: 1}); err == nil || !strings.Contains(err.Error(), `"adam"`) {
		t.Errorf("unknown process: %v", err)
	}
	if _, err := Restart(context.Background(), ds, p, RestartOptions{Batch: 9, Eta: 1, EscapeLoss: 1}); err == nil || !strings.Contains(err.Error(), "batch = 9") {
		t.Errorf("batch 9 of 8: %v", err)
	}
}

// TestRestartReconverges: an escape level below the starting loss makes the first epoch an
// escape; training then continues until the convergence rule holds, with the loss curve of the
// continuation appended.
func TestRestartReconverges(t *testing.T) {
	ds := tinyData(8, 9, 3, 5)
	p := train.InitParams(ds.D, 4, ds.K, 1, 1)
	l0 := fullLoss(t, ds, p)
	opt := RestartOptions{Batch: 4, Eta: 0.05, Epochs: 5, EscapeLoss: l0 / 100, ConvThreshold: l0 / 2, ConvEpochs: 3,
		ReconvergeEpochs: 500, Seed: 3}
	res, err := Restart(context.Background(), ds, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Escaped || res.EscapeEpoch != 1 || !res.Reconverged || res.Diverged || res.Epochs < 1+opt.ConvEpochs {
		t.Fatalf("%+v", res)
	}
	if res.Epochs != len(res.LossCurve) || res.Steps != res.Epochs*2 || res.FinalLoss != res.LossCurve[res.Epochs-1] {
		t.Fatalf("%d epochs, %d steps, curve of %d, final loss %v", res.Epochs, res.Steps, len(res.LossCurve), res.FinalLoss)
	}
	tail := res.LossCurve[len(res.LossCurve)-opt.ConvEpochs:]
	for _, l := range tail {
		if !(l < opt.ConvThreshold) {
			t.Fatalf("reconverged, but the last losses are %v (threshold %v)", tail, opt.ConvThreshold)
		}
	}
	if got := fullLoss(t, ds, res.Params); math.Abs(got-res.FinalLoss) > 1e-12*got {
		t.Errorf("final loss %v, loss of the final parameters %v", res.FinalLoss, got)
	}
}

// fullLoss is L(w) = (1/n) sum_i ||f(x_i) - y_i||^2 from the definition.
func fullLoss(t *testing.T, ds *data.Dataset, p train.Params) float64 {
	t.Helper()
	s := 0.0
	h := p.Hidden
	for i := 0; i < ds.N; i++ {
		x := ds.Row(i)
		for o, y := range ds.Target(i) {
			f := p.B2[o]
			for j := 0; j < h; j++ {
				u := p.B1[j] + dot(p.W1[j*ds.D:(j+1)*ds.D], x)
				f += p.W2[o*h+j] * math.Max(u, 0)
			}
			s += (f - y) * (f - y)
		}
	}
	return s / float64(ds.N)
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}
