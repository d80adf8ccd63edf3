package sampling

// P returns p = (n - B) / (B (n - 1)) (THEORY.md, Setting): the factor by which drawing a size-B
// batch without replacement shrinks the covariance of a batch mean; 1 at B = 1, 0 at B = n, and
// 0 for n = 1. It is also the single-sample probability of the mixture process ALG(p) (Prop. 2).
// The caller checks 1 <= batch <= n.
func P(n, batch int) float64 {
	if n <= 1 {
		return 0
	}
	return float64(n-batch) / (float64(batch) * float64(n-1))
}
