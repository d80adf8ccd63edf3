package validate

import (
	"fmt"
	"math"

	"github.com/sgdstability/sgdstab/internal/linalg"
)

// Linear is the linearization of SGD at a minimum w*, written in an orthonormal eigenbasis of
// range(H) (THEORY.md, "Structure worth exploiting"): coordinates y in R^R with x = w - w* = V y,
// per-sample Hessians Hh_i = F_i^T F_i (F_i is K x R), and H = (1/N) sum_i Hh_i = diag(L).
// The per-sample gradients are taken to be zero (an interpolating minimum: the threshold
// concerns the homogeneous part of the dynamics, Thm 3), so linearized SGD is
//
//	y_{t+1} = y_t - (eta/B) sum_{i in batch_t} F_i^T F_i y_t.
type Linear struct {
	N, K, R int
	// F holds the factors F_i stacked: row i*K+a, column b is F_i[a, b] ((N*K) x R row-major).
	F []float64
	// L holds the eigenvalues of H in the basis, descending: H = diag(L).
	L []float64
}

// block returns F_i (K x R, row-major view).
func (l *Linear) block(i int) []float64 { return l.F[i*l.K*l.R : (i+1)*l.K*l.R] }

// check panics unless the fields are consistent (misuse).
func (l *Linear) check() {
	if l.N < 1 || l.K < 1 || l.R < 1 || len(l.F) != l.N*l.K*l.R || len(l.L) != l.R {
		panic(fmt.Sprintf("validate: inconsistent Linear (N=%d K=%d R=%d len(F)=%d len(L)=%d)", l.N, l.K, l.R, len(l.F), len(l.L)))
	}
}

// DiagonalLinear builds the linearization of commuting, diagonal per-sample Hessians
// H_i = diag(h[i]) (every entry >= 0): F_i = diag(sqrt h[i]) (K = R = d). Coordinates whose
// mean curvature is zero are dropped (they are null(H)), and the others are sorted so that L
// is descending. For tests and closed-form checks.
func DiagonalLinear(h [][]float64) (*Linear, error) {
	n := len(h)
	if n == 0 || len(h[0]) == 0 {
		return nil, fmt.Errorf("validate: DiagonalLinear needs at least one sample and one coordinate")
	}
	d := len(h[0])
	mean := make([]float64, d)
	for i, hi := range h {
		if len(hi) != d {
			return nil, fmt.Errorf("validate: DiagonalLinear: sample %d has %d entries, want %d", i, len(hi), d)
		}
		for a, v := range hi {
			if !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("validate: DiagonalLinear: h[%d][%d] = %v is not a finite non-negative curvature", i, a, v)
			}
			mean[a] += v / float64(n)
		}
	}
	var keep []int
	for a, m := range mean {
		if m > 0 {
			keep = append(keep, a)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("validate: DiagonalLinear: H = 0, no curvature")
	}
	idx := order(mean, keep)
	r := len(idx)
	lin := &Linear{N: n, K: r, R: r, F: make([]float64, n*r*r), L: make([]float64, r)}
	for b, a := range idx {
		lin.L[b] = mean[a]
		for i := range h {
			lin.F[(i*r+b)*r+b] = math.Sqrt(h[i][a])
		}
	}
	return lin, nil
}

// order returns the indices keep sorted by decreasing v.
func order(v []float64, keep []int) []int {
	idx := append([]int(nil), keep...)
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && v[idx[j]] > v[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// GramLinear builds the linearization from the Gram matrix of the stacked square-root factors
// G_i = M^{1/2} J_i (gram[(i*K+a)*N*K + j*K+b] = (G_i G_j^T)_ab, (N K) x (N K)). With
// gram = U diag(s) U^T, the basis V = G^T U_r diag(s_r)^{-1/2} of range(H) gives F = U_r diag(s_r)^{1/2}
// and L = s_r / N, where r counts the eigenvalues above rankTol * max s (pass the analysis's
// Options.RankTol). gram is overwritten.
//
// The validation builds its linearization from train's closed-form Gram matrix
// (train.GaussNewtonGram), not from package analysis's basis, on purpose: the check of eta* does
// not share the analysis's code path. L[0] = lambda_max(H_GN) is therefore an independent
// recomputation of the analysis's sharpness, which the validation records as a cross-check.
func GramLinear(n, k int, gram []float64, rankTol float64) (*Linear, []float64, error) {
	nk := n * k
	if len(gram) != nk*nk {
		return nil, nil, fmt.Errorf("validate: Gram matrix has %d entries, want %d", len(gram), nk*nk)
	}
	w := make([]float64, nk)
	if err := linalg.EigSym(nk, gram, w, true); err != nil {
		return nil, nil, fmt.Errorf("validate: eigendecomposition of the Gram matrix: %v", err)
	}
	smax := w[nk-1]
	if !(smax > 0) {
		return nil, nil, fmt.Errorf("validate: the Gram matrix is zero: no curvature")
	}
	r := 0
	for r < nk && w[nk-1-r] > rankTol*smax {
		r++
	}
	lin := &Linear{N: n, K: k, R: r, F: make([]float64, nk*r), L: make([]float64, r)}
	u := make([]float64, nk*r) // U_r, for mapping back to parameters
	for a := 0; a < r; a++ {
		s := w[nk-1-a]
		lin.L[a] = s / float64(n)
		vec := gram[(nk-1-a)*nk : (nk-a)*nk]
		rs := math.Sqrt(s)
		for x := 0; x < nk; x++ {
			u[x*r+a] = vec[x]
			lin.F[x*r+a] = vec[x] * rs
		}
	}
	return lin, u, nil
}

// Truncate returns the compression of the problem onto the m leading eigendirections of H
// (the first m coordinates). Its generalized sharpness is a lower bound on the full one (the
// compression of a cone-preserving map has a smaller spectral radius).
func (l *Linear) Truncate(m int) *Linear {
	l.check()
	if m >= l.R {
		return l
	}
	if m < 1 {
		panic("validate: Truncate to fewer than one direction")
	}
	t := &Linear{N: l.N, K: l.K, R: m, F: make([]float64, l.N*l.K*m), L: append([]float64(nil), l.L[:m]...)}
	for row := 0; row < l.N*l.K; row++ {
		copy(t.F[row*m:(row+1)*m], l.F[row*l.R:row*l.R+m])
	}
	return t
}
