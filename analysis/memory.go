package analysis

import (
	"fmt"
	"math"
	"sync/atomic"
)

// MemoryEstimate returns the bytes (8 per float64) that an analysis of n samples in dimension d
// holds at its peak, from the shapes alone (before anything is allocated). With r the largest
// possible rank of H (r = min(nk, d) factored, r = d dense) and the operators acting on
// symmetric r x r matrices (THEORY.md, Thm 3), of dimension m = r(r+1)/2:
//
//	factored (k outputs), d >= nk: 8 [n k d + n d + 4 (nk)^2 + 512 nk + 4 nk r + n r + ops(r) + s(r)]
//	  (the factors J_i, the gradients, the nk x nk Gram matrix (a given one, Factored.Gram, and
//	  its scaled copy) with its eigenvectors and the eigensolver's workspace, the Gram chunk
//	  buffer, the basis matrices, the projected gradients)
//	factored, d < nk (r = d): 8 [n k d + n d + 3 d^2 + c d + 2 d r + 3 nk r + n k^2 + n r + ops(r) + s(r)]
//	  (the factors, the gradients, n H = G^T G with its eigenvectors and workspace, the buffer of
//	  c = max(512, k) rows of G, the basis V twice, the factors in the basis with the work space
//	  of D, the k x k matrices G_i G_i^T, the projected gradients)
//	s(r) = 1.5 nk r + 0.5 r^2 (the single-precision copies of the factors in the basis and the
//	  work space of D's single-precision products)
//	dense (k ignored):    8 [2 n d^2 + 3 d^2 + n d + n r^2 + 2 d r + ops(r)]
//	  (the H_i and their scaled copies, H with its eigenvectors and workspace, the gradients,
//	  the H_i in the basis, the basis)
//	ops(r) = 17 r^2 + (b + min(6, m)) m,  b = min(max(1.5e9 / (8 m), 10), 80, m)
//	  (the r x r matrices of the operators, certificates and solves, the Lanczos basis of b
//	  vectors of the generalized sharpness and its top Ritz vectors kept for the covariance
//	  solve, deflatePairs = 6)
//
// The estimate saturates at math.MaxUint64 (shapes like d = 10^12 do not overflow).
func MemoryEstimate(n, k, d int, factored bool) uint64 {
	fn, fk, fd := float64(n), float64(k), float64(d)
	var floats, r float64
	if factored {
		nk := fn * fk
		r = math.Min(nk, fd)
		if hessianPath(n, k, d) {
			floats = nk*fd + fn*fd + 3*fd*fd + math.Max(512, fk)*fd + 2*fd*r + 3*nk*r + fn*fk*fk + fn*r
		} else {
			floats = nk*fd + fn*fd + 4*nk*nk + 512*nk + 4*nk*r + fn*r
		}
		floats += 1.5*nk*r + 0.5*r*r
	} else {
		r = fd
		floats = 2*fn*fd*fd + 3*fd*fd + fn*fd + fn*r*r + 2*fd*r
	}
	m := r * (r + 1) / 2
	b := math.Min(math.Min(math.Max(math.Floor(1.5e9/(8*m)), 10), 80), m)
	floats += 17*r*r + (b+math.Min(deflatePairs, m))*m
	bytes := 8 * floats
	if !(bytes < math.MaxUint64) {
		return math.MaxUint64
	}
	return uint64(bytes)
}

// memoryLimit is the limit set by SetMemoryLimit (0: the default).
var memoryLimit atomic.Uint64

// SetMemoryLimit sets the most memory (bytes) an analysis may need by MemoryEstimate; 0 restores
// the default, 3/4 of the machine's memory (MemTotal of /proc/meminfo, else syscall.Sysinfo).
func SetMemoryLimit(bytes uint64) { memoryLimit.Store(bytes) }

// MemoryLimit returns the limit in force (bytes) and says where it comes from. With no set limit
// and no way to read the machine's memory it returns math.MaxUint64 (no limit).
func MemoryLimit() (uint64, string) {
	if l := memoryLimit.Load(); l > 0 {
		return l, "the set limit"
	}
	total := machineMemory()
	if total == 0 {
		return math.MaxUint64, "no limit (the machine's memory is unknown)"
	}
	return total / 4 * 3, fmt.Sprintf("3/4 of this machine's %s", FormatBytes(total))
}

// CheckMemory returns an error if MemoryEstimate(n, k, d, factored) is above MemoryLimit, saying
// the estimate, the limit and how to raise it.
func CheckMemory(n, k, d int, factored bool) error {
	est := MemoryEstimate(n, k, d, factored)
	limit, from := MemoryLimit()
	if est <= limit {
		return nil
	}
	shape := fmt.Sprintf("n = %d, d = %d, dense: n d x d Hessians", n, d)
	if factored {
		shape = fmt.Sprintf("n = %d, k = %d, d = %d, factored: an nk x nk = %d x %d Gram matrix and n k d factors", n, k, d, n*k, n*k)
		if hessianPath(n, k, d) {
			shape = fmt.Sprintf("n = %d, k = %d, d = %d, factored: a d x d matrix H and n k d factors", n, k, d)
		}
	}
	return fmt.Errorf("analysis: needs about %s of memory (%s), above the limit of %s (%s); "+
		"raise it with -max-memory BYTES (sweep, validate) or analysis.SetMemoryLimit, or use smaller shapes",
		FormatBytes(est), shape, FormatBytes(limit), from)
}

// FormatBytes writes a byte count in B, KB, MB, GB, TB (powers of 1000) with 3 digits.
func FormatBytes(b uint64) string {
	x := float64(b)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB", "PB"} {
		if x < 1000 || u == "PB" {
			if u == "B" {
				return fmt.Sprintf("%d B", b)
			}
			return fmt.Sprintf("%.3g %s", x, u)
		}
		x /= 1000
	}
	return ""
}

// checkInputMemory is CheckMemory for the shapes of a *Dense or *Factored input (nil: no check;
// the input's validation reports it).
func checkInputMemory(in any) error {
	switch v := in.(type) {
	case *Dense:
		if v != nil {
			return CheckMemory(v.N, 0, v.D, false)
		}
	case *Factored:
		if v != nil {
			return CheckMemory(v.N, v.K, v.D, true)
		}
	}
	return nil
}
