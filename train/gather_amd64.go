package train

// gatherDot10Impl is gatherDot10 in SSE2 assembly (two lanes per instruction, separate
// multiplications and additions, so the results equal gatherDot10Go's bit for bit). The caller
// checks the bounds.
//
//go:noescape
func gatherDot10Impl(idx []int, val []float64, m []float64, stride, off int, out *[10]float64)
