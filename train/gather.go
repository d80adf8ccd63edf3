package train

// gatherDot10Go is the portable form of gatherDot10: out[k] = sum_q val[q] m[idx[q]*stride+off+k]
// for k < 10, each sum taken in increasing q from 0 with one rounding per multiplication and per
// addition (no fused multiply-add), so every implementation gives the same bits.
func gatherDot10Go(idx []int, val []float64, m []float64, stride, off int, out *[10]float64) {
	var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 float64
	val = val[:len(idx)]
	for q, p := range idx {
		v := val[q]
		r := m[p*stride+off : p*stride+off+10 : p*stride+off+10]
		s0 += v * r[0]
		s1 += v * r[1]
		s2 += v * r[2]
		s3 += v * r[3]
		s4 += v * r[4]
		s5 += v * r[5]
		s6 += v * r[6]
		s7 += v * r[7]
		s8 += v * r[8]
		s9 += v * r[9]
	}
	*out = [10]float64{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9}
}

// gatherDot10 computes out[k] = sum_q val[q] m[idx[q]*stride+off+k] for k < 10 (see
// gatherDot10Go for the order of operations). maxIdx bounds the entries of idx (all idx[q] <=
// maxIdx); it panics if a row could fall outside m.
func gatherDot10(idx []int, val []float64, m []float64, stride, off, maxIdx int, out *[10]float64) {
	if len(val) < len(idx) || off < 0 || maxIdx*stride+off+10 > len(m) {
		panic("train: gatherDot10 out of range")
	}
	if len(idx) == 0 {
		*out = [10]float64{}
		return
	}
	gatherDot10Impl(idx, val, m, stride, off, out)
}
