//go:build interop

package rfb

import (
	"image"
	"image/jpeg"
	"os"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// BenchmarkPhotoEncode is the agent's encoding work for one photo of
// BenchmarkWire's photo workload (the same four lomiri-wallpapers photos
// at 1280x800), without X and the viewer: FastJPEG of the whole photo at
// TigerVNC's quality level 8 (quality 92, 4:4:4); Tight at level 8 and
// compression level 2 in 256-pixel squares, as the agent sends a large
// photo; and the lossless refresh of the photo. cpu-ms/photo counts every
// goroutine (Tight encodes large rectangles on all cores).
func BenchmarkPhotoEncode(b *testing.B) {
	var photos []*Image
	for _, name := range []string{"Dragonfly_by_Bolly.jpg", "Fossa_by_Jasper_Roks.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "sunset_by_Aitzol_Berasategi.jpg"} {
		photos = append(photos, LoadPhoto(b, "/usr/share/backgrounds/"+name, 1280, 800))
	}
	report := func(b *testing.B, cpu0 int64, bytes int) {
		n := float64(b.N * len(photos))
		b.ReportMetric(float64(cpuTime().Nanoseconds()-cpu0)/1e6/n, "cpu-ms/photo")
		b.ReportMetric(float64(bytes)/float64(len(photos)), "bytes/photo")
	}
	b.Run("fastjpeg", func(b *testing.B) {
		var out []byte
		bytes := 0
		cpu0 := cpuTime().Nanoseconds()
		for b.Loop() {
			bytes = 0
			for _, img := range photos {
				var err error
				out, err = FastJPEG{}.AppendJPEG(out[:0], img, img.Bounds(), tightJPEGQuality[8], tightJPEGSubsampling[8])
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(out)
			}
		}
		report(b, cpu0, bytes)
	})
	for _, lossless := range []bool{false, true} {
		name := "tight-q8"
		if lossless {
			name = "refresh"
		}
		b.Run(name, func(b *testing.B) {
			enc := newTightEncoder(false)
			u := updateWriter{conv: newConverter(NativeFormat), quality: 8, compress: 2, lossless: lossless}
			var buf []byte
			bytes := 0
			cpu0 := cpuTime().Nanoseconds()
			for b.Loop() {
				bytes = 0
				for _, img := range photos {
					u.begin(buf[:0])
					for y := 0; y < img.H; y += 256 {
						for x := 0; x < img.W; x += 256 {
							if err := enc.encode(&u, img, image.Rect(x, y, x+256, y+256)); err != nil {
								b.Fatal(err)
							}
						}
					}
					buf, _ = u.finish(true)
					bytes += len(buf)
				}
			}
			report(b, cpu0, bytes)
		})
	}
}

// LoadPhoto is the JPEG file at path scaled to w×h, as BenchmarkWire's
// photo workload shows it (exported for the rfb_test package's
// benchmarks, and for tests).
func LoadPhoto(b testing.TB, path string, w, h int) *Image {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatalf("the photos are missing (apt-get install lomiri-wallpapers): %v", err)
	}
	defer f.Close()
	src, err := jpeg.Decode(f)
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return ImageFrom(dst)
}
