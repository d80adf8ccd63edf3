#include "textflag.h"

// func gatherDot10Impl(idx []int, val []float64, m []float64, stride, off int, out *[10]float64)
TEXT ·gatherDot10Impl(SB), NOSPLIT, $0-96
	MOVQ idx_base+0(FP), SI
	MOVQ idx_len+8(FP), CX
	MOVQ val_base+24(FP), DI
	MOVQ m_base+48(FP), DX
	MOVQ stride+72(FP), R8
	MOVQ off+80(FP), R9
	MOVQ out+88(FP), R10
	SHLQ $3, R8
	LEAQ (DX)(R9*8), DX
	XORPS X0, X0
	XORPS X1, X1
	XORPS X2, X2
	XORPS X3, X3
	XORPS X4, X4
	TESTQ CX, CX
	JE done

loop:
	MOVQ (SI), AX
	IMULQ R8, AX
	MOVSD (DI), X5
	UNPCKLPD X5, X5
	MOVUPD 0(DX)(AX*1), X6
	MULPD X5, X6
	ADDPD X6, X0
	MOVUPD 16(DX)(AX*1), X7
	MULPD X5, X7
	ADDPD X7, X1
	MOVUPD 32(DX)(AX*1), X6
	MULPD X5, X6
	ADDPD X6, X2
	MOVUPD 48(DX)(AX*1), X7
	MULPD X5, X7
	ADDPD X7, X3
	MOVUPD 64(DX)(AX*1), X6
	MULPD X5, X6
	ADDPD X6, X4
	ADDQ $8, SI
	ADDQ $8, DI
	DECQ CX
	JNZ loop

done:
	MOVUPD X0, 0(R10)
	MOVUPD X1, 16(R10)
	MOVUPD X2, 32(R10)
	MOVUPD X3, 48(R10)
	MOVUPD X4, 64(R10)
	RET
