package rfb

import "fmt"

// Encoding is an RFB encoding or pseudo-encoding number. Several are large
// unsigned constants on the wire, so they are compared as 32-bit patterns.
type Encoding int32

// Encodings and pseudo-encodings this module knows by name.
const (
	EncRaw      Encoding = 0
	EncCopyRect Encoding = 1
	EncRRE      Encoding = 2
	EncHextile  Encoding = 5
	EncZlib     Encoding = 6
	EncTight    Encoding = 7
	EncZRLE     Encoding = 16
	EncTightPNG Encoding = -260

	EncDesktopSize         Encoding = -223
	EncLastRect            Encoding = -224
	EncCursor              Encoding = -239
	EncXCursor             Encoding = -240
	EncQEMUExtendedKey     Encoding = -258
	EncDesktopName         Encoding = -307
	EncExtendedDesktopSize Encoding = -308
	EncFence               Encoding = -312
	EncContinuousUpdates   Encoding = -313
	EncCursorWithAlpha     Encoding = -314
	EncQEMULEDState        Encoding = -261
	EncXvp                 Encoding = -309
	// EncVMwareCursor is VMware's cursor (0x574D5664), which noVNC asks
	// for; VMware's numbers are positive but they carry no pixels.
	EncVMwareCursor Encoding = 0x574D5664

	// Ranges of the TightVNC level pseudo-encodings.
	EncCompressLevel0 Encoding = -256 // ..-247
	EncQualityLevel0  Encoding = -32  // ..-23
	// TurboVNC's JPEG pseudo-encodings: the quality 0..100 (-512..-412)
	// and the chroma subsampling (-768..-763: 1X, 4X, 2X, grey, 8X, 16X).
	EncFineQualityLevel0 Encoding = -512
	EncSubsamp1X         Encoding = -768
)

// IsPseudo reports whether e is a pseudo-encoding (it carries no pixels).
func (e Encoding) IsPseudo() bool {
	return e < 0 && e != EncTightPNG || uint32(e)&0xffffff00 == 0x574D5600
}

// isUltraPrivate reports UltraVNC's private pseudo-encodings (0xFFFF8000..).
// A client that sends them is UltraVNC, which mishandles ExtendedDesktopSize.
func (e Encoding) isUltraPrivate() bool {
	u := uint32(e)
	return u >= 0xFFFF8000 && u <= 0xFFFF80FF
}

func (e Encoding) String() string {
	switch e {
	case EncRaw:
		return "Raw"
	case EncCopyRect:
		return "CopyRect"
	case EncRRE:
		return "RRE"
	case EncHextile:
		return "Hextile"
	case EncZlib:
		return "Zlib"
	case EncTight:
		return "Tight"
	case EncZRLE:
		return "ZRLE"
	case EncTightPNG:
		return "TightPNG"
	case EncDesktopSize:
		return "DesktopSize"
	case EncLastRect:
		return "LastRect"
	case EncCursor:
		return "Cursor"
	case EncXCursor:
		return "XCursor"
	case EncQEMUExtendedKey:
		return "QEMUExtendedKeyEvent"
	case EncDesktopName:
		return "DesktopName"
	case EncExtendedDesktopSize:
		return "ExtendedDesktopSize"
	case EncFence:
		return "Fence"
	case EncContinuousUpdates:
		return "ContinuousUpdates"
	case EncCursorWithAlpha:
		return "CursorWithAlpha"
	case EncVMwareCursor:
		return "VMwareCursor"
	case EncQEMULEDState:
		return "QEMULEDState"
	case EncXvp:
		return "Xvp"
	}
	switch {
	case e >= EncCompressLevel0 && e <= EncCompressLevel0+9:
		return fmt.Sprintf("CompressLevel%d", e-EncCompressLevel0)
	case e >= EncQualityLevel0 && e <= EncQualityLevel0+9:
		return fmt.Sprintf("QualityLevel%d", e-EncQualityLevel0)
	case e >= EncFineQualityLevel0 && e <= EncFineQualityLevel0+100:
		return fmt.Sprintf("FineQualityLevel%d", e-EncFineQualityLevel0)
	case e >= EncSubsamp1X && e <= EncSubsamp1X+5:
		return [...]string{"Subsamp1X", "Subsamp4X", "Subsamp2X", "SubsampGray", "Subsamp8X", "Subsamp16X"}[e-EncSubsamp1X]
	}
	return fmt.Sprintf("Encoding(%d)", int32(e))
}
