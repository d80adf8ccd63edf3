//go:build !amd64

package train

func gatherDot10Impl(idx []int, val []float64, m []float64, stride, off int, out *[10]float64) {
	gatherDot10Go(idx, val, m, stride, off, out)
}
