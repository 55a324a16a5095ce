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

DATA g24K<>+0(SB)/8, $0x00ff000000ff0000
DATA g24K<>+8(SB)/8, $0x00ff000000ff0000
DATA g24K<>+16(SB)/8, $0x0000ff000000ff00
DATA g24K<>+24(SB)/8, $0x0000ff000000ff00
DATA g24K<>+32(SB)/8, $0x000000ff000000ff
DATA g24K<>+40(SB)/8, $0x000000ff000000ff
GLOBL g24K<>(SB), RODATA|NOPTR, $48

// RESID puts in DST the residuals, modulo 256 in 16-bit lanes, of the two
// pixels in the bytes unpacked by UNPACK from X0 (cur), X1 (left), X2
// (up) and X3 (upleft). X15 is zero, X14 255 in each lane.
#define RESID(UNPACK, DST) \
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
	MOVO   X0, DST \
	UNPACK X15, DST \
	PSUBW  X5, DST \
	PAND   X14, DST

// func gradientRow24SSE2(out, row, up []byte)
// The gradient filter (gradientRow24Go) from the second pixel on, four
// pixels at a time: residuals as in gradientErrorSSE2 but kept, packed
// back to bytes, B and R swapped in each pixel, and stored 3 bytes a
// pixel (a 4-byte store whose last byte the next pixel overwrites, but
// for the last of a group). The last group starts at n-4, so it may
// compute again pixels already stored, to the same bytes.
// Requires n >= 5 pixels in row, up as long and out 3n bytes.
TEXT ·gradientRow24SSE2(SB), NOSPLIT, $0-72
	MOVQ out_base+0(FP), DI
	MOVQ row_base+24(FP), SI
	MOVQ row_len+32(FP), R10
	MOVQ up_base+48(FP), DX
	SHRQ $2, R10 // n
	LEAQ -4(R10), R9 // the last group's start
	PXOR  X15, X15
	MOVOU gradK<>+0(SB), X14
	MOVOU g24K<>+0(SB), X13
	MOVOU g24K<>+16(SB), X12
	MOVOU g24K<>+32(SB), X11
	MOVQ  $1, BX
g24loop:
	CMPQ BX, R10
	JGE  g24done
	MOVQ BX, CX
	CMPQ CX, R9
	JLE  g24group
	MOVQ R9, CX
g24group:
	MOVOU (SI)(CX*4), X0
	MOVOU -4(SI)(CX*4), X1
	MOVOU (DX)(CX*4), X2
	MOVOU -4(DX)(CX*4), X3
	RESID(PUNPCKLBW, X8)
	RESID(PUNPCKHBW, X9)
	PACKUSWB X9, X8 // B G R X residuals of 4 pixels
	MOVO     X8, X4
	PSLLL    $16, X4
	PAND     X13, X4 // B to byte 2
	MOVO     X8, X5
	PSRLL    $16, X5
	PAND     X11, X5 // R to byte 0
	PAND     X12, X8 // G stays
	POR      X4, X8
	POR      X5, X8
	LEAQ     (CX)(CX*2), AX
	ADDQ     DI, AX
	MOVQ     X8, R11
	MOVL     R11, 0(AX)
	SHRQ     $32, R11
	MOVL     R11, 3(AX)
	PSRLDQ   $8, X8
	MOVQ     X8, R11
	MOVL     R11, 6(AX)
	SHRQ     $32, R11
	MOVW     R11, 9(AX)
	SHRL     $16, R11
	MOVB     R11, 11(AX)
	ADDQ     $4, BX
	JMP      g24loop
g24done:
	RET
