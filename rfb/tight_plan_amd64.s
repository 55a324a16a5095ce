//go:build amd64 && !purego

#include "textflag.h"

// The tile judge's row work in SSE2: four pixels in a register, the
// padding byte masked off (planK). A row of n pixels goes in groups of
// four; the last group starts at n-4, so it may cover pixels already
// done, which changes neither a mask nor a sum of ORs.

DATA planK<>+0(SB)/8, $0x00ffffff00ffffff
DATA planK<>+8(SB)/8, $0x00ffffff00ffffff
DATA planK<>+16(SB)/8, $0x0808080808080808
DATA planK<>+24(SB)/8, $0x0808080808080808
GLOBL planK<>(SB), RODATA|NOPTR, $32

// func newPixelsSSE2(row, up []byte) uint32
// Requires 5 <= n <= 32 pixels in row, and up empty or as long as row.
// R8 collects a bit for every pixel equal to its left neighbour or to
// the one above; the result is the others.
TEXT ·newPixelsSSE2(SB), NOSPLIT, $0-52
	MOVQ row_base+0(FP), SI
	MOVQ row_len+8(FP), R10
	MOVQ up_base+24(FP), DI
	MOVQ up_len+32(FP), R11
	SHRQ $2, R10 // n
	LEAQ -4(R10), R9 // the last group's start
	MOVOU planK<>+0(SB), X14
	XORQ R8, R8
	MOVQ $1, BX // left: pixels 1 to n-1
nleft:
	CMPQ BX, R10
	JGE  nup
	MOVQ BX, CX
	CMPQ CX, R9
	JLE  nleft1
	MOVQ R9, CX
nleft1:
	MOVOU   (SI)(CX*4), X0
	MOVOU   -4(SI)(CX*4), X1
	PAND    X14, X0
	PAND    X14, X1
	PCMPEQL X1, X0
	MOVMSKPS X0, AX
	SHLQ    CX, AX
	ORQ     AX, R8
	ADDQ    $4, BX
	JMP     nleft
nup:
	TESTQ R11, R11
	JZ    ndone
	XORQ  BX, BX // up: pixels 0 to n-1
nup1:
	CMPQ BX, R10
	JGE  ndone
	MOVQ BX, CX
	CMPQ CX, R9
	JLE  nup2
	MOVQ R9, CX
nup2:
	MOVOU   (SI)(CX*4), X0
	MOVOU   (DI)(CX*4), X1
	PAND    X14, X0
	PAND    X14, X1
	PCMPEQL X1, X0
	MOVMSKPS X0, AX
	SHLQ    CX, AX
	ORQ     AX, R8
	ADDQ    $4, BX
	JMP     nup1
ndone:
	MOVQ R10, CX
	MOVQ $1, AX
	SHLQ CX, AX
	SUBQ $1, AX // n ones
	NOTQ R8
	ANDQ R8, AX
	MOVL AX, ret+48(FP)
	RET

// SOFT ORs into X12 the absolute differences of X0 and X1, padding
// masked off, and into X13 by how much they exceed tightSoftStep (X15).
#define SOFT \
	MOVOU   X0, X2 \
	PSUBUSB X1, X2 \
	PSUBUSB X0, X1 \
	POR     X1, X2 \
	PAND    X14, X2 \
	POR     X2, X12 \
	PSUBUSB X15, X2 \
	POR     X2, X13

// func tileSoftSSE2(pix []byte, stride, w, h int) int
// Requires 5 <= w <= 32 and h >= 1, and pix holding h rows of w pixels,
// stride bytes apart. Returns 0 when two neighbouring pixels (across or
// down) are more than tightSoftStep apart in a channel, else 1, or 3
// when they are all the same.
TEXT ·tileSoftSSE2(SB), NOSPLIT, $0-56
	MOVQ pix_base+0(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ w+32(FP), R10
	MOVQ h+40(FP), R11
	LEAQ -4(R10), R9 // the last group's start
	MOVOU planK<>+0(SB), X14
	MOVOU planK<>+16(SB), X15
	PXOR  X12, X12
	PXOR  X11, X11 // zero
	XORQ  DI, DI // the row above, none for the first
srow:
	PXOR X13, X13
	MOVQ $1, BX // across: pixels 1 to w-1
sleft:
	CMPQ BX, R10
	JGE  sup
	MOVQ BX, CX
	CMPQ CX, R9
	JLE  sleft1
	MOVQ R9, CX
sleft1:
	MOVOU (SI)(CX*4), X0
	MOVOU -4(SI)(CX*4), X1
	SOFT
	ADDQ  $4, BX
	JMP   sleft
sup:
	TESTQ DI, DI
	JZ    snext
	XORQ  BX, BX // down: pixels 0 to w-1
sup1:
	CMPQ BX, R10
	JGE  snext
	MOVQ BX, CX
	CMPQ CX, R9
	JLE  sup2
	MOVQ R9, CX
sup2:
	MOVOU (SI)(CX*4), X0
	MOVOU (DI)(CX*4), X1
	SOFT
	ADDQ  $4, BX
	JMP   sup1
snext:
	PCMPEQB  X11, X13
	PMOVMSKB X13, AX
	CMPL     AX, $0xffff
	JNE      shard
	MOVQ     SI, DI
	ADDQ     DX, SI
	SUBQ     $1, R11
	JG       srow
	PCMPEQB  X11, X12
	PMOVMSKB X12, AX
	CMPL     AX, $0xffff
	JNE      ssoft
	MOVQ     $3, ret+48(FP)
	RET
ssoft:
	MOVQ $1, ret+48(FP)
	RET
shard:
	MOVQ $0, ret+48(FP)
	RET
