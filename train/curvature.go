package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/linalg"
)

// Curvature is the per-sample curvature of the loss at a point w (normally a minimum), in the
// flat parameter order of Params (W1, b1, W2, b2).
type Curvature struct {
	N, K, D int // samples, outputs, parameters d
	// Jacobians[i] is J_i = df(x_i)/dw, K x D row-major: Jacobians[i][k*D+q] = df_k(x_i)/dw_q.
	Jacobians [][]float64
	// OutputHessian is M = d^2 l_i / df^2 = 2c I (K x K row-major; 2 I for the "sum" loss).
	OutputHessian []float64
	// Gradients[i] is g_i = grad l_i(w) = J_i^T M (f(x_i) - y_i) (length D).
	Gradients [][]float64
	// OutputGradients holds q_i = M (f(x_i) - y_i), the gradient of l_i in the outputs, as row i
	// (N x K): Gradients[i] = J_i^T q_i.
	OutputGradients []float64
	// ResidualRel is ||H - H_GN||_2 / ||H_GN||_2 with spectral norms (largest absolute
	// eigenvalue), for the full-batch Hessian H = (1/n) sum_i hess l_i and its Gauss-Newton part
	// H_GN = (1/n) sum_i J_i^T M J_i. The residual H - H_GN = (1/n) sum_i sum_k (M r_i)_k hess f_k(x_i)
	// couples only W2[k,j] with row j of (W1, b1); its norm is computed exactly (see residualNorm),
	// ||H_GN||_2 by Lanczos on Gauss-Newton products.
	ResidualRel float64
	// ResidualNorm is ||H - H_GN||_2 and GNSharpness is ||H_GN||_2 = lambda_max(H_GN), by
	// Lanczos (internal/linalg) on Gauss-Newton products: the denominator of ResidualRel, computed
	// here because train does not depend on package analysis. The analysis obtains the same
	// number from its Gram eigendecomposition (analysis.Report.Sharpness); the two are
	// independent computations, and the tests use each as the other's oracle.
	ResidualNorm, GNSharpness float64
	// ResidualRelMax is max_i ||H_i - J_i^T M J_i||_2 / ||J_i^T M J_i||_2 over samples with a
	// nonzero Gauss-Newton part: the per-sample version of ResidualRel.
	ResidualRelMax float64
	// Gram is the (N K) x (N K) Gram matrix of the stacked M^{1/2} J_i in closed form
	// ([GaussNewtonGram]), so that the analysis need not multiply it out of the Jacobians.
	Gram []float64
}

// model is a parameter point with its loss, for the curvature computations (plain loops over the
// dense inputs, skipping zero pixels).
type model struct {
	ds         *data.Dataset
	sp         *sparseX // the inputs' nonzero pixels (rows in increasing pixel order)
	d, h, k    int      // input dimension, hidden units, outputs
	c          float64
	w1, b1     []float64
	w2, b2     []float64
	oB1, oW2   int // offsets of b1, W2, b2 in the flat vector (W1 starts at 0)
	oB2, nPars int
	// fu, fa, fr cache the forward pass of every sample (u, a: n x h, r: n x k) when not nil
	// (cacheForward): repeated products at one point then skip it.
	fu, fa, fr []float64
	// v1t, o1t: scratch of hvp (D x h)
	v1t, o1t []float64
}

func newModel(ds *data.Dataset, p Params, loss string) (*model, error) {
	if err := checkData(ds); err != nil {
		return nil, err
	}
	return newModelOn(ds, newSparseX(ds), p, loss)
}

// newModelOn is newModel with the inputs' sparse form sp (of ds) given.
func newModelOn(ds *data.Dataset, sp *sparseX, p Params, loss string) (*model, error) {
	if err := p.Check(ds.D, ds.K); err != nil {
		return nil, err
	}
	c, err := LossScale(loss, ds.K)
	if err != nil {
		return nil, err
	}
	for _, v := range p.Flat() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("train: parameters contain NaN or Inf")
		}
	}
	d, h, k := ds.D, p.Hidden, ds.K
	m := &model{ds: ds, sp: sp, d: d, h: h, k: k, c: c, w1: p.W1, b1: p.B1, w2: p.W2, b2: p.B2}
	m.oB1 = h * d
	m.oW2 = m.oB1 + h
	m.oB2 = m.oW2 + k*h
	m.nPars = m.oB2 + k
	return m, nil
}

// nonzeros returns the pixel indices and values of sample i's nonzero pixels, in increasing
// pixel order.
func (m *model) nonzeros(i int) ([]int, []float64) {
	lo, hi := m.sp.ptr[i], m.sp.ptr[i+1]
	return m.sp.idx[lo:hi], m.sp.val[lo:hi]
}

// forward computes u = W1 x_i + b1, a = relu(u) and the residual r = f(x_i) - y_i (the sum over
// the nonzero pixels in increasing order).
func (m *model) forward(i int, u, a, r []float64) {
	idx, val := m.nonzeros(i)
	for j := 0; j < m.h; j++ {
		w := m.w1[j*m.d : (j+1)*m.d]
		s := 0.0
		for q, p := range idx {
			s += w[p] * val[q]
		}
		u[j] = s + m.b1[j]
		a[j] = max(u[j], 0)
	}
	y := m.ds.Target(i)
	for o := 0; o < m.k; o++ {
		f := m.b2[o]
		for j := 0; j < m.h; j++ {
			f += m.w2[o*m.h+j] * a[j]
		}
		r[o] = f - y[o]
	}
}

// jacobian writes J_i (K x nPars row-major) into jac.
func (m *model) jacobian(i int, a, u, jac []float64) {
	clear(jac)
	x := m.ds.Row(i)
	for o := 0; o < m.k; o++ {
		row := jac[o*m.nPars : (o+1)*m.nPars]
		for j := 0; j < m.h; j++ {
			row[m.oW2+o*m.h+j] = a[j]
			if u[j] > 0 {
				g := m.w2[o*m.h+j]
				row[m.oB1+j] = g
				w := row[j*m.d : (j+1)*m.d]
				for q, xq := range x {
					if xq != 0 {
						w[q] = g * xq
					}
				}
			}
		}
		row[m.oB2+o] = 1
	}
}

// PerSampleCurvature computes, at the parameters p, every sample's Jacobian J_i, gradient g_i,
// the output Hessian M = 2c I and the relative size of the Hessian's residual term (see
// Curvature) and the Gram matrix of the M^{1/2} J_i. Memory: n K d + n d + (n K)^2 floats
// (about 350 MB for n = 512, h = 20).
func PerSampleCurvature(ds *data.Dataset, p Params, loss string) (*Curvature, error) {
	m, err := newModel(ds, p, loss)
	if err != nil {
		return nil, err
	}
	n, k, d := ds.N, m.k, m.nPars
	cv := &Curvature{N: n, K: k, D: d, Jacobians: make([][]float64, n), Gradients: make([][]float64, n),
		OutputGradients: make([]float64, n*k), OutputHessian: make([]float64, k*k)}
	for o := 0; o < k; o++ {
		cv.OutputHessian[o*k+o] = 2 * m.c
	}
	u, a, r := make([]float64, m.h), make([]float64, m.h), make([]float64, k)
	jjt := mat.NewSymDense(k, nil)
	var eig mat.EigenSym
	for i := 0; i < n; i++ {
		m.forward(i, u, a, r)
		jac := make([]float64, k*d)
		m.jacobian(i, a, u, jac)
		g := make([]float64, d)
		for o := 0; o < k; o++ {
			s := 2 * m.c * r[o]
			cv.OutputGradients[i*k+o] = s
			for q, v := range jac[o*d : (o+1)*d] {
				g[q] += s * v
			}
		}
		cv.Jacobians[i], cv.Gradients[i] = jac, g
		// Per sample: H_i - J_i^T M J_i = sum_o 2c r_o hess f_o; its blocks couple W2[:, j] with
		// (W1[j,:], b1[j]) for active units j through the K x (D+1) matrix 2c r (x~)^T, whose
		// spectral norm is 2c ||r|| ||x~||; ||J_i^T M J_i||_2 = 2c lambda_max(J_i J_i^T).
		for o := 0; o < k; o++ {
			for o2 := o; o2 < k; o2++ {
				jjt.SetSym(o, o2, dot(jac[o*d:(o+1)*d], jac[o2*d:(o2+1)*d]))
			}
		}
		if !eig.Factorize(jjt, false) {
			return nil, fmt.Errorf("train: eigenvalues of J_i J_i^T of sample %d did not converge", i)
		}
		vals := eig.Values(nil)
		gn := 2 * m.c * vals[len(vals)-1]
		active := false
		for j := range u {
			active = active || u[j] > 0
		}
		if gn > 0 && active {
			xn := math.Sqrt(1 + dot(ds.Row(i), ds.Row(i)))
			cv.ResidualRelMax = max(cv.ResidualRelMax, 2*m.c*math.Sqrt(dot(r, r))*xn/gn)
		}
	}
	cv.ResidualNorm = m.residualNorm()
	// H_GN v by the Gauss-Newton R-operator (cheaper than the n K d products with the Jacobians;
	// the tests check it against J^T M J v).
	m.cacheForward()
	top, err := topEigenvalue(d, func(dst, v []float64) { m.hvp(v, dst, true) })
	if err != nil {
		return nil, fmt.Errorf("train: Gauss-Newton sharpness: %w", err)
	}
	cv.GNSharpness = top
	if top > 0 {
		cv.ResidualRel = cv.ResidualNorm / top
	}
	if cv.Gram, err = GaussNewtonGram(ds, p, loss); err != nil {
		return nil, err
	}
	return cv, nil
}

// residualBlocks returns, for every hidden unit j, the K x (D+1) matrix
// A_j[o, q] = (1/n) sum_i 2c r_io 1[u_ij > 0] x~_iq with x~ = (x, 1): the residual
// H - H_GN = (1/n) sum_i sum_o 2c r_io hess f_o(x_i) has the entries A_j[o, q] at the pairs
// (W2[o, j], W1[j, q]) (q < D) and (W2[o, j], b1[j]) (q = D), symmetrically, and zeros elsewhere
// (ReLU” = 0 and f is linear in W2 and b2).
func (m *model) residualBlocks() [][]float64 {
	d1 := m.d + 1
	blocks := make([][]float64, m.h)
	for j := range blocks {
		blocks[j] = make([]float64, m.k*d1)
	}
	u, a, r := make([]float64, m.h), make([]float64, m.h), make([]float64, m.k)
	n := float64(m.ds.N)
	for i := 0; i < m.ds.N; i++ {
		m.forward(i, u, a, r)
		x := m.ds.Row(i)
		for j, b := range blocks {
			if !(u[j] > 0) {
				continue
			}
			for o := 0; o < m.k; o++ {
				s := 2 * m.c * r[o] / n
				row := b[o*d1 : (o+1)*d1]
				for q, xq := range x {
					if xq != 0 {
						row[q] += s * xq
					}
				}
				row[m.d] += s
			}
		}
	}
	return blocks
}

// residualNorm is ||H - H_GN||_2. The residual is block diagonal over hidden units j, each block
// [[0, A_j], [A_j^T, 0]] (W2[:, j] against W1[j, :], b1[j]) with eigenvalues +-sigma(A_j), so its
// norm is max_j sigma_max(A_j) = max_j sqrt(lambda_max(A_j A_j^T)).
func (m *model) residualNorm() float64 {
	d1 := m.d + 1
	aat := mat.NewSymDense(m.k, nil)
	var eig mat.EigenSym
	best := 0.0
	for _, b := range m.residualBlocks() {
		for o := 0; o < m.k; o++ {
			for o2 := o; o2 < m.k; o2++ {
				aat.SetSym(o, o2, dot(b[o*d1:(o+1)*d1], b[o2*d1:(o2+1)*d1]))
			}
		}
		if eig.Factorize(aat, false) {
			vals := eig.Values(nil)
			best = max(best, math.Sqrt(max(vals[len(vals)-1], 0)))
		}
	}
	return best
}

// HVP returns H v for the exact full-batch Hessian H = (1/n) sum_i hess l_i at p, by the
// R-operator (Pearlmutter 1994): the directional derivative of the backward pass along v. With
// V1, vb1, V2, vb2 the blocks of v, per sample
//
//	R(u) = V1 x + vb1,  R(a) = relu'(u) R(u),  R(f) = V2 a + W2 R(a) + vb2,
//	df = 2c r,  R(df) = 2c R(f),  R(dz) = relu'(u) (V2^T df + W2^T R(df)),
//	H v = (1/n) sum_i [ R(dz) x^T, R(dz), R(df) a^T + df R(a)^T, R(df) ].
//
// Dropping the two terms with df (the residual r) gives the Gauss-Newton product H_GN v.
func HVP(ds *data.Dataset, p Params, loss string, v []float64) ([]float64, error) {
	m, err := newModel(ds, p, loss)
	if err != nil {
		return nil, err
	}
	if len(v) != m.nPars {
		return nil, fmt.Errorf("train: HVP: vector has length %d, want %d", len(v), m.nPars)
	}
	out := make([]float64, m.nPars)
	m.hvp(v, out, false)
	return out, nil
}

// cacheForward computes and keeps the forward pass of every sample, for repeated products at
// this point (hvp then reads it instead of recomputing it: the same numbers).
func (m *model) cacheForward() {
	n, h, k := m.ds.N, m.h, m.k
	m.fu, m.fa, m.fr = make([]float64, n*h), make([]float64, n*h), make([]float64, n*k)
	for i := 0; i < n; i++ {
		m.forward(i, m.fu[i*h:(i+1)*h], m.fa[i*h:(i+1)*h], m.fr[i*k:(i+1)*k])
	}
}

// hvp writes H v (or H_GN v when gn) into out. The W1 blocks of v and out are worked on
// transposed (D x h), so that the loops over the hidden units of one pixel are contiguous; every
// entry is summed in the same order as over the rows (pixels in increasing order, then samples).
func (m *model) hvp(v, out []float64, gn bool) {
	clear(out)
	h, k, d := m.h, m.k, m.d
	v1, vb1, v2, vb2 := v[:m.oB1], v[m.oB1:m.oW2], v[m.oW2:m.oB2], v[m.oB2:]
	o1, ob1, o2, ob2 := out[:m.oB1], out[m.oB1:m.oW2], out[m.oW2:m.oB2], out[m.oB2:]
	if m.v1t == nil {
		m.v1t, m.o1t = make([]float64, d*h), make([]float64, d*h)
	}
	v1t, o1t := m.v1t, m.o1t
	clear(o1t)
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			v1t[q*h+j] = v1[j*d+q]
		}
	}
	u, a, r := make([]float64, h), make([]float64, h), make([]float64, k)
	ra, rdf, sz := make([]float64, h), make([]float64, k), make([]float64, h)
	inv := 1 / float64(m.ds.N)
	for i := 0; i < m.ds.N; i++ {
		if m.fu != nil {
			u, a, r = m.fu[i*h:(i+1)*h], m.fa[i*h:(i+1)*h], m.fr[i*k:(i+1)*k]
		} else {
			m.forward(i, u, a, r)
		}
		idx, val := m.nonzeros(i)
		// R(u) = V1 x + vb1, kept for the active units only
		copy(ra, vb1)
		for q, p := range idx {
			x := val[q]
			w := v1t[p*h : p*h+h]
			for j, wj := range w {
				ra[j] += wj * x
			}
		}
		for j := range ra {
			if !(u[j] > 0) {
				ra[j] = 0
			}
		}
		for o := 0; o < k; o++ {
			rf := vb2[o]
			for j := 0; j < h; j++ {
				rf += v2[o*h+j]*a[j] + m.w2[o*h+j]*ra[j]
			}
			rdf[o] = 2 * m.c * rf
		}
		for o := 0; o < k; o++ {
			df := 2 * m.c * r[o]
			if gn {
				df = 0
			}
			ob2[o] += inv * rdf[o]
			for j := 0; j < h; j++ {
				o2[o*h+j] += inv * (rdf[o]*a[j] + df*ra[j])
			}
		}
		active := false
		for j := 0; j < h; j++ {
			rdz := 0.0
			if u[j] > 0 {
				for o := 0; o < k; o++ {
					df := 2 * m.c * r[o]
					if gn {
						df = 0
					}
					rdz += v2[o*h+j]*df + m.w2[o*h+j]*rdf[o]
				}
			}
			sz[j] = inv * rdz
			ob1[j] += sz[j]
			active = active || rdz != 0
		}
		if !active {
			continue
		}
		for q, p := range idx {
			x := val[q]
			w := o1t[p*h : p*h+h]
			for j, s := range sz {
				w[j] += s * x
			}
		}
	}
	for j := 0; j < h; j++ {
		for q := 0; q < d; q++ {
			o1[j*d+q] = o1t[q*h+j]
		}
	}
}

// HessianSharpness is lambda_max of the exact full-batch Hessian H at p (largest algebraic
// eigenvalue), by Lanczos with full reorthogonalization on exact Hessian-vector products (HVP),
// converged to a relative Ritz residual of 1e-8.
func HessianSharpness(ds *data.Dataset, p Params, loss string) (float64, error) {
	m, err := newModel(ds, p, loss)
	if err != nil {
		return 0, err
	}
	m.cacheForward()
	top, err := topEigenvalue(m.nPars, func(dst, v []float64) { m.hvp(v, dst, false) })
	if err != nil {
		return 0, fmt.Errorf("train: Hessian sharpness: %w", err)
	}
	return top, nil
}

// lanczosStream is the PCG stream of the Lanczos start vectors.
const lanczosStream = 0x6c616e63_7a6f7321

// topEigenvalue returns the largest eigenvalue of the symmetric n x n operator mul (dst = A v)
// by linalg.LanczosTop (full reorthogonalization, no restart: at most min(n, 300) applications)
// from a start vector of uniform(-1, 1) entries drawn from PCG(0, lanczosStream), converged to
// a relative Ritz residual ||A y - theta y|| <= 1e-8 |theta|. Reaching the iteration limit first
// is an error.
func topEigenvalue(n int, mul func(dst, v []float64)) (float64, error) {
	rng := rand.New(rand.NewPCG(0, lanczosStream))
	x0 := make([]float64, n)
	for i := range x0 {
		x0[i] = 2*rng.Float64() - 1
	}
	iters := min(n, 300)
	apply := func(dst, v []float64) error {
		mul(dst, v)
		for _, x := range dst {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return errors.New("the operator returned non-finite values")
			}
		}
		return nil
	}
	rz, status, err := linalg.LanczosTop(n, apply, x0, linalg.LanczosOptions{Tol: 1e-8, MaxBasis: iters, MaxApplications: iters})
	switch {
	case err != nil:
		return math.NaN(), err
	case status != linalg.Converged:
		return rz.Value, fmt.Errorf("the Lanczos iteration did not converge in %d steps (last estimate %g, residual %.3g)", iters, rz.Value, rz.Residual/math.Abs(rz.Value))
	}
	return rz.Value, nil
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
