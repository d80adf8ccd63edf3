package validate

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sgdstability/sgdstab/data"
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

// TestNetAgainstTrain checks the step, the closed-form Gram matrix and the map back to
// parameters against train.PerSampleCurvature's Jacobians and gradients (an independent code).
func TestNetAgainstTrain(t *testing.T) {
	ds := tinyData(7, 9, 3, 2)
	for _, loss := range []string{train.LossSum, train.LossMean} {
		p := train.InitParams(ds.D, 5, ds.K, 1, 3)
		curv, err := train.PerSampleCurvature(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		nt, err := NewNet(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		dim := len(nt.W)
		// one-sample step: w - eta g_i
		for i := 0; i < ds.N; i++ {
			nt, _ := NewNet(ds, p, loss)
			w0 := append([]float64(nil), nt.W...)
			nt.Step([]int{i}, 0.5)
			for q := 0; q < dim; q++ {
				if want := w0[q] - 0.5*curv.Gradients[i][q]; math.Abs(nt.W[q]-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("%s sample %d param %d: %v, want %v", loss, i, q, nt.W[q], want)
				}
			}
		}
		// Gram of sqrt(M) J_i (M = 2c I)
		g := nt.Gram()
		k, nk := ds.K, ds.N*ds.K
		m := curv.OutputHessian[0]
		for x := 0; x < nk; x++ {
			for y := 0; y < nk; y++ {
				ja := curv.Jacobians[x/k][(x%k)*dim : (x%k+1)*dim]
				jb := curv.Jacobians[y/k][(y%k)*dim : (y%k+1)*dim]
				if want := m * dot(ja, jb); math.Abs(g[x*nk+y]-want) > 1e-10*(1+math.Abs(want)) {
					t.Fatalf("%s Gram[%d,%d] = %v, want %v", loss, x, y, g[x*nk+y], want)
				}
			}
		}
		// x = V y is an isometry onto range(H), and x^T H x = sum_a L_a y_a^2
		lin, u, err := GramLinear(ds.N, ds.K, g, 1e-10)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		y := make([]float64, lin.R)
		for a := range y {
			y[a] = rng.NormFloat64()
		}
		x := nt.Direction(lin, u, y)
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
	}
}

// TestRestartEscapes: from a point far from any minimum at a huge step size the loss escapes
// (diverges); at a small step size it does not.
func TestRestartEscapes(t *testing.T) {
	ds := tinyData(8, 9, 3, 5)
	p := train.InitParams(ds.D, 4, ds.K, 1, 1)
	for _, proc := range []string{ProcessSGD, ProcessMixture} {
		nt, _ := NewNet(ds, p, train.LossSum)
		l0 := nt.Loss()
		res, err := Restart(context.Background(), nt, RestartOptions{Process: proc, Batch: 2, Eta: 1e-3, Epochs: 5, EscapeLoss: 2 * l0, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Escaped || res.FinalLoss >= l0 {
			t.Errorf("%s: small step escaped or did not descend: %+v (start %v)", proc, res, l0)
		}
		nt, _ = NewNet(ds, p, train.LossSum)
		res, err = Restart(context.Background(), nt, RestartOptions{Process: proc, Batch: 2, Eta: 50, Epochs: 20, EscapeLoss: 2 * l0, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Escaped {
			t.Errorf("%s: huge step did not escape: %+v", proc, res)
		}
	}
}
