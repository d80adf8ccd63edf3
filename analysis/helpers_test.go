package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sgdstability/sgdstab/internal/linalg"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// problemSpec describes a random test problem: n samples in dimension d, each H_i = A_i A_i^T with
// A_i of rank k, all inside a random subspace of dimension sub (sub < d: rank-deficient H).
type problemSpec struct {
	n, d, k, sub int
	grads        bool
	nullGrads    bool // give the gradients a component in null(H)
	scale        float64
}

func randDense(rng *rand.Rand, s problemSpec) *Dense {
	if s.sub == 0 {
		s.sub = s.d
	}
	if s.scale == 0 {
		s.scale = 1
	}
	u := randOrtho(rng, s.d, s.sub) // d x sub
	in := &Dense{N: s.n, D: s.d}
	for i := 0; i < s.n; i++ {
		a := make([]float64, s.d*s.k)
		for c := 0; c < s.k; c++ {
			z := make([]float64, s.sub)
			w := 0.5 + rng.Float64()
			for j := range z {
				z[j] = rng.NormFloat64() * w
			}
			for x := 0; x < s.d; x++ {
				for j := 0; j < s.sub; j++ {
					a[x*s.k+c] += u[x*s.sub+j] * z[j]
				}
			}
		}
		h := make([]float64, s.d*s.d)
		for x := 0; x < s.d; x++ {
			for y := 0; y < s.d; y++ {
				v := 0.0
				for c := 0; c < s.k; c++ {
					v += a[x*s.k+c] * a[y*s.k+c]
				}
				h[x*s.d+y] = v * s.scale
			}
		}
		in.Hessians = append(in.Hessians, h)
	}
	if s.grads {
		in.Gradients = make([][]float64, s.n)
		mean := make([]float64, s.d)
		for i := range in.Gradients {
			g := make([]float64, s.d)
			for j := 0; j < s.sub; j++ {
				z := rng.NormFloat64()
				for x := 0; x < s.d; x++ {
					g[x] += u[x*s.sub+j] * z
				}
			}
			if s.nullGrads {
				for x := range g {
					g[x] += 0.3 * rng.NormFloat64()
				}
			}
			in.Gradients[i] = g
			for x := range g {
				mean[x] += g[x] / float64(s.n)
			}
		}
		for _, g := range in.Gradients {
			for x := range g {
				g[x] -= mean[x]
			}
		}
	}
	return in
}

// randOrtho returns a d x m matrix with orthonormal columns.
func randOrtho(rng *rand.Rand, d, m int) []float64 {
	a := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			v := rng.NormFloat64()
			a[i*d+j], a[j*d+i] = v, v
		}
	}
	w := make([]float64, d)
	if err := linalg.EigSym(d, a, w, true); err != nil {
		panic(err)
	}
	out := make([]float64, d*m)
	for j := 0; j < m; j++ {
		for x := 0; x < d; x++ {
			out[x*m+j] = a[j*d+x]
		}
	}
	return out
}

func relErr(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

func checkRel(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if e := relErr(got, want); !(e <= tol) {
		t.Errorf("%s = %.15g, want %.15g (rel err %.3g > %.3g)", name, got, want, e, tol)
	}
}

// meanH returns H = (1/n) sum_i H_i.
func meanH(in *Dense) []float64 {
	h := make([]float64, in.D*in.D)
	for _, hi := range in.Hessians {
		for a, v := range hi {
			h[a] += v / float64(in.N)
		}
	}
	return h
}

// eigh returns eigenvalues (ascending) and eigenvectors (rows) of a copy of a.
func eigh(n int, a []float64) ([]float64, []float64) {
	v := append([]float64(nil), a...)
	w := make([]float64, n)
	if err := linalg.EigSym(n, v, w, true); err != nil {
		panic(err)
	}
	return w, v
}

// brute holds the d^2 x d^2 matrices of THEORY.md built entry by entry, vec(S)[a*d+b] = S_ab.
type brute struct {
	d, n   int
	h      []float64
	c, dm  []float64 // C and D
	rangeV []float64 // d x r basis of range(H)
	r      int
	p      float64
	lmax   float64
	vmax   []float64
}

func newBrute(in *Dense, batch int) *brute {
	d, n := in.D, in.N
	b := &brute{d: d, n: n, h: meanH(in), p: sampling.P(n, batch)}
	dd := d * d
	b.c = make([]float64, dd*dd)
	b.dm = make([]float64, dd*dd)
	for a := 0; a < d; a++ {
		for bb := 0; bb < d; bb++ {
			for c := 0; c < d; c++ {
				for e := 0; e < d; e++ {
					row, col := a*d+bb, c*d+e
					v := 0.0
					if bb == e {
						v += 0.5 * b.h[a*d+c]
					}
					if a == c {
						v += 0.5 * b.h[e*d+bb]
					}
					b.c[row*dd+col] = v
					s := 0.0
					for _, hi := range in.Hessians {
						s += hi[a*d+c] * hi[bb*d+e]
					}
					b.dm[row*dd+col] = (1-b.p)*b.h[a*d+c]*b.h[bb*d+e] + b.p*s/float64(n)
				}
			}
		}
	}
	w, v := eigh(d, b.h)
	b.lmax = w[d-1]
	b.vmax = v[(d-1)*d:]
	for j := d - 1; j >= 0; j-- {
		if w[j] > 1e-9*b.lmax {
			b.r++
		}
	}
	b.rangeV = make([]float64, d*b.r)
	for j := 0; j < b.r; j++ {
		for x := 0; x < d; x++ {
			b.rangeV[x*b.r+j] = v[(d-1-j)*d+x]
		}
	}
	return b
}

// genSharpness returns lambda_max(pinv(C) D) over all of R^{d^2}, as the top eigenvalue of
// pinv(C)^{1/2} D pinv(C)^{1/2}, and the top eigenvector of pinv(C) D reshaped to d x d.
func (b *brute) genSharpness() (float64, []float64) {
	dd := b.d * b.d
	cw, cv := eigh(dd, b.c)
	root := make([]float64, dd*dd)
	cmax := cw[dd-1]
	for j := 0; j < dd; j++ {
		if cw[j] <= 1e-9*cmax {
			continue
		}
		s := 1 / math.Sqrt(cw[j])
		for x := 0; x < dd; x++ {
			for y := 0; y < dd; y++ {
				root[x*dd+y] += s * cv[j*dd+x] * cv[j*dd+y]
			}
		}
	}
	a := matmul(dd, root, matmul(dd, b.dm, root))
	w, v := eigh(dd, a)
	x := v[(dd-1)*dd:]
	s := make([]float64, dd)
	for i := 0; i < dd; i++ {
		for j := 0; j < dd; j++ {
			s[i] += root[i*dd+j] * x[j]
		}
	}
	return w[dd-1], s
}

// q returns Q = I - 2 eta C + eta^2 D.
func (b *brute) q(eta float64) []float64 {
	dd := b.d * b.d
	q := make([]float64, dd*dd)
	for i := range q {
		q[i] = -2*eta*b.c[i] + eta*eta*b.dm[i]
	}
	for i := 0; i < dd; i++ {
		q[i*dd+i]++
	}
	return q
}

// restrict returns (V kron V)^T M (V kron V) for a d^2 x d^2 matrix M and the range basis V.
func (b *brute) restrict(m []float64) []float64 {
	d, r := b.d, b.r
	dd, rr := d*d, r*r
	vv := make([]float64, dd*rr)
	for a := 0; a < d; a++ {
		for c := 0; c < d; c++ {
			for x := 0; x < r; x++ {
				for y := 0; y < r; y++ {
					vv[(a*d+c)*rr+x*r+y] = b.rangeV[a*r+x] * b.rangeV[c*r+y]
				}
			}
		}
	}
	out := make([]float64, rr*rr)
	tmp := make([]float64, dd*rr)
	for i := 0; i < dd; i++ {
		for k := 0; k < dd; k++ {
			if m[i*dd+k] == 0 {
				continue
			}
			for j := 0; j < rr; j++ {
				tmp[i*rr+j] += m[i*dd+k] * vv[k*rr+j]
			}
		}
	}
	for i := 0; i < rr; i++ {
		for k := 0; k < dd; k++ {
			for j := 0; j < rr; j++ {
				out[i*rr+j] += vv[k*rr+i] * tmp[k*rr+j]
			}
		}
	}
	return out
}

func matmul(n int, a, b []float64) []float64 {
	c := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for k := 0; k < n; k++ {
			if a[i*n+k] == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				c[i*n+j] += a[i*n+k] * b[k*n+j]
			}
		}
	}
	return c
}

// gramOf returns the Gram matrix G G^T of the stacked G_i = M_i^{1/2} J_i of f (unscaled), as a
// trainer hands it over in Factored.Gram, multiplied out of the factors.
func gramOf(tb testing.TB, f *Factored) []float64 {
	tb.Helper()
	nm := 1
	if f.OutputHessians != nil {
		nm = f.N
	}
	roots := make([][]float64, nm)
	for i := range roots {
		var err error
		if roots[i], err = psdRoot(f.outputHessian(i), f.K, 1, 1); err != nil {
			tb.Fatal(err)
		}
	}
	cols := make([]int, f.D)
	for c := range cols {
		cols[c] = c
	}
	s := &factSpace{n: f.N, k: f.K, d: f.D, roots: roots, j: f.Factors, cols: cols}
	return gramMatrix(f.N*f.K, f.D, gramChunk, s.gather)
}

// randSymmetric returns an r x r symmetric matrix with independent standard normal entries on
// and above the diagonal.
func randSymmetric(rng *rand.Rand, r int) []float64 {
	s := make([]float64, r*r)
	for a := 0; a < r; a++ {
		for b := a; b < r; b++ {
			s[a*r+b] = rng.NormFloat64()
			s[b*r+a] = s[a*r+b]
		}
	}
	return s
}
