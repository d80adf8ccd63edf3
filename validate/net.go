package validate

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/train"
)

// Net is the network of package train, f(x) = W2 relu(W1 x + b1) + b2 with per-sample loss
// l_i = c ||f(x_i) - y_i||^2, held as one flat parameter vector w (train's layout: W1, b1, W2,
// b2) so that the nonlinear check can run SGD from any point. train.Train always starts from its
// own initialization, so validate needs its own step (see the package documentation of
// experiments/validate for the hook that would remove this).
type Net struct {
	ds      *data.Dataset
	h, d, k int
	c       float64
	W       []float64 // flat parameters, length h*d + h + k*h + k
	nzIdx   [][]int32 // nonzero pixels of each sample (inputs are ~80% zeros)
	nzVal   [][]float64
	// work buffers: pre-activations, output residual derivatives of a batch
	z, r []float64
}

// NewNet copies p into a Net for the data set and loss option (train.LossScale).
func NewNet(ds *data.Dataset, p train.Params, loss string) (*Net, error) {
	if err := p.Check(ds.D, ds.K); err != nil {
		return nil, err
	}
	c, err := train.LossScale(loss, ds.K)
	if err != nil {
		return nil, err
	}
	nt := &Net{ds: ds, h: p.Hidden, d: ds.D, k: ds.K, c: c, W: p.Flat(),
		nzIdx: make([][]int32, ds.N), nzVal: make([][]float64, ds.N)}
	for i := 0; i < ds.N; i++ {
		for q, v := range ds.Row(i) {
			if v != 0 {
				nt.nzIdx[i] = append(nt.nzIdx[i], int32(q))
				nt.nzVal[i] = append(nt.nzVal[i], v)
			}
		}
	}
	return nt, nil
}

// Params returns the current parameters.
func (nt *Net) Params() train.Params {
	p, err := train.ParamsFromFlat(nt.W, nt.d, nt.h, nt.k)
	if err != nil {
		panic(err) // the layout is fixed at construction
	}
	return p
}

func (nt *Net) offsets() (b1, w2, b2 int) {
	b1 = nt.h * nt.d
	w2 = b1 + nt.h
	b2 = w2 + nt.k*nt.h
	return
}

// forward sets z (h) to the pre-activations of sample i and f (k) to the outputs.
func (nt *Net) forward(i int, z, f []float64) {
	ob1, ow2, ob2 := nt.offsets()
	idx, val := nt.nzIdx[i], nt.nzVal[i]
	for j := 0; j < nt.h; j++ {
		row := nt.W[j*nt.d : (j+1)*nt.d]
		s := nt.W[ob1+j]
		for q, p := range idx {
			s += row[p] * val[q]
		}
		z[j] = s
	}
	for a := 0; a < nt.k; a++ {
		s := nt.W[ob2+a]
		row := nt.W[ow2+a*nt.h : ow2+(a+1)*nt.h]
		for j, zj := range z {
			if zj > 0 {
				s += row[j] * zj
			}
		}
		f[a] = s
	}
}

// Loss is the full-batch loss L(w) = (1/n) sum_i c ||f(x_i) - y_i||^2.
func (nt *Net) Loss() float64 {
	z, f := make([]float64, nt.h), make([]float64, nt.k)
	s := 0.0
	for i := 0; i < nt.ds.N; i++ {
		nt.forward(i, z, f)
		for a, y := range nt.ds.Target(i) {
			e := f[a] - y
			s += e * e
		}
	}
	return nt.c * s / float64(nt.ds.N)
}

// addJT sets dst += J_i^T v for the k-vector v, with the pre-activations z of sample i
// (J_i = df(x_i)/dw): dW2[a,j] += v_a relu(z_j), db2 += v, dz_j = 1[z_j > 0] sum_a W2[a,j] v_a,
// dW1[j,:] += dz_j x_i, db1 += dz. w2 holds the W2 block to use (the one of the current point).
func (nt *Net) addJT(dst []float64, i int, z, v, w2 []float64) {
	ob1, ow2, ob2 := nt.offsets()
	idx, val := nt.nzIdx[i], nt.nzVal[i]
	for j, zj := range z {
		if zj <= 0 {
			continue
		}
		dz := 0.0
		for a := 0; a < nt.k; a++ {
			dz += w2[a*nt.h+j] * v[a]
			dst[ow2+a*nt.h+j] += v[a] * zj
		}
		row := dst[j*nt.d : (j+1)*nt.d]
		for q, p := range idx {
			row[p] += dz * val[q]
		}
		dst[ob1+j] += dz
	}
	for a := 0; a < nt.k; a++ {
		dst[ob2+a] += v[a]
	}
}

// Step is one SGD step w <- w - (eta/|batch|) sum_{i in batch} grad l_i(w), all gradients at
// the current w (grad l_i = J_i^T 2c (f(x_i) - y_i)). It returns the batch's mean loss before
// the step.
func (nt *Net) Step(batch []int, eta float64) float64 {
	m := len(batch)
	if cap(nt.z) < m*nt.h {
		nt.z = make([]float64, m*nt.h)
		nt.r = make([]float64, m*nt.k)
	}
	z, r := nt.z[:m*nt.h], nt.r[:m*nt.k]
	f := make([]float64, nt.k)
	loss := 0.0
	for b, i := range batch {
		nt.forward(i, z[b*nt.h:(b+1)*nt.h], f)
		for a, y := range nt.ds.Target(i) {
			e := f[a] - y
			loss += nt.c * e * e
			r[b*nt.k+a] = -eta / float64(m) * 2 * nt.c * e
		}
	}
	_, ow2, _ := nt.offsets()
	w2 := append([]float64(nil), nt.W[ow2:ow2+nt.k*nt.h]...) // gradients at the old W2
	for b, i := range batch {
		nt.addJT(nt.W, i, z[b*nt.h:(b+1)*nt.h], r[b*nt.k:(b+1)*nt.k], w2)
	}
	return loss / float64(m)
}

// Gram returns the Gram matrix of the stacked G_i = M^{1/2} J_i = sqrt(2c) J_i at the current w
// ((n k) x (n k), entry (i k + a, j k + b) = 2c J_ia . J_jb), in closed form:
//
//	J_ia . J_jb = (x_i . x_j + 1) sum_u W2[a,u] W2[b,u] 1[z_iu > 0] 1[z_ju > 0]
//	            + [a = b] (relu(z_i) . relu(z_j) + 1).
func (nt *Net) Gram() []float64 {
	n, k, h := nt.ds.N, nt.k, nt.h
	xx := make([]float64, n*n)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(n, nt.d, nt.ds.X), gen(n, nt.d, nt.ds.X), 0, gen(n, n, xx))
	zs := make([]float64, n*h)
	f := make([]float64, k)
	for i := 0; i < n; i++ {
		nt.forward(i, zs[i*h:(i+1)*h], f)
	}
	_, ow2, _ := nt.offsets()
	w2 := nt.W[ow2 : ow2+k*h]
	nk := n * k
	g := make([]float64, nk*nk)
	acc := make([]float64, k*k)
	for i := 0; i < n; i++ {
		zi := zs[i*h : (i+1)*h]
		for j := i; j < n; j++ {
			zj := zs[j*h : (j+1)*h]
			for q := range acc {
				acc[q] = 0
			}
			aa := 0.0
			for u := 0; u < h; u++ {
				if zi[u] <= 0 || zj[u] <= 0 {
					continue
				}
				aa += zi[u] * zj[u]
				for a := 0; a < k; a++ {
					wa := w2[a*h+u]
					for b := 0; b < k; b++ {
						acc[a*k+b] += wa * w2[b*h+u]
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
					v *= 2 * nt.c
					g[(i*k+a)*nk+j*k+b] = v
					g[(j*k+b)*nk+i*k+a] = v
				}
			}
		}
	}
	return g
}

// Direction maps basis coordinates y (length r) of a Linear built by GramLinear with factor u
// (U_r, (n k) x r) and eigenvalues s_a = n L_a back to parameters: x = V y with
// V = G^T U_r diag(s)^{-1/2} (G the stacked sqrt(2c) J_i at the current w).
func (nt *Net) Direction(lin *Linear, u, y []float64) []float64 {
	n, k, r := nt.ds.N, nt.k, lin.R
	if len(u) != n*k*r || len(y) != r {
		panic(fmt.Sprintf("validate: Direction: U has %d entries, y %d, want %d and %d", len(u), len(y), n*k*r, r))
	}
	coef := make([]float64, n*k)
	for x := 0; x < n*k; x++ {
		s := 0.0
		for a := 0; a < r; a++ {
			s += u[x*r+a] * y[a] / math.Sqrt(float64(n)*lin.L[a])
		}
		coef[x] = s * math.Sqrt(2*nt.c)
	}
	dst := make([]float64, len(nt.W))
	z, f := make([]float64, nt.h), make([]float64, k)
	_, ow2, _ := nt.offsets()
	w2 := nt.W[ow2 : ow2+k*nt.h]
	for i := 0; i < n; i++ {
		nt.forward(i, z, f)
		nt.addJT(dst, i, z, coef[i*k:(i+1)*k], w2)
	}
	return dst
}
