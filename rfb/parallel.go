package rfb

import (
	"image"
	"runtime"
	"sync"
)

// Encoding in parallel: a large rectangle is cut into horizontal bands
// that are encoded at the same time, each into its own buffer, and the
// bands' rectangles are appended in order. This suits encodings whose
// rectangles are independent (Raw, Hextile, and Tight's per-rectangle
// work); encodings with one shared stream (ZRLE) parallelise inside
// instead.

// minBandPixels keeps bands big enough that goroutines pay for themselves.
const minBandPixels = 64 * 1024

// encodeBands encodes r as bands of whole multiples of align rows, one
// per CPU at most, calling enc for each band with a writer of its own.
// enc must only use the band writer and state that is safe to share.
func encodeBands(u *updateWriter, r image.Rectangle, align int, enc func(bw *updateWriter, band image.Rectangle) error) error {
	workers := runtime.GOMAXPROCS(0)
	area := r.Dx() * r.Dy()
	n := min(workers, area/minBandPixels)
	if n <= 1 {
		return enc(u, r)
	}
	rows := (r.Dy() + n - 1) / n
	rows = (rows + align - 1) / align * align
	var bands []image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y += rows {
		bands = append(bands, image.Rect(r.Min.X, y, r.Max.X, min(y+rows, r.Max.Y)))
	}
	writers := make([]updateWriter, len(bands))
	errs := make([]error, len(bands))
	var wg sync.WaitGroup
	for i, b := range bands {
		writers[i] = u.settings()
		wg.Go(func() { errs[i] = enc(&writers[i], b) })
	}
	wg.Wait()
	for i := range bands {
		if errs[i] != nil {
			return errs[i]
		}
		u.buf = append(u.buf, writers[i].buf...)
		u.n += writers[i].n
		u.lossy = append(u.lossy, writers[i].lossy...)
	}
	return nil
}
