package train

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkKMicro(b *testing.B) {
	for _, rowsN := range []int{40, 784} {
		for _, h := range []int{20, 48, 100} {
			b.Run(fmt.Sprintf("rows=%d/h=%d", rowsN, h), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				m := make([]float64, rowsN*h)
				for i := range m {
					m[i] = rng.Float64()
				}
				idx := make([]int, 150)
				val := make([]float64, 150)
				for q := range idx {
					idx[q] = rng.IntN(rowsN)
					val[q] = rng.Float64()
				}
				out := make([]float64, h)
				for it := 0; it < b.N; it++ {
					dotRows(idx, val, m, h, 0, rowsN-1, out)
				}
				b.ReportMetric(float64(b.N*150)/b.Elapsed().Seconds()/1e6, "Mentries/s")
			})
		}
	}
}
