package win

import (
	"image"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/winvnc/internal/tiles"
)

// tileSize is the edge of the squares in which a new frame is compared
// with the previous one.
const tileSize = tiles.Size

// maxRects bounds the rectangles one capture hands to the framebuffer.
const maxRects = 64

// diffTiles compares two frames of w×h pixels, 4 bytes each, rows stride
// bytes apart, in 64×64 tiles, and returns the changed tiles joined into
// at most limit rectangles. Nil means no change.
func diffTiles(cur, prev []byte, stride, w, h, limit int) []image.Rectangle {
	return tiles.Diff(cur, prev, stride, w, h, limit)
}

// copyRect copies rectangle r of a frame of 4-byte B, G, R, X pixels
// (a 32-bit top-down DIB section: the same layout as rfb.Image) into dst
// at the same place. r must lie inside both.
func copyRect(dst []byte, dstStride int, src []byte, srcStride int, r image.Rectangle) {
	x0, x1 := r.Min.X*4, r.Max.X*4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(dst[y*dstStride+x0:y*dstStride+x1], src[y*srcStride+x0:y*srcStride+x1])
	}
}

// copyFrame copies the rectangles rs of src into img and into prev (the
// previous frame, of src's layout).
func copyFrame(img *rfb.Image, prev, src []byte, stride int, rs []image.Rectangle) {
	for _, r := range rs {
		copyRect(img.Pix, img.Stride, src, stride, r)
		copyRect(prev, stride, src, stride, r)
	}
}

// cursorImage builds the cursor image from GetIconInfo's bitmaps as
// GetDIBits returns them top-down. mask is the 1-bit AND mask (rows padded
// to 4 bytes); for a monochrome cursor (color nil) it is twice as high,
// the XOR mask below the AND mask. color, if not nil, is 32-bit B, G, R, A.
//
// A colour cursor with any alpha uses its alpha as it is; one without
// alpha (an old-style colour cursor) is opaque where the AND bit is 0.
// In a monochrome cursor AND 1 with XOR 0 is transparent, AND 0 gives
// XOR's black or white, and AND 1 with XOR 1 (invert the screen, as the
// text I-beam does) is drawn opaque black: RFB cursors cannot invert.
func cursorImage(color, mask []byte, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	mstride := (w + 31) / 32 * 4
	bit := func(y, x int) bool {
		i := y*mstride + x/8
		return i < len(mask) && mask[i]&(0x80>>(x%8)) != 0
	}
	hasAlpha := false
	if color != nil {
		for i := 3; i < len(color) && i < w*h*4; i += 4 {
			if color[i] != 0 {
				hasAlpha = true
				break
			}
		}
	}
	for y := range h {
		for x := range w {
			o := y*img.Stride + x*4
			if color != nil {
				i := (y*w + x) * 4
				if i+3 >= len(color) {
					continue
				}
				a := color[i+3]
				if !hasAlpha {
					a = 0xff
					if bit(y, x) {
						a = 0
					}
				}
				img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = color[i+2], color[i+1], color[i], a
				continue
			}
			and, xor := bit(y, x), bit(y+h, x)
			var v byte
			switch {
			case and && !xor:
				continue // transparent
			case !and && xor:
				v = 0xff
			}
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = v, v, v, 0xff
		}
	}
	return img
}

// publishFrame hands a new frame (pix, w×h, rows w*4 bytes) to fb.
// After a size change (resized) it resizes fb to the whole frame; when
// full it sends the whole frame; otherwise only the tiles that differ
// from prev, with moves (windowMoves) as copy hints. prev becomes the
// frame. It returns how many pixels of fb
// changed, and stale when fb's size no longer matched (someone else resized it):
// the caller should then resize again.
func publishFrame(fb *rfb.Framebuffer, pix, prev []byte, w, h int, full, resized bool, moves []rfb.Copy) (changed int, stale bool) {
	stride := w * 4
	if resized {
		copy(prev, pix)
		fb.Resize(w, h, func(img *rfb.Image) {
			copyRect(img.Pix, img.Stride, pix, stride, img.Bounds())
		})
		return w * h, false
	}
	var rects []image.Rectangle
	if full {
		rects = []image.Rectangle{image.Rect(0, 0, w, h)}
	} else {
		rects = diffTiles(pix, prev, stride, w, h, maxRects)
	}
	if len(rects) == 0 {
		return 0, false
	}
	fb.UpdateIn(rects, moves, func(img *rfb.Image) []image.Rectangle {
		if img.W != w || img.H != h {
			stale = true
			return nil
		}
		copyFrame(img, prev, pix, stride, rects)
		return rects
	})
	if stale {
		return 0, true
	}
	return area(rects), false
}

// pacer sets the capture period: fast (Poll) while the screen is busy,
// slow (IdlePoll) once it has been quiet for Idle. A blinking caret must
// not count as busy, or a screen with a text field would be captured at
// the fast rate forever: a small change (at most smallChange pixels, a
// tile or two) counts only when burstChanges of them come within
// burstWindow, as typed text does, while a caret toggles twice a second
// (which the slow polls, catching each toggle up to a period late, may
// see as close as one period apart).
type pacer struct {
	fast, slow, idle time.Duration

	busy  time.Time                   // the last change that counted as activity
	small [burstChanges - 1]time.Time // the latest small changes before this one, newest first
}

// Below these a change is a caret's blink unless changes come in bursts.
const (
	smallChange  = 2 * tileSize * tileSize
	burstChanges = 4
	burstWindow  = time.Second
)

// next returns the period until the next capture, after a capture at now
// that changed area pixels (0 for none), or failed.
func (p *pacer) next(now time.Time, area int, failing bool) time.Duration {
	switch {
	case area > smallChange:
		p.busy = now
	case area > 0:
		if oldest := p.small[len(p.small)-1]; !oldest.IsZero() && now.Sub(oldest) < burstWindow {
			p.busy = now
		}
		copy(p.small[1:], p.small[:])
		p.small[0] = now
	}
	if failing || now.Sub(p.busy) >= p.idle {
		return p.slow
	}
	return p.fast
}

// area is the number of pixels in rs.
func area(rs []image.Rectangle) int {
	n := 0
	for _, r := range rs {
		n += r.Dx() * r.Dy()
	}
	return n
}

// Extended window styles that say what a window is for.
const (
	wsExToolWindow = 0x00000080 // a palette or floating toolbar: not on the taskbar
	wsExAppWindow  = 0x00040000 // on the taskbar even when owned
	wsExNoActivate = 0x08000000 // never takes the focus: an overlay, a notification
)

// isAppWindow decides whether a visible top-level window is one a person
// would call an application, the rule the taskbar uses: titled; not the
// shell's own (the taskbar, its secondary bars, the desktop); not a tool
// or no-activate window unless it asks for a taskbar button; and not
// owned by another window (a dialog is part of its application) unless it
// asks for one.
func isAppWindow(title, class string, exStyle uint32, owned bool) bool {
	switch class {
	case "Shell_TrayWnd", "Shell_SecondaryTrayWnd", "Progman", "WorkerW":
		return false
	}
	if title == "" {
		return false
	}
	if exStyle&wsExAppWindow != 0 {
		return true
	}
	return exStyle&(wsExToolWindow|wsExNoActivate) == 0 && !owned
}

// cursorTracker decides when to read the cursor's image: when its handle
// or its visibility changes. A cursor whose image cannot be read (another
// process's, a size GDI refuses) is not read again, nor logged again,
// until the cursor changes: reading it at every poll would cost a failed
// call and a log line thirty times a second.
type cursorTracker struct {
	known  bool    // a cursor was observed
	shown  bool    // the observed cursor is visible
	handle uintptr // its handle
}

// observe records the cursor GetCursorInfo reports and says whether its
// image must be read (read), or hidden (hide), or neither.
func (t *cursorTracker) observe(handle uintptr, shown bool) (read, hide bool) {
	shown = shown && handle != 0
	if t.known && shown == t.shown && (!shown || handle == t.handle) {
		return false, false
	}
	t.known, t.shown, t.handle = true, shown, handle
	if !shown {
		t.handle = 0
		return false, true
	}
	return true, false
}
