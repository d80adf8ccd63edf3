package sampling

import "math/rand/v2"

// Batch draws a uniform random size-b subset of the indices in perm, without replacement, by a
// partial Fisher-Yates shuffle of perm's first b positions, and returns perm[:b] (in random
// order; valid until perm changes). perm must be a permutation of 0..n-1 (len n >= b); it is
// carried over from call to call, which keeps every subset uniform whatever perm held before.
// This is SGD's batch rule of THEORY.md (Setting), the draw of scheme [Independent].
func Batch(rng *rand.Rand, perm []int, b int) []int {
	n := len(perm)
	for t := 0; t < b; t++ {
		j := t + rng.IntN(n-t)
		perm[t], perm[j] = perm[j], perm[t]
	}
	return perm[:b]
}
