package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestStepW1Order checks the order in which a step of the fused engine applies the batch's W1
// gradient, against plain loops over the dense pixels of each sample (zeros skipped) with the
// hidden deltas dz the step computed: batches of at most seqMaxFor(h) samples add v (-s dz_b)
// for each sample b in turn; larger ones sum g = v_1 dz_1 + ... + v_B dz_B from 0 in batch order
// and subtract s g once (every multiply-add fused, kernels.go). Both must hold bit for bit, at
// h = 20 and at h = 100 (the blocked forward pass), and each must differ from the other order somewhere (else the test
// could not tell them apart).
func TestStepW1Order(t *testing.T) {
	ds, sp, c := loadSparseMNIST(t)
	const lr = 0.05
	for _, h := range []int{20, 100} {
		for _, batch := range []int{1, 2, 5, seqMaxBatch, seqMaxBatch + 1, 24} {
			name := fmt.Sprintf("h=%d/B=%d", h, batch)
			e := newFused(ds, sp, InitParams(ds.D, h, ds.K, 2, 3), c, batch)
			rng := rand.New(rand.NewPCG(uint64(h), uint64(batch)))
			for step := 0; step < 3; step++ {
				rows := rng.Perm(ds.N)[:batch]
				w := append([]float64(nil), e.w1t...)
				e.step(rows, lr)
				s := lr / float64(batch)
				inTurn, summed := append([]float64(nil), w...), append([]float64(nil), w...)
				g := make([]float64, len(w))
				for b, i := range rows {
					for q, v := range ds.Row(i) {
						if v == 0 {
							continue
						}
						for j := 0; j < h; j++ {
							at, d := q*e.stride+j, e.dz[b*e.stride+j]
							inTurn[at] = math.FMA(v, -s*d, inTurn[at])
							g[at] = math.FMA(v, d, g[at])
						}
					}
				}
				for q := range summed {
					summed[q] = math.FMA(-s, g[q], summed[q])
				}
				want, other := summed, inTurn
				if batch <= e.seqMax {
					want, other = inTurn, summed
				}
				if !sameBits(e.w1t, want) {
					t.Fatalf("%s, step %d: W1 is not the expected order's", name, step)
				}
				if sameBits(want, other) {
					t.Fatalf("%s, step %d: both orders give the same W1; the test cannot tell them apart", name, step)
				}
			}
		}
	}
}
