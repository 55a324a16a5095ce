package rfb

import (
	"fmt"
	"image"
	"testing"
	"time"

	"github.com/klauspost/compress/zlib"

	"lifebuoy/rfb/internal/workload"
)

// The encoder benchmark suite: every workload of rfb/internal/workload
// replayed through every encoding, as TurboVNC's and TigerVNC's tools
// replay recorded sessions. A session is the first frame in full and then
// the next sessionSteps changes; moves count as damage (no CopyRect), so
// the ratio is the encoder's own. Metrics: Mpx/s of changed pixels,
// "ratio" of raw 32 bpp bytes to encoded bytes, and "cpu-ms/op" of
// process CPU time (encoders may run on several cores).

const sessionSteps = 10

type benchEncoding struct {
	name              string
	enc               Encoding
	quality, compress int
}

var benchEncodings = []benchEncoding{
	{"raw", EncRaw, -1, -1},
	{"hextile", EncHextile, -1, -1},
	{"zrle", EncZRLE, -1, -1},
	{"tight", EncTight, -1, -1},
	{"tight-jpeg", EncTight, 8, -1},
}

// session is a recorded workload: full frames after each step and the
// rectangles that changed.
type workloadSession struct {
	frames []*Image
	damage [][]image.Rectangle
}

func recordWorkload(tb testing.TB, name string, steps int) *workloadSession {
	tb.Helper()
	w, err := workload.New(name, benchW, benchH)
	if err != nil {
		tb.Fatal(err)
	}
	snap := func() *Image {
		m := NewImage(benchW, benchH)
		copy(m.Pix, w.Frame.Pix)
		return m
	}
	s := &workloadSession{frames: []*Image{snap()}, damage: [][]image.Rectangle{{image.Rect(0, 0, benchW, benchH)}}}
	for range steps {
		st := w.Next()
		var g region
		for _, m := range st.Moves {
			g.add(m.Dst)
		}
		for _, r := range st.Damage {
			g.add(r)
		}
		s.frames = append(s.frames, snap())
		s.damage = append(s.damage, g.sorted())
	}
	return s
}

// BenchmarkEncodings replays each workload session through each encoding.
func BenchmarkEncodings(b *testing.B) {
	for _, name := range workload.Names {
		s := recordWorkload(b, name, sessionSteps)
		pixels := 0
		for _, d := range s.damage {
			for _, r := range d {
				pixels += r.Dx() * r.Dy()
			}
		}
		for _, be := range benchEncodings {
			b.Run(name+"/"+be.name, func(b *testing.B) {
				newEnc, ok := encoderFactories[be.enc]
				if !ok {
					b.Fatalf("no encoder for %v", be.enc)
				}
				enc := newEnc()
				u := updateWriter{conv: newConverter(NativeFormat), quality: be.quality, compress: be.compress}
				var buf []byte
				encoded := 0
				cpu0, wall0 := cpuTime(), time.Now()
				for b.Loop() {
					encoded = 0
					for i, f := range s.frames {
						u.begin(buf[:0])
						for _, r := range s.damage[i] {
							if err := enc.encode(&u, f, r); err != nil {
								b.Fatal(err)
							}
						}
						buf, _ = u.finish(true)
						encoded += len(buf)
					}
				}
				cpu, wall := cpuTime()-cpu0, time.Since(wall0)
				b.ReportMetric(float64(pixels)*float64(b.N)/wall.Seconds()/1e6, "Mpx/s")
				b.ReportMetric(float64(pixels*4)/float64(encoded), "ratio")
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// BenchmarkFullFrame encodes one whole 1080p frame of a workload, the
// figure for "a full office frame in Tight with JPEG under 1/30 s of CPU".
func BenchmarkFullFrame(b *testing.B) {
	for _, name := range []string{"office", "photo"} {
		s := recordWorkload(b, name, 0)
		f := s.frames[0]
		for _, be := range benchEncodings {
			b.Run(name+"/"+be.name, func(b *testing.B) {
				newEnc, ok := encoderFactories[be.enc]
				if !ok {
					b.Fatalf("no encoder for %v", be.enc)
				}
				enc := newEnc()
				u := updateWriter{conv: newConverter(NativeFormat), quality: be.quality, compress: be.compress}
				var buf []byte
				cpu0 := cpuTime()
				for b.Loop() {
					u.begin(buf[:0])
					if err := enc.encode(&u, f, f.Bounds()); err != nil {
						b.Fatal(err)
					}
					buf, _ = u.finish(true)
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(len(f.Pix))/float64(len(buf)), "ratio")
			})
		}
	}
}

// BenchmarkZlibFloor deflates the raw 32 bpp bytes of each session's
// changed rectangles through one persistent zlib stream with a sync flush
// per rectangle: the floor that Tight's lossless speed is compared with.
func BenchmarkZlibFloor(b *testing.B) {
	for _, name := range workload.Names {
		s := recordWorkload(b, name, sessionSteps)
		for _, level := range []int{1, 6} {
			b.Run(fmt.Sprintf("%s/level%d", name, level), func(b *testing.B) {
				var out countWriter
				zw, err := zlib.NewWriterLevel(&out, level)
				if err != nil {
					b.Fatal(err)
				}
				conv := newConverter(NativeFormat)
				var raw []byte
				pixels := 0
				wall0 := time.Now()
				for b.Loop() {
					out.n, pixels = 0, 0
					for i, f := range s.frames {
						for _, r := range s.damage[i] {
							raw = conv.appendRect(raw[:0], f, r)
							pixels += r.Dx() * r.Dy()
							zw.Write(raw)
							zw.Flush()
						}
					}
				}
				b.ReportMetric(float64(pixels)*float64(b.N)/time.Since(wall0).Seconds()/1e6, "Mpx/s")
				b.ReportMetric(float64(pixels*4)/float64(out.n), "ratio")
			})
		}
	}
}
