package train

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/data"
)

// GaussNewtonGram returns the (nK) x (nK) Gram matrix of the stacked square-root factors
// G_i = M^{1/2} J_i at p (M = 2c I), row-major with entry (i K + a, j K + b) = 2c J_ia . J_jb,
// where J_ia is row a of J_i = df(x_i)/dw. Its nonzero eigenvalues are n times those of the
// Gauss-Newton Hessian H_GN = (1/n) sum_i J_i^T M J_i. It uses the closed form of this network,
// with u_i = W1 x_i + b1 and 1_i = 1[u_i > 0]:
//
//	J_ia . J_jb = (x_i . x_j + 1) sum_u W2[a,u] W2[b,u] 1_iu 1_ju + [a = b] (relu(u_i) . relu(u_j) + 1)
//
// which costs O(n^2 (D + h K^2)) instead of the O(n^2 K^2 d) of multiplying the Jacobians.
func GaussNewtonGram(ds *data.Dataset, p Params, loss string) ([]float64, error) {
	m, err := newModel(ds, p, loss)
	if err != nil {
		return nil, err
	}
	n, k, h, d := ds.N, m.k, m.h, m.d
	xx := make([]float64, n*n)
	x := blas64.General{Rows: n, Cols: d, Stride: d, Data: ds.X}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, x, x, 0, blas64.General{Rows: n, Cols: n, Stride: n, Data: xx})
	us, as := make([]float64, n*h), make([]float64, n*h)
	r := make([]float64, k)
	for i := 0; i < n; i++ {
		m.forward(i, us[i*h:(i+1)*h], as[i*h:(i+1)*h], r)
	}
	nk := n * k
	g := make([]float64, nk*nk)
	acc := make([]float64, k*k)
	for i := 0; i < n; i++ {
		ui, ai := us[i*h:(i+1)*h], as[i*h:(i+1)*h]
		for j := i; j < n; j++ {
			uj, aj := us[j*h:(j+1)*h], as[j*h:(j+1)*h]
			clear(acc)
			aa := 0.0
			for q := 0; q < h; q++ {
				if !(ui[q] > 0) || !(uj[q] > 0) {
					continue
				}
				aa += ai[q] * aj[q]
				for a := 0; a < k; a++ {
					wa := m.w2[a*h+q]
					for b := 0; b < k; b++ {
						acc[a*k+b] += wa * m.w2[b*h+q]
					}
				}
			}
			x1 := xx[i*n+j] + 1
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					v := x1 * acc[a*k+b]
					if a == b {
						v += aa + 1
					}
					v *= 2 * m.c
					g[(i*k+a)*nk+j*k+b] = v
					g[(j*k+b)*nk+i*k+a] = v
				}
			}
		}
	}
	return g, nil
}

// JacobianTMul returns sum_i J_i^T v_i at p, flat in the order of Params, for v_i = v[i K:(i+1) K]
// (J_i = df(x_i)/dw): with u = W1 x_i + b1, the blocks are W2 += v_i relu(u)^T, b2 += v_i,
// and for every active unit (u_j > 0) with s_j = sum_a W2[a,j] v_ia: W1[j,:] += s_j x_i^T, b1_j += s_j.
func JacobianTMul(ds *data.Dataset, p Params, v []float64) ([]float64, error) {
	m, err := newModel(ds, p, LossSum)
	if err != nil {
		return nil, err
	}
	n, k, h, d := ds.N, m.k, m.h, m.d
	if len(v) != n*k {
		return nil, fmt.Errorf("train: JacobianTMul: v has %d entries, want n K = %d", len(v), n*k)
	}
	out := make([]float64, m.nPars)
	u, a, r := make([]float64, h), make([]float64, h), make([]float64, k)
	for i := 0; i < n; i++ {
		m.forward(i, u, a, r)
		vi := v[i*k : (i+1)*k]
		for o, vo := range vi {
			for j, aj := range a {
				out[m.oW2+o*h+j] += vo * aj
			}
			out[m.oB2+o] += vo
		}
		x := ds.Row(i)
		for j := 0; j < h; j++ {
			if !(u[j] > 0) {
				continue
			}
			s := 0.0
			for o, vo := range vi {
				s += m.w2[o*h+j] * vo
			}
			out[m.oB1+j] += s
			row := out[j*d : (j+1)*d]
			for q, xq := range x {
				if xq != 0 {
					row[q] += s * xq
				}
			}
		}
	}
	return out, nil
}
