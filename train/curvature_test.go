package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/sgdstability/sgdstab/data"
)

// tinyData is a random data set with D inputs (about a third of them zero, like MNIST pixels),
// K one-hot classes and n samples.
func tinyData(n, d, k int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	ds := &data.Dataset{N: n, D: d, K: k, X: make([]float64, n*d), Y: make([]float64, n*k),
		Labels: make([]int, n), Class: make([]int, n), Source: make([]int, n)}
	for i := range ds.X {
		if rng.Float64() < 0.67 {
			ds.X[i] = rng.Float64()
		}
	}
	for i := 0; i < n; i++ {
		c := rng.IntN(k)
		ds.Y[i*k+c], ds.Class[i], ds.Labels[i], ds.Source[i] = 1, c, c, i
	}
	return ds
}

// sampleLossAt is l_i at the flat parameters w, computed directly from the definition.
func sampleLossAt(ds *data.Dataset, w []float64, h int, c float64, i int) float64 {
	d, k := ds.D, ds.K
	p, _ := ParamsFromFlat(w, d, h, k)
	x, y := ds.Row(i), ds.Target(i)
	var l float64
	for o := 0; o < k; o++ {
		f := p.B2[o]
		for j := 0; j < h; j++ {
			z := p.B1[j]
			for q := 0; q < d; q++ {
				z += p.W1[j*d+q] * x[q]
			}
			f += p.W2[o*h+j] * math.Max(z, 0)
		}
		l += (f - y[o]) * (f - y[o])
	}
	return c * l
}

// outputAt is f_o(x_i) at the flat parameters w.
func outputAt(ds *data.Dataset, w []float64, h, i, o int) float64 {
	p, _ := ParamsFromFlat(w, ds.D, h, ds.K)
	x := ds.Row(i)
	f := p.B2[o]
	for j := 0; j < h; j++ {
		z := p.B1[j]
		for q := 0; q < ds.D; q++ {
			z += p.W1[j*ds.D+q] * x[q]
		}
		f += p.W2[o*h+j] * math.Max(z, 0)
	}
	return f
}

func maxAbsDiff(a, b []float64) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(a[i]-b[i]))
		scale = max(scale, math.Abs(b[i]))
	}
	return diff, scale
}

// fullGradient is (1/n) sum_i g_i from a Curvature.
func fullGradient(cv *Curvature) []float64 {
	g := make([]float64, cv.D)
	for _, gi := range cv.Gradients {
		for q, v := range gi {
			g[q] += v / float64(cv.N)
		}
	}
	return g
}

// TestJacobiansAndGradients checks J_i and g_i against central finite differences of the
// definitions, and g_i against gorgonia's gradient of the same loss, for every loss option; and
// the output gradients q_i = 2c (f(x_i) - y_i) with g_i = J_i^T q_i.
func TestJacobiansAndGradients(t *testing.T) {
	ds := tinyData(7, 6, 3, 1)
	const h = 5
	for _, loss := range []string{LossSum, LossHalfSum, LossMean, LossHalfMean} {
		p := InitParams(ds.D, h, ds.K, 2, 7)
		c, _ := LossScale(loss, ds.K)
		cv, err := PerSampleCurvature(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		if cv.N != ds.N || cv.K != ds.K || cv.D != p.Dim() {
			t.Fatalf("shape N=%d K=%d D=%d", cv.N, cv.K, cv.D)
		}
		for o := 0; o < ds.K; o++ {
			for o2 := 0; o2 < ds.K; o2++ {
				want := 0.0
				if o == o2 {
					want = 2 * c
				}
				if cv.OutputHessian[o*ds.K+o2] != want {
					t.Fatalf("%s: M[%d,%d] = %g, want %g", loss, o, o2, cv.OutputHessian[o*ds.K+o2], want)
				}
			}
		}
		w := p.Flat()
		const eps = 1e-6
		gor, err := newGorgoniaNet(ds, newSparseX(ds), p, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < ds.N; i++ {
			fdG := make([]float64, len(w))
			fdJ := make([]float64, ds.K*len(w))
			for q := range w {
				wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
				wp[q] += eps
				wm[q] -= eps
				fdG[q] = (sampleLossAt(ds, wp, h, c, i) - sampleLossAt(ds, wm, h, c, i)) / (2 * eps)
				for o := 0; o < ds.K; o++ {
					fdJ[o*len(w)+q] = (outputAt(ds, wp, h, i, o) - outputAt(ds, wm, h, i, o)) / (2 * eps)
				}
			}
			if diff, sc := maxAbsDiff(cv.Gradients[i], fdG); diff > 1e-7*(1+sc) {
				t.Fatalf("%s sample %d: gradient differs from finite differences by %g (scale %g)", loss, i, diff, sc)
			}
			if diff, sc := maxAbsDiff(cv.Jacobians[i], fdJ); diff > 1e-7*(1+sc) {
				t.Fatalf("%s sample %d: Jacobian differs from finite differences by %g (scale %g)", loss, i, diff, sc)
			}
			// q_i = dl_i/df = 2c (f(x_i) - y_i), and g_i = J_i^T q_i
			jq := make([]float64, len(w))
			for o := 0; o < ds.K; o++ {
				qo := cv.OutputGradients[i*ds.K+o]
				if want := 2 * c * (outputAt(ds, w, h, i, o) - ds.Target(i)[o]); math.Abs(qo-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("%s sample %d: output gradient %d = %v, want 2c (f - y) = %v", loss, i, o, qo, want)
				}
				for q := range w {
					jq[q] += qo * cv.Jacobians[i][o*len(w)+q]
				}
			}
			if diff, sc := maxAbsDiff(cv.Gradients[i], jq); diff > 1e-13*(1+sc) {
				t.Fatalf("%s sample %d: gradient differs from J^T q by %g (scale %g)", loss, i, diff, sc)
			}
			gg := gor.gradient([]int{i})
			if diff, sc := maxAbsDiff(cv.Gradients[i], gg); diff > 1e-13*(1+sc) {
				t.Fatalf("%s sample %d: gradient differs from gorgonia's by %g (scale %g)", loss, i, diff, sc)
			}
		}
	}
}

// denseHessian builds H column by column from finite differences of the analytic full gradient
// (checked above against finite differences of the loss and gorgonia), symmetrized.
func denseHessianFD(t *testing.T, ds *data.Dataset, p Params, loss string) *mat.SymDense {
	w := p.Flat()
	d := len(w)
	hcols := make([][]float64, d)
	const eps = 1e-5
	for q := 0; q < d; q++ {
		wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
		wp[q] += eps
		wm[q] -= eps
		pp, _ := ParamsFromFlat(wp, ds.D, p.Hidden, ds.K)
		pm, _ := ParamsFromFlat(wm, ds.D, p.Hidden, ds.K)
		cp, err := PerSampleCurvature(ds, pp, loss)
		if err != nil {
			t.Fatal(err)
		}
		cm, _ := PerSampleCurvature(ds, pm, loss)
		gp, gm := fullGradient(cp), fullGradient(cm)
		hcols[q] = make([]float64, d)
		for r := range gp {
			hcols[q][r] = (gp[r] - gm[r]) / (2 * eps)
		}
	}
	hs := mat.NewSymDense(d, nil)
	for r := 0; r < d; r++ {
		for q := r; q < d; q++ {
			hs.SetSym(r, q, (hcols[q][r]+hcols[r][q])/2)
		}
	}
	return hs
}

func symEig(t *testing.T, a mat.Symmetric) []float64 {
	var eig mat.EigenSym
	if !eig.Factorize(a, false) {
		t.Fatal("eigendecomposition failed")
	}
	return eig.Values(nil)
}

// TestHessianAgainstDense checks the R-operator HVP, the Gauss-Newton split, the residual norm
// and both sharpness values against dense matrices built independently: H from finite
// differences of the gradient, H_GN from the Jacobians.
func TestHessianAgainstDense(t *testing.T) {
	ds := tinyData(9, 5, 3, 2)
	const h = 4
	for _, loss := range []string{LossSum, LossHalfMean} {
		p := InitParams(ds.D, h, ds.K, 3, 5)
		m, _ := newModel(ds, p, loss)
		d := p.Dim()
		hfd := denseHessianFD(t, ds, p, loss)
		cv, err := PerSampleCurvature(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		// dense H_GN = (1/n) sum_i J_i^T M J_i
		hgn := mat.NewDense(d, d, nil)
		for _, jac := range cv.Jacobians {
			j := mat.NewDense(ds.K, d, jac)
			var mj, jmj mat.Dense
			mj.Mul(mat.NewDense(ds.K, ds.K, cv.OutputHessian), j)
			jmj.Mul(j.T(), &mj)
			jmj.Scale(1/float64(ds.N), &jmj)
			hgn.Add(hgn, &jmj)
		}
		rng := rand.New(rand.NewPCG(3, 3))
		for trial := 0; trial < 3; trial++ {
			v := make([]float64, d)
			for q := range v {
				v[q] = rng.NormFloat64()
			}
			hv, err := HVP(ds, p, loss, v)
			if err != nil {
				t.Fatal(err)
			}
			var want mat.VecDense
			want.MulVec(hfd, mat.NewVecDense(d, v))
			if diff, sc := maxAbsDiff(hv, want.RawVector().Data); diff > 1e-6*(1+sc) {
				t.Fatalf("%s: HVP differs from finite differences by %g (scale %g)", loss, diff, sc)
			}
			gnv := make([]float64, d)
			m.hvp(v, gnv, true)
			want.MulVec(hgn, mat.NewVecDense(d, v))
			if diff, sc := maxAbsDiff(gnv, want.RawVector().Data); diff > 1e-12*(1+sc) {
				t.Fatalf("%s: Gauss-Newton HVP differs from J^T M J v by %g (scale %g)", loss, diff, sc)
			}
		}
		// residual and sharpness values
		hgnSym := mat.NewSymDense(d, nil)
		res := mat.NewSymDense(d, nil)
		for r := 0; r < d; r++ {
			for q := r; q < d; q++ {
				hgnSym.SetSym(r, q, hgn.At(r, q))
				res.SetSym(r, q, hfd.At(r, q)-hgn.At(r, q))
			}
		}
		eh, egn, eres := symEig(t, hfd), symEig(t, hgnSym), symEig(t, res)
		resNorm := math.Max(math.Abs(eres[0]), math.Abs(eres[d-1]))
		if resNorm < 1e-3*egn[d-1] {
			t.Fatalf("%s: residual %g too small for a meaningful test", loss, resNorm)
		}
		if math.Abs(cv.ResidualNorm-resNorm) > 1e-6*resNorm {
			t.Fatalf("%s: residual norm %g, dense %g", loss, cv.ResidualNorm, resNorm)
		}
		if math.Abs(cv.GNSharpness-egn[d-1]) > 1e-8*egn[d-1] {
			t.Fatalf("%s: Gauss-Newton sharpness %g, dense %g", loss, cv.GNSharpness, egn[d-1])
		}
		if want := resNorm / egn[d-1]; math.Abs(cv.ResidualRel-want) > 1e-6*want {
			t.Fatalf("%s: ResidualRel %g, dense %g", loss, cv.ResidualRel, want)
		}
		hs, err := HessianSharpness(ds, p, loss)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(hs-eh[d-1]) > 1e-6*math.Abs(eh[d-1]) {
			t.Fatalf("%s: Hessian sharpness %g, dense %g", loss, hs, eh[d-1])
		}
		t.Logf("%s: lambda_max(H) = %.6g, lambda_max(H_GN) = %.6g, residual rel %.3g, per-sample max %.3g",
			loss, hs, cv.GNSharpness, cv.ResidualRel, cv.ResidualRelMax)
	}
}

// TestPerSampleResidualDense checks ResidualRelMax against dense per-sample Hessians from finite
// differences of g_i.
func TestPerSampleResidualDense(t *testing.T) {
	ds := tinyData(4, 4, 2, 5)
	const h = 3
	p := InitParams(ds.D, h, ds.K, 2, 1)
	cv, err := PerSampleCurvature(ds, p, LossSum)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Flat()
	d := len(w)
	best := 0.0
	for i := 0; i < ds.N; i++ {
		hi := mat.NewSymDense(d, nil)
		cols := make([][]float64, d)
		for q := 0; q < d; q++ {
			wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
			wp[q] += 1e-5
			wm[q] -= 1e-5
			pp, _ := ParamsFromFlat(wp, ds.D, h, ds.K)
			pm, _ := ParamsFromFlat(wm, ds.D, h, ds.K)
			cp, _ := PerSampleCurvature(ds, pp, LossSum)
			cm, _ := PerSampleCurvature(ds, pm, LossSum)
			cols[q] = make([]float64, d)
			for r := range cols[q] {
				cols[q][r] = (cp.Gradients[i][r] - cm.Gradients[i][r]) / 2e-5
			}
		}
		gn := mat.NewDense(d, d, nil)
		j := mat.NewDense(ds.K, d, cv.Jacobians[i])
		gn.Mul(j.T(), j)
		gn.Scale(2, gn)
		gnSym, res := mat.NewSymDense(d, nil), mat.NewSymDense(d, nil)
		for r := 0; r < d; r++ {
			for q := r; q < d; q++ {
				hi.SetSym(r, q, (cols[q][r]+cols[r][q])/2)
				gnSym.SetSym(r, q, gn.At(r, q))
				res.SetSym(r, q, hi.At(r, q)-gn.At(r, q))
			}
		}
		e1, e2 := symEig(t, gnSym), symEig(t, res)
		if e1[d-1] > 0 {
			best = max(best, math.Max(math.Abs(e2[0]), math.Abs(e2[d-1]))/e1[d-1])
		}
	}
	if best == 0 || math.Abs(cv.ResidualRelMax-best) > 1e-6*best {
		t.Fatalf("ResidualRelMax %g, dense %g", cv.ResidualRelMax, best)
	}
}

// TestHVPOnMNIST checks the R-operator HVP at the real problem size against finite differences
// of the analytic gradient along v.
func TestHVPOnMNIST(t *testing.T) {
	ds := subset(loadMNIST(t), 64)
	p := InitParams(ds.D, 6, ds.K, 2, 9)
	rng := rand.New(rand.NewPCG(4, 4))
	v := make([]float64, p.Dim())
	for q := range v {
		v[q] = rng.NormFloat64()
	}
	hv, err := HVP(ds, p, LossSum, v)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Flat()
	const eps = 1e-6
	wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
	for q := range w {
		wp[q] += eps * v[q]
		wm[q] -= eps * v[q]
	}
	pp, _ := ParamsFromFlat(wp, ds.D, p.Hidden, ds.K)
	pm, _ := ParamsFromFlat(wm, ds.D, p.Hidden, ds.K)
	cp, _ := PerSampleCurvature(ds, pp, LossSum)
	cm, _ := PerSampleCurvature(ds, pm, LossSum)
	gp, gm := fullGradient(cp), fullGradient(cm)
	fd := make([]float64, len(w))
	for q := range fd {
		fd[q] = (gp[q] - gm[q]) / (2 * eps)
	}
	if diff, sc := maxAbsDiff(hv, fd); diff > 1e-5*(1+sc) {
		t.Fatalf("HVP differs from finite differences by %g (scale %g)", diff, sc)
	}
}

func TestCurvatureErrors(t *testing.T) {
	ds := tinyData(3, 4, 2, 1)
	p := InitParams(4, 2, 2, 1, 1)
	if _, err := PerSampleCurvature(ds, p, "cubic"); err == nil {
		t.Fatal("unknown loss accepted")
	}
	bad := p.Clone()
	bad.W2 = bad.W2[:1]
	if _, err := HessianSharpness(ds, bad, LossSum); err == nil {
		t.Fatal("wrong shapes accepted")
	}
	bad = p.Clone()
	bad.B1[0] = math.NaN()
	if _, err := PerSampleCurvature(ds, bad, LossSum); err == nil {
		t.Fatal("NaN parameters accepted")
	}
	if _, err := HVP(ds, p, LossSum, make([]float64, 3)); err == nil {
		t.Fatal("short vector accepted")
	}
}
