package rfb

import (
	"image"
	"image/color"
	"testing"
)

// Cursor pseudo-encodings: which one the server picks for each viewer's
// list, and that each arrives with the right colours and alpha.

// viewerLists are the SetEncodings lists of real viewers at their
// defaults (from their sources), reduced to what matters here.
var viewerLists = map[string][]Encoding{
	// TigerVNC 1.12: alpha, VMware, rich and X cursors, LED state, no Xvp.
	"tigervnc": {EncCursorWithAlpha, EncVMwareCursor, EncCursor, EncXCursor, EncDesktopSize, EncExtendedDesktopSize,
		EncQEMULEDState, EncDesktopName, EncLastRect, EncContinuousUpdates, EncFence, EncQEMUExtendedKey,
		EncTight, EncCopyRect, EncZRLE, EncHextile, EncRaw, EncQualityLevel0 + 8},
	// noVNC 1.3.0 (Debian 12): Xvp, no LED state, VMware before rich.
	"novnc-1.3": {EncCopyRect, EncTight, EncTightPNG, EncHextile, EncRRE, EncRaw, EncQualityLevel0 + 6,
		EncCompressLevel0 + 2, EncDesktopSize, EncLastRect, EncQEMUExtendedKey, EncExtendedDesktopSize, EncXvp,
		EncFence, EncContinuousUpdates, EncDesktopName, Encoding(-1063131698), EncVMwareCursor, EncCursor},
	// noVNC 1.7.0: LED state since 1.5.0.
	"novnc-1.7": {EncCopyRect, Encoding(0x48323634), EncTight, EncTightPNG, EncZRLE, Encoding(21), EncHextile, EncRRE,
		EncZlib, EncRaw, EncQualityLevel0 + 6, EncCompressLevel0 + 2, EncDesktopSize, EncLastRect,
		EncQEMUExtendedKey, EncQEMULEDState, EncExtendedDesktopSize, EncXvp, EncFence, EncContinuousUpdates,
		EncDesktopName, Encoding(-1063131698), Encoding(-316), EncVMwareCursor, EncCursor},
	// gvncviewer 1.3.1 (lossy on): Xvp and LED state, alpha before rich.
	"gtk-vnc": {EncQualityLevel0 + 5, EncTight, EncXvp, EncQEMUExtendedKey, EncQEMULEDState, EncExtendedDesktopSize,
		EncDesktopSize, EncDesktopName, EncLastRect, Encoding(0x574D5669), Encoding(-259), EncCursorWithAlpha,
		EncCursor, EncXCursor, Encoding(-257), EncZRLE, EncHextile, EncRRE, EncCopyRect, EncRaw},
	// libvncclient: rich and X cursors only.
	"libvncclient": {EncTight, EncZRLE, EncHextile, EncCopyRect, EncRaw, EncCursor, EncXCursor, EncLastRect},
}

func TestViewerEncodingChoices(t *testing.T) {
	for name, want := range map[string]struct {
		cursor     Encoding
		noGradient bool
	}{
		"tigervnc":     {EncCursorWithAlpha, false},
		"novnc-1.3":    {EncVMwareCursor, true},
		"novnc-1.7":    {EncVMwareCursor, false},
		"gtk-vnc":      {EncCursorWithAlpha, false},
		"libvncclient": {EncCursor, false},
	} {
		var e clientEncodings
		e.set(viewerLists[name], func(e Encoding) bool { _, ok := encoderFactories[e]; return ok })
		if e.cursorKind != want.cursor || e.noGradient != want.noGradient || e.preferred != EncTight {
			t.Errorf("%s: cursor %v, no gradient %v, preferred %v; want %v, %v, Tight", name, e.cursorKind, e.noGradient, e.preferred, want.cursor, want.noGradient)
		}
	}
}

// cursorShape has every alpha from 0 to 255 and distinct colours, so a
// swapped channel or a missing (un)premultiplication shows.
func cursorShape() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			m.SetNRGBA(x, y, color.NRGBA{uint8(0xf0 - x*3), uint8(y * 13), uint8(0x20 + x*y/2), uint8(y*16 + x)})
		}
	}
	return m
}

func TestCursorEncodings(t *testing.T) {
	shape := cursorShape()
	for _, tc := range []struct {
		list []Encoding
		want Encoding
	}{
		{[]Encoding{EncRaw, EncCursor}, EncCursor},
		{[]Encoding{EncRaw, EncCursor, EncVMwareCursor}, EncVMwareCursor},
		{[]Encoding{EncRaw, EncVMwareCursor, EncCursor, EncCursorWithAlpha}, EncCursorWithAlpha},
	} {
		for _, pf := range []PixelFormat{NativeFormat, tightFormats[1].pf, FormatRGB565} {
			t.Run(tc.want.String()+"/"+pf.String(), func(t *testing.T) {
				fb := NewFramebufferFromImage(testPattern(30, 20))
				c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
				if err := c.SetPixelFormat(pf); err != nil {
					t.Fatal(err)
				}
				if err := c.SetEncodings(tc.list...); err != nil {
					t.Fatal(err)
				}
				fullUpdate(t, c)
				fb.SetCursor(shape, image.Pt(5, 6))
				if err := c.RequestUpdate(true, image.Rect(0, 0, 30, 20)); err != nil {
					t.Fatal(err)
				}
				u := nextUpdate(t, c)
				if len(u.Rects) != 1 || u.Rects[0].Encoding != tc.want {
					t.Fatalf("cursor arrived as %+v, want %v", u.Rects, tc.want)
				}
				got, hot, ok := c.CursorImage()
				if !ok || hot != image.Pt(5, 6) {
					t.Fatalf("ok %v hot spot %v", ok, hot)
				}
				for y := range 16 {
					for x := range 16 {
						w, g := shape.NRGBAAt(x, y), got.NRGBAAt(x, y)
						if !cursorPixelOK(tc.want, pf, w, g) {
							t.Fatalf("(%d,%d): got %v, want %v", x, y, g, w)
						}
					}
				}
			})
		}
	}
}

// cursorPixelOK compares a pixel as the encoding can carry it: Cursor
// has a 1-bit mask and the client's colour depth, CursorWithAlpha
// premultiplied 8-bit colours (exact where alpha is high), VMware's
// alpha cursor everything exactly.
func cursorPixelOK(e Encoding, pf PixelFormat, want, got color.NRGBA) bool {
	near := func(a, b uint8, tol int) bool { d := int(a) - int(b); return d >= -tol && d <= tol }
	switch e {
	case EncCursor:
		if (want.A >= 0x80) != (got.A == 0xff) || got.A != 0 && got.A != 0xff {
			return false
		}
		tol := 0
		if pf.BPP == 16 {
			tol = 8
		}
		return near(want.R, got.R, tol) && near(want.G, got.G, tol) && near(want.B, got.B, tol)
	case EncCursorWithAlpha:
		if want.A != got.A {
			return false
		}
		if want.A == 0 {
			return true
		}
		tol := 255/int(want.A) + 1 // premultiplied rounding, undone
		return near(want.R, got.R, tol) && near(want.G, got.G, tol) && near(want.B, got.B, tol)
	}
	return want == got
}
