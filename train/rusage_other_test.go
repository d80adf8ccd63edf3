//go:build !unix

package train

import "math"

func cpuSeconds() float64       { return math.NaN() }
func threadCPUSeconds() float64 { return math.NaN() }
