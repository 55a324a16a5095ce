//go:build interop

package rfb

import (
	"image"
	"testing"
)

// BenchmarkPhotoAnalysis times the parts of the Tight encoder's and the
// scroll search's work on BenchmarkPhotoEncode's photos that are not
// compression: the tile judge (photoLike on every 16x16 tile), the whole
// lossy plan of 256x256 squares (the judge, soft tiles joined), the
// smoothness test on 256x256 squares, the gradient filter of the
// lossless refresh on every row, analyseJPEG on the JPEG jobs of
// BenchmarkPhotoEncode's plan (the JPEG and the lossless trial), and
// findScroll when one photo replaces another.
func BenchmarkPhotoAnalysis(b *testing.B) {
	var photos []*Image
	for _, name := range []string{"Dragonfly_by_Bolly.jpg", "Fossa_by_Jasper_Roks.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "sunset_by_Aitzol_Berasategi.jpg"} {
		photos = append(photos, LoadPhoto(b, "/usr/share/backgrounds/"+name, 1280, 800))
	}
	perPhoto := func(b *testing.B, f func(img *Image, i int)) {
		for b.Loop() {
			for i, img := range photos {
				f(img, i)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N*len(photos)), "ms/photo")
	}
	squares := func(img *Image, f func(r image.Rectangle)) {
		for y := 0; y < img.H; y += 256 {
			for x := 0; x < img.W; x += 256 {
				f(image.Rect(x, y, x+256, y+256).Intersect(img.Bounds()))
			}
		}
	}
	b.Run("photoLike", func(b *testing.B) {
		var s tightTileScratch
		perPhoto(b, func(img *Image, _ int) {
			for y := 0; y < img.H; y += tightTile {
				for x := 0; x < img.W; x += tightTile {
					s.photoLike(img, image.Rect(x, y, x+tightTile, y+tightTile))
				}
			}
		})
	})
	b.Run("plan", func(b *testing.B) {
		// The whole lossy plan as BenchmarkPhotoEncode's tight-q8 makes
		// it: Fill search, tile judge, soft tiles joined, rectangles.
		e := newTightEncoder(false)
		e.planJPEG, e.planGradient = true, true
		perPhoto(b, func(img *Image, _ int) {
			squares(img, func(r image.Rectangle) {
				e.jobs = e.jobs[:0]
				e.planArea(img, r)
			})
		})
	})
	b.Run("meanError", func(b *testing.B) {
		perPhoto(b, func(img *Image, _ int) {
			squares(img, func(r image.Rectangle) { tightMeanError(img, r) })
		})
	})
	b.Run("gradientFilter", func(b *testing.B) {
		// The lossless refresh's gradient filter on every row of the
		// photo, in rows 256 pixels wide as its rectangles are.
		out := make([]byte, 256*3)
		perPhoto(b, func(img *Image, _ int) {
			squares(img, func(r image.Rectangle) {
				for y := r.Min.Y + 1; y < r.Max.Y; y++ {
					row := img.Pix[y*img.Stride+r.Min.X*4:][: r.Dx()*4 : r.Dx()*4]
					gradientRow24(out, row, img.Pix[(y-1)*img.Stride+r.Min.X*4:][:r.Dx()*4:r.Dx()*4])
				}
			})
		})
	})
	b.Run("analyseJPEG", func(b *testing.B) {
		// The JPEG jobs of BenchmarkPhotoEncode's plan, each encoded and
		// judged against its lossless form as analyseJPEG does.
		p := (&tightEncoder{}).params(&updateWriter{conv: newConverter(NativeFormat), quality: 8, compress: 2})
		jobs := make([][]image.Rectangle, len(photos))
		for i, img := range photos {
			e := newTightEncoder(false)
			e.planJPEG, e.planGradient = true, true
			squares(img, func(r image.Rectangle) { e.planArea(img, r) })
			for _, j := range e.jobs {
				if j.kind == tightKindJPEG {
					jobs[i] = append(jobs[i], j.r)
				}
			}
		}
		s := new(tightScratch)
		var j tightJob
		perPhoto(b, func(img *Image, i int) {
			for _, r := range jobs[i] {
				j.r, j.kind, j.head, j.data = r, tightKindJPEG, j.head[:0], j.data[:0]
				if analyseJPEG(&j, img, p, s); j.err != nil {
					b.Fatal(j.err)
				}
			}
		})
	})
	b.Run("findScroll", func(b *testing.B) {
		var clients []*clientPicture
		for i := range photos {
			clients = append(clients, pictureOf(photos[(i+len(photos)-1)%len(photos)]))
		}
		perPhoto(b, func(img *Image, i int) {
			if cp := findScroll(img, clients[i], img.Bounds()); cp != nil {
				b.Fatalf("a scroll from one photo to another: %+v", cp)
			}
		})
	})
}
