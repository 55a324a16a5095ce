//go:build amd64 && !purego

#include "textflag.h"

// SSE2 and AVX2 forms of FastJPEG's kernels (see jpegenc_kernels.go for
// what each computes); every float32 operation is the one the Go form
// does, in the same order, so the results are bit-identical.

// Broadcast constants, four lanes each (the float32 values of the Go
// constants, as their bit patterns).
// yR = 0.299
DATA jpegK<>+0(SB)/4, $0x3e991687
DATA jpegK<>+4(SB)/4, $0x3e991687
DATA jpegK<>+8(SB)/4, $0x3e991687
DATA jpegK<>+12(SB)/4, $0x3e991687
#define K_yR jpegK<>+0(SB)
// yG = 0.587
DATA jpegK<>+16(SB)/4, $0x3f1645a2
DATA jpegK<>+20(SB)/4, $0x3f1645a2
DATA jpegK<>+24(SB)/4, $0x3f1645a2
DATA jpegK<>+28(SB)/4, $0x3f1645a2
#define K_yG jpegK<>+16(SB)
// yB = 0.114
DATA jpegK<>+32(SB)/4, $0x3de978d5
DATA jpegK<>+36(SB)/4, $0x3de978d5
DATA jpegK<>+40(SB)/4, $0x3de978d5
DATA jpegK<>+44(SB)/4, $0x3de978d5
#define K_yB jpegK<>+32(SB)
// bR = -0.168736
DATA jpegK<>+48(SB)/4, $0xbe2cc921
DATA jpegK<>+52(SB)/4, $0xbe2cc921
DATA jpegK<>+56(SB)/4, $0xbe2cc921
DATA jpegK<>+60(SB)/4, $0xbe2cc921
#define K_bR jpegK<>+48(SB)
// bG = -0.331264
DATA jpegK<>+64(SB)/4, $0xbea99b6f
DATA jpegK<>+68(SB)/4, $0xbea99b6f
DATA jpegK<>+72(SB)/4, $0xbea99b6f
DATA jpegK<>+76(SB)/4, $0xbea99b6f
#define K_bG jpegK<>+64(SB)
// bB = 0.5
DATA jpegK<>+80(SB)/4, $0x3f000000
DATA jpegK<>+84(SB)/4, $0x3f000000
DATA jpegK<>+88(SB)/4, $0x3f000000
DATA jpegK<>+92(SB)/4, $0x3f000000
#define K_bB jpegK<>+80(SB)
// rR = 0.5
DATA jpegK<>+96(SB)/4, $0x3f000000
DATA jpegK<>+100(SB)/4, $0x3f000000
DATA jpegK<>+104(SB)/4, $0x3f000000
DATA jpegK<>+108(SB)/4, $0x3f000000
#define K_rR jpegK<>+96(SB)
// rG = -0.418688
DATA jpegK<>+112(SB)/4, $0xbed65e46
DATA jpegK<>+116(SB)/4, $0xbed65e46
DATA jpegK<>+120(SB)/4, $0xbed65e46
DATA jpegK<>+124(SB)/4, $0xbed65e46
#define K_rG jpegK<>+112(SB)
// rB = -0.081312
DATA jpegK<>+128(SB)/4, $0xbda686e8
DATA jpegK<>+132(SB)/4, $0xbda686e8
DATA jpegK<>+136(SB)/4, $0xbda686e8
DATA jpegK<>+140(SB)/4, $0xbda686e8
#define K_rB jpegK<>+128(SB)
// bR4 = -0.042184
DATA jpegK<>+144(SB)/4, $0xbd2cc921
DATA jpegK<>+148(SB)/4, $0xbd2cc921
DATA jpegK<>+152(SB)/4, $0xbd2cc921
DATA jpegK<>+156(SB)/4, $0xbd2cc921
#define K_bR4 jpegK<>+144(SB)
// bG4 = -0.082816
DATA jpegK<>+160(SB)/4, $0xbda99b6f
DATA jpegK<>+164(SB)/4, $0xbda99b6f
DATA jpegK<>+168(SB)/4, $0xbda99b6f
DATA jpegK<>+172(SB)/4, $0xbda99b6f
#define K_bG4 jpegK<>+160(SB)
// bB4 = 0.125
DATA jpegK<>+176(SB)/4, $0x3e000000
DATA jpegK<>+180(SB)/4, $0x3e000000
DATA jpegK<>+184(SB)/4, $0x3e000000
DATA jpegK<>+188(SB)/4, $0x3e000000
#define K_bB4 jpegK<>+176(SB)
// rR4 = 0.125
DATA jpegK<>+192(SB)/4, $0x3e000000
DATA jpegK<>+196(SB)/4, $0x3e000000
DATA jpegK<>+200(SB)/4, $0x3e000000
DATA jpegK<>+204(SB)/4, $0x3e000000
#define K_rR4 jpegK<>+192(SB)
// rG4 = -0.104672
DATA jpegK<>+208(SB)/4, $0xbdd65e46
DATA jpegK<>+212(SB)/4, $0xbdd65e46
DATA jpegK<>+216(SB)/4, $0xbdd65e46
DATA jpegK<>+220(SB)/4, $0xbdd65e46
#define K_rG4 jpegK<>+208(SB)
// rB4 = -0.020328
DATA jpegK<>+224(SB)/4, $0xbca686e8
DATA jpegK<>+228(SB)/4, $0xbca686e8
DATA jpegK<>+232(SB)/4, $0xbca686e8
DATA jpegK<>+236(SB)/4, $0xbca686e8
#define K_rB4 jpegK<>+224(SB)
// c128 = 128
DATA jpegK<>+240(SB)/4, $0x43000000
DATA jpegK<>+244(SB)/4, $0x43000000
DATA jpegK<>+248(SB)/4, $0x43000000
DATA jpegK<>+252(SB)/4, $0x43000000
#define K_c128 jpegK<>+240(SB)
// C4 = 0.70710677
DATA jpegK<>+256(SB)/4, $0x3f3504f3
DATA jpegK<>+260(SB)/4, $0x3f3504f3
DATA jpegK<>+264(SB)/4, $0x3f3504f3
DATA jpegK<>+268(SB)/4, $0x3f3504f3
#define K_C4 jpegK<>+256(SB)
// C6 = 0.38268343
DATA jpegK<>+272(SB)/4, $0x3ec3ef15
DATA jpegK<>+276(SB)/4, $0x3ec3ef15
DATA jpegK<>+280(SB)/4, $0x3ec3ef15
DATA jpegK<>+284(SB)/4, $0x3ec3ef15
#define K_C6 jpegK<>+272(SB)
// C2C6 = 0.5411961
DATA jpegK<>+288(SB)/4, $0x3f0a8bd4
DATA jpegK<>+292(SB)/4, $0x3f0a8bd4
DATA jpegK<>+296(SB)/4, $0x3f0a8bd4
DATA jpegK<>+300(SB)/4, $0x3f0a8bd4
#define K_C2C6 jpegK<>+288(SB)
// C2p6 = 1.306563
DATA jpegK<>+304(SB)/4, $0x3fa73d75
DATA jpegK<>+308(SB)/4, $0x3fa73d75
DATA jpegK<>+312(SB)/4, $0x3fa73d75
DATA jpegK<>+316(SB)/4, $0x3fa73d75
#define K_C2p6 jpegK<>+304(SB)
// half = 16384.5
DATA jpegK<>+320(SB)/4, $0x46800100
DATA jpegK<>+324(SB)/4, $0x46800100
DATA jpegK<>+328(SB)/4, $0x46800100
DATA jpegK<>+332(SB)/4, $0x46800100
#define K_half jpegK<>+320(SB)
// mFF
DATA jpegK<>+336(SB)/4, $0x000000ff
DATA jpegK<>+340(SB)/4, $0x000000ff
DATA jpegK<>+344(SB)/4, $0x000000ff
DATA jpegK<>+348(SB)/4, $0x000000ff
#define K_mFF jpegK<>+336(SB)
// m00FF00FF
DATA jpegK<>+352(SB)/4, $0x00ff00ff
DATA jpegK<>+356(SB)/4, $0x00ff00ff
DATA jpegK<>+360(SB)/4, $0x00ff00ff
DATA jpegK<>+364(SB)/4, $0x00ff00ff
#define K_m00FF00FF jpegK<>+352(SB)
// mFFFF
DATA jpegK<>+368(SB)/4, $0x0000ffff
DATA jpegK<>+372(SB)/4, $0x0000ffff
DATA jpegK<>+376(SB)/4, $0x0000ffff
DATA jpegK<>+380(SB)/4, $0x0000ffff
#define K_mFFFF jpegK<>+368(SB)
// i16384
DATA jpegK<>+384(SB)/4, $0x00004000
DATA jpegK<>+388(SB)/4, $0x00004000
DATA jpegK<>+392(SB)/4, $0x00004000
DATA jpegK<>+396(SB)/4, $0x00004000
#define K_i16384 jpegK<>+384(SB)
GLOBL jpegK<>(SB), RODATA|NOPTR, $400

// CONV loads four BGRX pixels from off(SI) and leaves their B, G and R as
// float32 in X0, X1 and X2. X8 holds 0xFF in each lane.
#define CONV(off) \
	MOVOU off(SI), X0 \
	MOVO  X0, X1 \
	MOVO  X0, X2 \
	PSRLL $8, X1 \
	PSRLL $16, X2 \
	PAND  X8, X0 \
	PAND  X8, X1 \
	PAND  X8, X2 \
	CVTPL2PS X0, X0 \
	CVTPL2PS X1, X1 \
	CVTPL2PS X2, X2

// DOT leaves (X2·kr + X1·kg) + X0·kb in dst, using X3 as scratch.
#define DOT(kr, kg, kb, dst) \
	MOVUPS kr, dst \
	MULPS  X2, dst \
	MOVUPS kg, X3 \
	MULPS  X1, X3 \
	ADDPS  X3, dst \
	MOVUPS kb, X3 \
	MULPS  X0, X3 \
	ADDPS  X3, dst

// func jpegYCCSSE2(p *byte, stride int, y, cb, cr *[64]float32)
TEXT ·jpegYCCSSE2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ cb+24(FP), R8
	MOVQ cr+32(FP), R9
	MOVOU K_mFF, X8
	MOVUPS K_c128, X9
	MOVQ $8, CX
yccRow:
	CONV(0)
	DOT(K_yR, K_yG, K_yB, X4)
	SUBPS X9, X4
	MOVUPS X4, 0(DI)
	DOT(K_bR, K_bG, K_bB, X4)
	MOVUPS X4, 0(R8)
	DOT(K_rR, K_rG, K_rB, X4)
	MOVUPS X4, 0(R9)
	CONV(16)
	DOT(K_yR, K_yG, K_yB, X4)
	SUBPS X9, X4
	MOVUPS X4, 16(DI)
	DOT(K_bR, K_bG, K_bB, X4)
	MOVUPS X4, 16(R8)
	DOT(K_rR, K_rG, K_rB, X4)
	MOVUPS X4, 16(R9)
	ADDQ DX, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  yccRow
	RET

// func jpegLumaSSE2(p *byte, stride int, y *[64]float32)
TEXT ·jpegLumaSSE2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ y+16(FP), DI
	MOVOU K_mFF, X8
	MOVUPS K_c128, X9
	MOVQ $8, CX
lumaRow:
	CONV(0)
	DOT(K_yR, K_yG, K_yB, X4)
	SUBPS X9, X4
	MOVUPS X4, 0(DI)
	CONV(16)
	DOT(K_yR, K_yG, K_yB, X4)
	SUBPS X9, X4
	MOVUPS X4, 16(DI)
	ADDQ DX, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  lumaRow
	RET

// PAIRS sums the B, G, R of the pixel pairs of 8 pixels at off(SI) and
// off(SI)(DX*1) (eight sums of four samples) and leaves four sums of B, G
// and R as float32 in X0, X1 and X2. X8 holds 0x00FF00FF, X9 0xFFFF.
#define PAIRS(off) \
	MOVOU off(SI), X0 \
	MOVOU off(SI)(DX*1), X1 \
	MOVOU off+16(SI), X2 \
	MOVOU off+16(SI)(DX*1), X3 \
	MOVO  X0, X4 \
	MOVO  X1, X5 \
	MOVO  X2, X6 \
	MOVO  X3, X7 \
	PAND  X8, X0 \
	PAND  X8, X1 \
	PAND  X8, X2 \
	PAND  X8, X3 \
	PSRLW $8, X4 \
	PSRLW $8, X5 \
	PSRLW $8, X6 \
	PSRLW $8, X7 \
	PADDW X1, X0 \
	PADDW X3, X2 \
	PADDW X5, X4 \
	PADDW X7, X6 \
	MOVAPS X0, X1 \
	SHUFPS $0x88, X2, X0 \
	SHUFPS $0xDD, X2, X1 \
	PADDW  X1, X0 \
	MOVAPS X4, X1 \
	SHUFPS $0x88, X6, X4 \
	SHUFPS $0xDD, X6, X1 \
	PADDW  X4, X1 \
	PAND   X9, X1 \
	MOVO   X0, X2 \
	PAND   X9, X0 \
	PSRLL  $16, X2 \
	CVTPL2PS X0, X0 \
	CVTPL2PS X1, X1 \
	CVTPL2PS X2, X2

// func jpegChromaSSE2(p *byte, step, down int, cb, cr *[64]float32)
TEXT ·jpegChromaSSE2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ step+8(FP), BX
	MOVQ down+16(FP), DX
	MOVQ cb+24(FP), R8
	MOVQ cr+32(FP), R9
	MOVOU K_m00FF00FF, X8
	MOVOU K_mFFFF, X9
	MOVQ $8, CX
chromaRow:
	PAIRS(0)
	DOT(K_bR4, K_bG4, K_bB4, X4)
	MOVUPS X4, 0(R8)
	DOT(K_rR4, K_rG4, K_rB4, X4)
	MOVUPS X4, 0(R9)
	PAIRS(32)
	DOT(K_bR4, K_bG4, K_bB4, X4)
	MOVUPS X4, 16(R8)
	DOT(K_rR4, K_rG4, K_rB4, X4)
	MOVUPS X4, 16(R9)
	ADDQ BX, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  chromaRow
	RET

// TRANSPOSE4 transposes the 4×4 floats in a, b, c, d (rows to columns),
// using X12 and X13 as scratch.
#define TRANSPOSE4(a, b, c, d) \
	MOVAPS   a, X12 \
	UNPCKLPS b, X12 \
	UNPCKHPS b, a \
	MOVAPS   c, X13 \
	UNPCKLPS d, X13 \
	UNPCKHPS d, c \
	MOVAPS   X12, b \
	MOVLHPS  X13, X12 \
	MOVHLPS  b, X13 \
	MOVAPS   a, d \
	MOVLHPS  c, a \
	MOVHLPS  d, c \
	MOVAPS   c, d \
	MOVAPS   a, c \
	MOVAPS   X12, a \
	MOVAPS   X13, b

// QUANT quantises X6 by the four factors at roff(R8) (rounding to the
// nearest as int32(x + 16384.5) - 16384 does) and stores the four int16
// at toff(R9). X13 holds 16384.5, X14 16384.
#define QUANT(roff, toff) \
	MOVUPS roff(R8), X12 \
	MULPS  X12, X6 \
	ADDPS  X13, X6 \
	CVTTPS2PL X6, X6 \
	PSUBL  X14, X6 \
	PACKSSLW X6, X6 \
	MOVQ   X6, toff(R9)

// func jpegFDCTSSE2(d, recipT *[64]float32, coef *[64]int16) uint64
//
// Pass 1 transforms the columns of d in place, four at a time. Pass 2
// loads four rows at a time, transposes them so that the same lane-wise
// butterfly transforms rows, and quantises the outputs, which come out
// transposed (hence recipT): coef[c·8+r] is the coefficient of row r,
// column c. The result is the mask of the non-zero ones, bit c·8+r.
TEXT ·jpegFDCTSSE2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ recipT+8(FP), R8
	MOVQ coef+16(FP), R9
	MOVUPS 0(DI), X0
	MOVUPS 32(DI), X1
	MOVUPS 64(DI), X2
	MOVUPS 96(DI), X3
	MOVUPS 128(DI), X4
	MOVUPS 160(DI), X5
	MOVUPS 192(DI), X6
	MOVUPS 224(DI), X7
	MOVAPS X0, X8
	ADDPS  X7, X8
	SUBPS  X7, X0
	MOVAPS X1, X9
	ADDPS  X6, X9
	SUBPS  X6, X1
	MOVAPS X2, X10
	ADDPS  X5, X10
	SUBPS  X5, X2
	MOVAPS X3, X11
	ADDPS  X4, X11
	SUBPS  X4, X3
	MOVAPS X8, X4
	ADDPS  X11, X4
	SUBPS  X11, X8
	MOVAPS X9, X5
	ADDPS  X10, X5
	SUBPS  X10, X9
	MOVAPS X4, X6
	ADDPS  X5, X6
	MOVUPS X6, 0(DI)
	SUBPS  X5, X4
	MOVAPS X4, X6
	MOVUPS X6, 128(DI)
	ADDPS  X8, X9
	MOVUPS K_C4, X12
	MULPS  X12, X9
	MOVAPS X8, X6
	ADDPS  X9, X6
	MOVUPS X6, 64(DI)
	SUBPS  X9, X8
	MOVAPS X8, X6
	MOVUPS X6, 192(DI)
	ADDPS  X2, X3
	ADDPS  X1, X2
	ADDPS  X0, X1
	MOVAPS X3, X4
	SUBPS  X1, X4
	MOVUPS K_C6, X12
	MULPS  X12, X4
	MOVUPS K_C2C6, X12
	MULPS  X12, X3
	ADDPS  X4, X3
	MOVUPS K_C2p6, X12
	MULPS  X12, X1
	ADDPS  X4, X1
	MOVUPS K_C4, X12
	MULPS  X12, X2
	MOVAPS X0, X5
	ADDPS  X2, X5
	SUBPS  X2, X0
	MOVAPS X0, X6
	ADDPS  X3, X6
	MOVUPS X6, 160(DI)
	SUBPS  X3, X0
	MOVAPS X0, X6
	MOVUPS X6, 96(DI)
	MOVAPS X5, X6
	ADDPS  X1, X6
	MOVUPS X6, 32(DI)
	SUBPS  X1, X5
	MOVAPS X5, X6
	MOVUPS X6, 224(DI)
	MOVUPS 16(DI), X0
	MOVUPS 48(DI), X1
	MOVUPS 80(DI), X2
	MOVUPS 112(DI), X3
	MOVUPS 144(DI), X4
	MOVUPS 176(DI), X5
	MOVUPS 208(DI), X6
	MOVUPS 240(DI), X7
	MOVAPS X0, X8
	ADDPS  X7, X8
	SUBPS  X7, X0
	MOVAPS X1, X9
	ADDPS  X6, X9
	SUBPS  X6, X1
	MOVAPS X2, X10
	ADDPS  X5, X10
	SUBPS  X5, X2
	MOVAPS X3, X11
	ADDPS  X4, X11
	SUBPS  X4, X3
	MOVAPS X8, X4
	ADDPS  X11, X4
	SUBPS  X11, X8
	MOVAPS X9, X5
	ADDPS  X10, X5
	SUBPS  X10, X9
	MOVAPS X4, X6
	ADDPS  X5, X6
	MOVUPS X6, 16(DI)
	SUBPS  X5, X4
	MOVAPS X4, X6
	MOVUPS X6, 144(DI)
	ADDPS  X8, X9
	MOVUPS K_C4, X12
	MULPS  X12, X9
	MOVAPS X8, X6
	ADDPS  X9, X6
	MOVUPS X6, 80(DI)
	SUBPS  X9, X8
	MOVAPS X8, X6
	MOVUPS X6, 208(DI)
	ADDPS  X2, X3
	ADDPS  X1, X2
	ADDPS  X0, X1
	MOVAPS X3, X4
	SUBPS  X1, X4
	MOVUPS K_C6, X12
	MULPS  X12, X4
	MOVUPS K_C2C6, X12
	MULPS  X12, X3
	ADDPS  X4, X3
	MOVUPS K_C2p6, X12
	MULPS  X12, X1
	ADDPS  X4, X1
	MOVUPS K_C4, X12
	MULPS  X12, X2
	MOVAPS X0, X5
	ADDPS  X2, X5
	SUBPS  X2, X0
	MOVAPS X0, X6
	ADDPS  X3, X6
	MOVUPS X6, 176(DI)
	SUBPS  X3, X0
	MOVAPS X0, X6
	MOVUPS X6, 112(DI)
	MOVAPS X5, X6
	ADDPS  X1, X6
	MOVUPS X6, 48(DI)
	SUBPS  X1, X5
	MOVAPS X5, X6
	MOVUPS X6, 240(DI)
	MOVUPS K_i16384, X14
	MOVUPS 0(DI), X0
	MOVUPS 16(DI), X4
	MOVUPS 32(DI), X1
	MOVUPS 48(DI), X5
	MOVUPS 64(DI), X2
	MOVUPS 80(DI), X6
	MOVUPS 96(DI), X3
	MOVUPS 112(DI), X7
	TRANSPOSE4(X0, X1, X2, X3)
	TRANSPOSE4(X4, X5, X6, X7)
	MOVUPS K_half, X13
	MOVAPS X0, X8
	ADDPS  X7, X8
	SUBPS  X7, X0
	MOVAPS X1, X9
	ADDPS  X6, X9
	SUBPS  X6, X1
	MOVAPS X2, X10
	ADDPS  X5, X10
	SUBPS  X5, X2
	MOVAPS X3, X11
	ADDPS  X4, X11
	SUBPS  X4, X3
	MOVAPS X8, X4
	ADDPS  X11, X4
	SUBPS  X11, X8
	MOVAPS X9, X5
	ADDPS  X10, X5
	SUBPS  X10, X9
	MOVAPS X4, X6
	ADDPS  X5, X6
	QUANT(0, 0)
	SUBPS  X5, X4
	MOVAPS X4, X6
	QUANT(128, 64)
	ADDPS  X8, X9
	MOVUPS K_C4, X12
	MULPS  X12, X9
	MOVAPS X8, X6
	ADDPS  X9, X6
	QUANT(64, 32)
	SUBPS  X9, X8
	MOVAPS X8, X6
	QUANT(192, 96)
	ADDPS  X2, X3
	ADDPS  X1, X2
	ADDPS  X0, X1
	MOVAPS X3, X4
	SUBPS  X1, X4
	MOVUPS K_C6, X12
	MULPS  X12, X4
	MOVUPS K_C2C6, X12
	MULPS  X12, X3
	ADDPS  X4, X3
	MOVUPS K_C2p6, X12
	MULPS  X12, X1
	ADDPS  X4, X1
	MOVUPS K_C4, X12
	MULPS  X12, X2
	MOVAPS X0, X5
	ADDPS  X2, X5
	SUBPS  X2, X0
	MOVAPS X0, X6
	ADDPS  X3, X6
	QUANT(160, 80)
	SUBPS  X3, X0
	MOVAPS X0, X6
	QUANT(96, 48)
	MOVAPS X5, X6
	ADDPS  X1, X6
	QUANT(32, 16)
	SUBPS  X1, X5
	MOVAPS X5, X6
	QUANT(224, 112)
	MOVUPS 128(DI), X0
	MOVUPS 144(DI), X4
	MOVUPS 160(DI), X1
	MOVUPS 176(DI), X5
	MOVUPS 192(DI), X2
	MOVUPS 208(DI), X6
	MOVUPS 224(DI), X3
	MOVUPS 240(DI), X7
	TRANSPOSE4(X0, X1, X2, X3)
	TRANSPOSE4(X4, X5, X6, X7)
	MOVUPS K_half, X13
	MOVAPS X0, X8
	ADDPS  X7, X8
	SUBPS  X7, X0
	MOVAPS X1, X9
	ADDPS  X6, X9
	SUBPS  X6, X1
	MOVAPS X2, X10
	ADDPS  X5, X10
	SUBPS  X5, X2
	MOVAPS X3, X11
	ADDPS  X4, X11
	SUBPS  X4, X3
	MOVAPS X8, X4
	ADDPS  X11, X4
	SUBPS  X11, X8
	MOVAPS X9, X5
	ADDPS  X10, X5
	SUBPS  X10, X9
	MOVAPS X4, X6
	ADDPS  X5, X6
	QUANT(16, 8)
	SUBPS  X5, X4
	MOVAPS X4, X6
	QUANT(144, 72)
	ADDPS  X8, X9
	MOVUPS K_C4, X12
	MULPS  X12, X9
	MOVAPS X8, X6
	ADDPS  X9, X6
	QUANT(80, 40)
	SUBPS  X9, X8
	MOVAPS X8, X6
	QUANT(208, 104)
	ADDPS  X2, X3
	ADDPS  X1, X2
	ADDPS  X0, X1
	MOVAPS X3, X4
	SUBPS  X1, X4
	MOVUPS K_C6, X12
	MULPS  X12, X4
	MOVUPS K_C2C6, X12
	MULPS  X12, X3
	ADDPS  X4, X3
	MOVUPS K_C2p6, X12
	MULPS  X12, X1
	ADDPS  X4, X1
	MOVUPS K_C4, X12
	MULPS  X12, X2
	MOVAPS X0, X5
	ADDPS  X2, X5
	SUBPS  X2, X0
	MOVAPS X0, X6
	ADDPS  X3, X6
	QUANT(176, 88)
	SUBPS  X3, X0
	MOVAPS X0, X6
	QUANT(112, 56)
	MOVAPS X5, X6
	ADDPS  X1, X6
	QUANT(48, 24)
	SUBPS  X1, X5
	MOVAPS X5, X6
	QUANT(240, 120)
	// The mask of non-zero coefficients.
	PXOR X15, X15
	MOVOU 0(R9), X0
	MOVOU 16(R9), X1
	MOVOU 32(R9), X2
	MOVOU 48(R9), X3
	MOVOU 64(R9), X4
	MOVOU 80(R9), X5
	MOVOU 96(R9), X6
	MOVOU 112(R9), X7
	PCMPEQW X15, X0
	PCMPEQW X15, X1
	PCMPEQW X15, X2
	PCMPEQW X15, X3
	PCMPEQW X15, X4
	PCMPEQW X15, X5
	PCMPEQW X15, X6
	PCMPEQW X15, X7
	PACKSSWB X1, X0
	PACKSSWB X3, X2
	PACKSSWB X5, X4
	PACKSSWB X7, X6
	PMOVMSKB X0, AX
	PMOVMSKB X2, BX
	PMOVMSKB X4, CX
	PMOVMSKB X6, DX
	SHLQ $16, BX
	ORQ  BX, AX
	SHLQ $32, CX
	ORQ  CX, AX
	SHLQ $48, DX
	ORQ  DX, AX
	NOTQ AX
	MOVQ AX, ret+24(FP)
	RET

// AVX2 forms of the kernels, eight lanes at a time: a row of a block is
// one register. As the SSE2 forms, every float32 operation is the Go
// form's, in the same order, and none is fused (no FMA), so the results
// are bit-identical. They broadcast the constants above to eight lanes.

// CONV8 loads the eight BGRX pixels at off(SI) and leaves their B, G and
// R as float32 in Y0, Y1 and Y2. Y15 holds 0xFF in each lane.
#define CONV8(off) \
	VMOVDQU   off(SI), Y0 \
	VPSRLD    $8, Y0, Y1 \
	VPSRLD    $16, Y0, Y2 \
	VPAND     Y15, Y0, Y0 \
	VPAND     Y15, Y1, Y1 \
	VPAND     Y15, Y2, Y2 \
	VCVTDQ2PS Y0, Y0 \
	VCVTDQ2PS Y1, Y1 \
	VCVTDQ2PS Y2, Y2

// DOT8 leaves (Y2·kr + Y1·kg) + Y0·kb in dst, using Y3 as scratch.
#define DOT8(kr, kg, kb, dst) \
	VMULPS Y2, kr, dst \
	VMULPS Y1, kg, Y3 \
	VADDPS Y3, dst, dst \
	VMULPS Y0, kb, Y3 \
	VADDPS Y3, dst, dst

// func jpegYCCAVX2(p *byte, stride int, y, cb, cr *[64]float32)
TEXT ·jpegYCCAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ cb+24(FP), R8
	MOVQ cr+32(FP), R9
	VBROADCASTSS K_yR, Y5
	VBROADCASTSS K_yG, Y6
	VBROADCASTSS K_yB, Y7
	VBROADCASTSS K_bR, Y8
	VBROADCASTSS K_bG, Y9
	VBROADCASTSS K_bB, Y10
	VBROADCASTSS K_rR, Y11
	VBROADCASTSS K_rG, Y12
	VBROADCASTSS K_rB, Y13
	VBROADCASTSS K_c128, Y14
	VPBROADCASTD K_mFF, Y15
	MOVQ $8, CX
yccRow:
	CONV8(0)
	DOT8(Y5, Y6, Y7, Y4)
	VSUBPS  Y14, Y4, Y4
	VMOVUPS Y4, 0(DI)
	DOT8(Y8, Y9, Y10, Y4)
	VMOVUPS Y4, 0(R8)
	DOT8(Y11, Y12, Y13, Y4)
	VMOVUPS Y4, 0(R9)
	ADDQ DX, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  yccRow
	VZEROUPPER
	RET

// func jpegLumaAVX2(p *byte, stride int, y *[64]float32)
TEXT ·jpegLumaAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ y+16(FP), DI
	VBROADCASTSS K_yR, Y5
	VBROADCASTSS K_yG, Y6
	VBROADCASTSS K_yB, Y7
	VBROADCASTSS K_c128, Y14
	VPBROADCASTD K_mFF, Y15
	MOVQ $8, CX
lumaRow:
	CONV8(0)
	DOT8(Y5, Y6, Y7, Y4)
	VSUBPS  Y14, Y4, Y4
	VMOVUPS Y4, 0(DI)
	ADDQ DX, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  lumaRow
	VZEROUPPER
	RET

// func jpegChromaAVX2(p *byte, step, down int, cb, cr *[64]float32)
//
// A chroma row sums 16 pixels of two rows in pairs: the B and R of each
// pixel as two 16-bit words (mask 0x00FF00FF), and its G (and X) shifted
// down by 8; the two rows add word-wise, then the even and the odd pixels
// (VSHUFPS, within each 128-bit half), which leaves the eight sums in the
// order 0, 1, 4, 5, 2, 3, 6, 7 that VPERMQ puts right.
TEXT ·jpegChromaAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ step+8(FP), BX
	MOVQ down+16(FP), DX
	MOVQ cb+24(FP), R8
	MOVQ cr+32(FP), R9
	VPBROADCASTD K_m00FF00FF, Y8
	VPBROADCASTD K_mFFFF, Y9
	VBROADCASTSS K_bR4, Y10
	VBROADCASTSS K_bG4, Y11
	VBROADCASTSS K_bB4, Y12
	VBROADCASTSS K_rR4, Y13
	VBROADCASTSS K_rG4, Y14
	VBROADCASTSS K_rB4, Y15
	MOVQ $8, CX
chromaRow:
	VMOVDQU   0(SI), Y0
	VMOVDQU   32(SI), Y1
	VMOVDQU   0(SI)(DX*1), Y2
	VMOVDQU   32(SI)(DX*1), Y3
	VPSRLW    $8, Y0, Y4
	VPSRLW    $8, Y1, Y5
	VPSRLW    $8, Y2, Y6
	VPSRLW    $8, Y3, Y7
	VPAND     Y8, Y0, Y0
	VPAND     Y8, Y1, Y1
	VPAND     Y8, Y2, Y2
	VPAND     Y8, Y3, Y3
	VPADDW    Y2, Y0, Y0
	VPADDW    Y3, Y1, Y1
	VPADDW    Y6, Y4, Y4
	VPADDW    Y7, Y5, Y5
	VSHUFPS   $0x88, Y1, Y0, Y2
	VSHUFPS   $0xDD, Y1, Y0, Y3
	VPADDW    Y3, Y2, Y2
	VSHUFPS   $0x88, Y5, Y4, Y6
	VSHUFPS   $0xDD, Y5, Y4, Y7
	VPADDW    Y7, Y6, Y6
	VPERMQ    $0xD8, Y2, Y2
	VPERMQ    $0xD8, Y6, Y6
	VPAND     Y9, Y2, Y0
	VPSRLD    $16, Y2, Y2
	VPAND     Y9, Y6, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	DOT8(Y10, Y11, Y12, Y4)
	VMOVUPS Y4, 0(R8)
	DOT8(Y13, Y14, Y15, Y4)
	VMOVUPS Y4, 0(R9)
	ADDQ BX, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  chromaRow
	VZEROUPPER
	RET

// AAN8 is the one-dimensional AAN DCT of jpegButterfly, lane-wise on the
// eight registers p0…p7 (p0 the first input), with t0…t3 as scratch and
// the factors C4, C6, C2C6 and C2p6 in kC4, kC6, kC2C6, kC2p6. The
// outputs 0…7 are left in p6, t2, p4, p0, p7, t1, p5, t0.
#define AAN8(p0, p1, p2, p3, p4, p5, p6, p7, t0, t1, t2, t3, kC4, kC6, kC2C6, kC2p6) \
	VADDPS p7, p0, t0 \
	VSUBPS p7, p0, p0 \
	VADDPS p6, p1, t1 \
	VSUBPS p6, p1, p1 \
	VADDPS p5, p2, t2 \
	VSUBPS p5, p2, p2 \
	VADDPS p4, p3, t3 \
	VSUBPS p4, p3, p3 \
	VADDPS t3, t0, p4 \
	VSUBPS t3, t0, t0 \
	VADDPS t2, t1, p5 \
	VSUBPS t2, t1, t1 \
	VADDPS p5, p4, p6 \
	VSUBPS p5, p4, p7 \
	VADDPS t0, t1, t1 \
	VMULPS kC4, t1, t1 \
	VADDPS t1, t0, p4 \
	VSUBPS t1, t0, p5 \
	VADDPS p2, p3, p3 \
	VADDPS p1, p2, p2 \
	VADDPS p0, p1, p1 \
	VSUBPS p1, p3, t2 \
	VMULPS kC6, t2, t2 \
	VMULPS kC2C6, p3, p3 \
	VADDPS t2, p3, p3 \
	VMULPS kC2p6, p1, p1 \
	VADDPS t2, p1, p1 \
	VMULPS kC4, p2, p2 \
	VADDPS p2, p0, t0 \
	VSUBPS p2, p0, p0 \
	VADDPS p3, p0, t1 \
	VSUBPS p3, p0, p0 \
	VADDPS p1, t0, t2 \
	VSUBPS p1, t0, t0

// TRANSPOSE8 transposes the 8×8 floats in rows r0…r7 into s0…s7, using
// r0…r7 as scratch.
#define TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7, s0, s1, s2, s3, s4, s5, s6, s7) \
	VUNPCKLPS  r1, r0, s0 \
	VUNPCKHPS  r1, r0, s1 \
	VUNPCKLPS  r3, r2, s2 \
	VUNPCKHPS  r3, r2, s3 \
	VUNPCKLPS  r5, r4, s4 \
	VUNPCKHPS  r5, r4, s5 \
	VUNPCKLPS  r7, r6, s6 \
	VUNPCKHPS  r7, r6, s7 \
	VSHUFPS    $0x44, s2, s0, r0 \
	VSHUFPS    $0xEE, s2, s0, r1 \
	VSHUFPS    $0x44, s3, s1, r2 \
	VSHUFPS    $0xEE, s3, s1, r3 \
	VSHUFPS    $0x44, s6, s4, r4 \
	VSHUFPS    $0xEE, s6, s4, r5 \
	VSHUFPS    $0x44, s7, s5, r6 \
	VSHUFPS    $0xEE, s7, s5, r7 \
	VPERM2F128 $0x20, r4, r0, s0 \
	VPERM2F128 $0x20, r5, r1, s1 \
	VPERM2F128 $0x20, r6, r2, s2 \
	VPERM2F128 $0x20, r7, r3, s3 \
	VPERM2F128 $0x31, r4, r0, s4 \
	VPERM2F128 $0x31, r5, r1, s5 \
	VPERM2F128 $0x31, r6, r2, s6 \
	VPERM2F128 $0x31, r7, r3, s7

// QUANT8 quantises the eight coefficients in v by the factors at
// off(R8) (rounding to the nearest as int32(x + 16384.5) - 16384 does),
// as int32. Y7 holds 16384.5, Y8 16384.
#define QUANT8(v, off) \
	VMULPS     off(R8), v, v \
	VADDPS     Y7, v, v \
	VCVTTPS2DQ v, v \
	VPSUBD     Y8, v, v

// PACK8 packs the int32 of a and b into the int16 of dst, a's first.
#define PACK8(a, b, dst) \
	VPACKSSDW b, a, dst \
	VPERMQ    $0xD8, dst, dst

// func jpegFDCTAVX2(d, recipT *[64]float32, coef *[64]int16) uint64
//
// One block, a row to a register: pass 1 transforms the columns (the
// butterfly across the eight rows), an 8×8 transpose turns the columns
// into registers, pass 2 transforms the rows the same way, and its
// outputs are quantised as they are, transposed (hence recipT):
// coef[c·8+r] is the coefficient of row r, column c. The result is the
// mask of the non-zero ones, bit c·8+r. d is left as it was.
TEXT ·jpegFDCTAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ recipT+8(FP), R8
	MOVQ coef+16(FP), R9
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	VBROADCASTSS K_C4, Y12
	VBROADCASTSS K_C6, Y13
	VBROADCASTSS K_C2C6, Y14
	VBROADCASTSS K_C2p6, Y15
	AAN8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	TRANSPOSE8(Y6, Y10, Y4, Y0, Y7, Y9, Y5, Y8, Y1, Y2, Y3, Y11, Y12, Y13, Y14, Y15)
	VBROADCASTSS K_C4, Y7
	VBROADCASTSS K_C6, Y8
	VBROADCASTSS K_C2C6, Y9
	VBROADCASTSS K_C2p6, Y10
	AAN8(Y1, Y2, Y3, Y11, Y12, Y13, Y14, Y15, Y0, Y4, Y5, Y6, Y7, Y8, Y9, Y10)
	// Outputs 0…7: Y14, Y5, Y12, Y1, Y15, Y4, Y13, Y0.
	VBROADCASTSS K_half, Y7
	VPBROADCASTD K_i16384, Y8
	QUANT8(Y14, 0)
	QUANT8(Y5, 32)
	QUANT8(Y12, 64)
	QUANT8(Y1, 96)
	QUANT8(Y15, 128)
	QUANT8(Y4, 160)
	QUANT8(Y13, 192)
	QUANT8(Y0, 224)
	PACK8(Y14, Y5, Y2)
	PACK8(Y12, Y1, Y3)
	PACK8(Y15, Y4, Y6)
	PACK8(Y13, Y0, Y9)
	VMOVDQU Y2, 0(R9)
	VMOVDQU Y3, 32(R9)
	VMOVDQU Y6, 64(R9)
	VMOVDQU Y9, 96(R9)
	// The mask of non-zero coefficients: bytes of 0xFF where one is zero.
	VPXOR     Y10, Y10, Y10
	VPCMPEQW  Y10, Y2, Y2
	VPCMPEQW  Y10, Y3, Y3
	VPCMPEQW  Y10, Y6, Y6
	VPCMPEQW  Y10, Y9, Y9
	VPACKSSWB Y3, Y2, Y2
	VPACKSSWB Y9, Y6, Y6
	VPERMQ    $0xD8, Y2, Y2
	VPERMQ    $0xD8, Y6, Y6
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y6, BX
	SHLQ $32, BX
	ORQ  BX, AX
	NOTQ AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET
