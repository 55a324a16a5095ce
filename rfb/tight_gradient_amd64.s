//go:build amd64 && !purego

#include "textflag.h"

// The gradient predictor's error (gradientErrorGo) in SSE2: pixels go
// in 16-bit lanes, R, G, B and X; pred = left + up - upleft clamped to
// 0..255; |cur - pred| summed with PMADDWD by weights 1, 1, 1, 0 (X does
// not count). Integer throughout, so the sum is the Go form's exactly.

DATA gradK<>+0(SB)/8, $0x00ff00ff00ff00ff
DATA gradK<>+8(SB)/8, $0x00ff00ff00ff00ff
DATA gradK<>+16(SB)/8, $0x0000000100010001
DATA gradK<>+24(SB)/8, $0x0000000100010001
GLOBL gradK<>(SB), RODATA|NOPTR, $32

// HALF adds the error of the two pixels in the bytes unpacked by UNPACK
// (PUNPCKLBW or PUNPCKHBW) from X0 (cur), X1 (left), X2 (up), X3 (upleft)
// to X12. X15 is zero, X14 255 in each lane, X13 the weights.
#define HALF(UNPACK) \
	MOVO   X0, X4 \
	UNPACK X15, X4 \
	MOVO   X1, X5 \
	UNPACK X15, X5 \
	MOVO   X2, X6 \
	UNPACK X15, X6 \
	MOVO   X3, X7 \
	UNPACK X15, X7 \
	PADDW  X6, X5 \
	PSUBW  X7, X5 \
	PMAXSW X15, X5 \
	PMINSW X14, X5 \
	PSUBW  X5, X4 \
	MOVO   X15, X5 \
	PSUBW  X4, X5 \
	PMAXSW X5, X4 \
	PMADDWL X13, X4 \
	PADDL  X4, X12

// func gradientErrorSSE2(row, up []byte) int
TEXT ·gradientErrorSSE2(SB), NOSPLIT, $0-56
	MOVQ row_base+0(FP), SI
	MOVQ row_len+8(FP), CX
	MOVQ up_base+24(FP), DI
	PXOR X12, X12
	PXOR X15, X15
	MOVOU gradK<>+0(SB), X14
	MOVOU gradK<>+16(SB), X13
	SHRQ $2, CX
	SUBQ $1, CX // pixels judged: all but the first
	JLE  done
	ADDQ $4, SI
	ADDQ $4, DI
loop4:
	CMPQ CX, $4
	JLT  tail2
	MOVOU 0(SI), X0
	MOVOU -4(SI), X1
	MOVOU 0(DI), X2
	MOVOU -4(DI), X3
	HALF(PUNPCKLBW)
	HALF(PUNPCKHBW)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JMP  loop4
tail2:
	CMPQ CX, $2
	JLT  tail1
	MOVQ 0(SI), X0
	MOVQ -4(SI), X1
	MOVQ 0(DI), X2
	MOVQ -4(DI), X3
	HALF(PUNPCKLBW)
	ADDQ $8, SI
	ADDQ $8, DI
	SUBQ $2, CX
tail1:
	CMPQ CX, $1
	JLT  done
	MOVL 0(SI), X0
	MOVL -4(SI), X1
	MOVL 0(DI), X2
	MOVL -4(DI), X3
	HALF(PUNPCKLBW)
done:
	PSHUFD $0x4e, X12, X0
	PADDL  X0, X12
	PSHUFD $0xb1, X12, X0
	PADDL  X0, X12
	MOVL   X12, AX
	MOVQ   AX, ret+48(FP)
	RET

DATA repK<>+0(SB)/8, $0x00ffffff00ffffff
DATA repK<>+8(SB)/8, $0x00ffffff00ffffff
GLOBL repK<>(SB), RODATA|NOPTR, $16

// func countRepeatsSSE2(row []byte) int
// PCMPEQL of each pixel (padding masked off) with its left neighbour,
// four at a time; the lanes are -1 where equal, so subtracting them counts.
TEXT ·countRepeatsSSE2(SB), NOSPLIT, $0-32
	MOVQ row_base+0(FP), SI
	MOVQ row_len+8(FP), CX
	PXOR X12, X12
	XORQ R8, R8
	MOVOU repK<>+0(SB), X14
	SHRQ $2, CX
	SUBQ $1, CX // pixels judged: all but the first
	JLE  rdone
	ADDQ $4, SI
rloop4:
	CMPQ CX, $4
	JLT  rtail
	MOVOU 0(SI), X0
	MOVOU -4(SI), X1
	PAND  X14, X0
	PAND  X14, X1
	PCMPEQL X1, X0
	PSUBL X0, X12
	ADDQ $16, SI
	SUBQ $4, CX
	JMP  rloop4
rtail: // the last pixels, one at a time
	CMPQ CX, $0
	JLE  rdone
	MOVL 0(SI), AX
	XORL -4(SI), AX
	ANDL $0x00ffffff, AX
	SETEQ DL
	MOVBQZX DL, DX
	ADDQ DX, R8
	ADDQ $4, SI
	SUBQ $1, CX
	JMP  rtail
rdone:
	PSHUFD $0x4e, X12, X0
	PADDL  X0, X12
	PSHUFD $0xb1, X12, X0
	PADDL  X0, X12
	MOVL   X12, AX
	ADDQ   R8, AX
	MOVQ   AX, ret+24(FP)
	RET
