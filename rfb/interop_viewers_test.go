//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// serve runs srv on a loopback port for the test and returns the port.
func serve(t *testing.T, fb *rfb.Framebuffer, opts rfb.Options) int {
	t.Helper()
	l := rfbtest.Listen(t)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := rfb.NewServer(fb, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().(*net.TCPAddr).Port
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func exact(got, want image.Image) bool {
	n, _, _ := rfbtest.Diff(got, want)
	return n == 0
}

// quantized compares after reducing both pictures to the channel maxima
// of a low-colour format: the viewer expands the client's pixels back to
// its display in its own way, and only the quantized values must agree.
func quantized(rmax, gmax, bmax int) func(got, want image.Image) bool {
	return func(got, want image.Image) bool {
		return exact(rfbtest.Quantize(got, rmax, gmax, bmax), rfbtest.Quantize(want, rmax, gmax, bmax))
	}
}

// gvnccapture decodes our output into a PNG; it must equal the source frame
// bit for bit, with and without VNC Authentication.
func TestInteropGVNCCapture(t *testing.T) {
	rfbtest.LookPath(t, "gvnccapture")
	for _, tc := range []struct {
		name     string
		password string
		w, h     int
	}{
		{"none", "", 800, 600},
		{"vncauth", "482913", 1024, 768},
		{"odd-size", "", 333, 177},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := rfbtest.Pattern(tc.w, tc.h, 0)
			fb := rfb.NewFramebufferFromImage(src)
			port := serve(t, fb, rfb.Options{Name: "gvnccapture test", Password: tc.password})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := rfbtest.GVNCCapture(t, ctx, port, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			if n, first, detail := rfbtest.Diff(got, src); n != 0 {
				t.Fatalf("gvnccapture differs from the source in %d pixels, first at %v: %s", n, first, detail)
			}
		})
	}
}

// TigerVNC's vncviewer runs full screen in an Xvfb of the framebuffer's
// size; a capture of that Xvfb must equal the source, first as a whole and
// again after the source changes (a fill, then a move sent as CopyRect).
// The low-colour cases use TigerVNC's three 8 bpp formats. TigerVNC has
// no 16 bpp format of its own (on a 16-bit display it keeps 32 bpp and
// converts locally), so 16 bpp rgb565 comes from xtightvncviewer, which
// asks for its display's format.
func TestInteropTigerVNC(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "xtightvncviewer", "Xvfb", "xwd")
	tiger := []string{"vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1", "-Shared=1", "-SecurityTypes=None"}
	for _, tc := range []struct {
		name             string
		depth            int
		args             []string
		rmax, gmax, bmax int
	}{
		{"32bpp", 24, append(tiger, "-FullColor=1"), 255, 255, 255},
		{"8bpp-256-colours", 24, append(tiger, "-FullColor=0", "-LowColorLevel=2"), 7, 7, 3},
		{"8bpp-64-colours", 24, append(tiger, "-FullColor=0", "-LowColorLevel=1"), 3, 3, 3},
		{"8bpp-8-colours", 24, append(tiger, "-FullColor=0", "-LowColorLevel=0"), 1, 1, 1},
		{"16bpp-xtightvncviewer", 16, []string{"xtightvncviewer", "-fullscreen", "-shared"}, 31, 63, 31},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const w, h = 640, 400
			src := rfbtest.Pattern(w, h, 0)
			fb := rfb.NewFramebufferFromImage(src)
			port := serve(t, fb, rfb.Options{Name: "tigervnc test"})
			x := rfbtest.StartXvfb(t, w, h, tc.depth)
			args := append(slices.Clone(tc.args[1:]), fmt.Sprintf("127.0.0.1::%d", port))
			viewer := rfbtest.Start(t, x.Env(), tc.args[0], args...)

			cmp := exact
			if tc.rmax != 255 || tc.depth != 24 {
				cmp = quantized(tc.rmax, tc.gmax, tc.bmax)
			}
			want := rfb.ImageFrom(src)
			check := func(stage string) {
				t.Helper()
				waitViewerShows(t, stage, x, viewer, want, cmp)
			}
			check("initial")

			fb.Update(func(img *rfb.Image) []image.Rectangle {
				r := image.Rect(100, 50, 300, 120)
				img.Fill(r, 0xc03020)
				return []image.Rectangle{r}
			})
			want.Fill(image.Rect(100, 50, 300, 120), 0xc03020)
			check("after fill")

			fb.Move(image.Rect(20, 200, 220, 330), image.Pt(300, 150))
			want = fb.Snapshot()
			check("after move")
		})
	}
}

// TigerVNC over VeNCrypt X509Vnc: real TLS with a certificate the viewer
// verifies against a CA file, then VNC Authentication inside.
func TestInteropTigerVNCX509(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "Xvfb", "xwd")
	const w, h = 320, 240
	src := rfbtest.Pattern(w, h, 7)
	cert, caFile := rfbtest.Certificate(t)
	port := serve(t, rfb.NewFramebufferFromImage(src), rfb.Options{
		Password:  "482913",
		TLSConfig: rfbtest.TLSConfig(cert),
	})
	pwFile := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pwFile, rfbtest.VNCPasswdFile("482913"), 0o600); err != nil {
		t.Fatal(err)
	}
	x := rfbtest.StartXvfb(t, w, h, 24)
	viewer := rfbtest.Start(t, x.Env(), "vncviewer", "-FullScreen", "-AutoSelect=0", "-NoJPEG=1", "-SecurityTypes=X509Vnc",
		"-X509CA="+caFile, "-passwd", pwFile, fmt.Sprintf("127.0.0.1::%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rfbtest.WaitForImage(ctx, x.Capture, src, exact); err != nil {
		t.Fatalf("viewer does not show the source over X509Vnc: %v\nviewer output:\n%s", err, viewer.Output())
	}
}

// waitViewerShows waits until the viewer's Xvfb shows want under cmp,
// and fails the test with the viewer's output otherwise. It returns the
// last capture.
func waitViewerShows(t *testing.T, stage string, x *rfbtest.Xvfb, viewer *rfbtest.Proc, want image.Image, cmp func(got, want image.Image) bool) *image.RGBA {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := rfbtest.WaitForImage(ctx, x.Capture, want, cmp)
	if err != nil {
		saveForDebug(t, stage, got)
		t.Fatalf("%s: viewer does not show the source: %v\nviewer output:\n%s", stage, err, viewer.Output())
	}
	return got
}

func saveForDebug(t *testing.T, stage string, img image.Image) {
	if img == nil {
		return
	}
	dir := os.Getenv("RFB_INTEROP_DEBUG_DIR")
	if dir == "" {
		return
	}
	p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+stage)+".png")
	if err := rfbtest.SavePNG(p, img); err == nil {
		t.Logf("saved viewer capture to %s", p)
	}
}
