//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/internal/workload"
	"lifebuoy/rfb/rfbtest"
)

// BenchmarkQuality is the picture-quality table of docs/BENCHMARKS.md:
// what each viewer shows at its own default settings of our agent's
// screen and of TigerVNC's x0vncserver on the same Xvfb, once the
// screen has been still long enough for both servers' lossless refresh.
//
// Screens (1920x1080): the first frames of the five workloads of
// rfb/internal/workload on the root window, and a desktop with an xterm
// listing files, AbiWord with a short document and a photo (a wallpaper
// of Debian's lomiri-wallpapers) in ImageMagick's display.
//
// Viewers: TigerVNC's vncviewer (full screen; AutoSelect picks Tight
// with JPEG quality 8), noVNC 1.7 in headless Chromium (quality 6,
// compression 2) and gtk-vnc's gvncviewer (JPEG quality 5). The agent
// is cmd/winvnc in direct mode; a proxy in the test logs in with the
// agent's password, offers the viewer security None, and counts the
// bytes each server sends after the handshake.
//
// Metrics: psnr-dB over the whole screen and text-dB over everything
// but the photo and video areas (99 stands for identical), "off" the
// pixels that differ at all, and "bytes" until the picture settled (no
// change for 5 s, at most 90 s). The viewers send no input (see
// startTigerViewer), their encoding settings are their defaults. It runs each case once whatever b.N is:
//
//	go test -tags interop -run '^$' -bench Quality -benchtime 1x -timeout 60m ./rfb/
func BenchmarkQuality(b *testing.B) {
	rfbtest.LookPath(b, "x0vncserver", "vncviewer", "gvncviewer", "websockify", "chromium")
	var browser *rfbtest.Browser
	screens := append(append([]string{}, workload.Names...), "desktop")
	for _, screen := range screens {
		for _, viewerName := range []string{"tigervnc", "novnc", "gtk-vnc"} {
			for _, server := range []string{"agent", "x0vncserver"} {
				if viewerName == "novnc" && browser == nil {
					browser = rfbtest.StartBrowser(b, rfbtest.BrowserOptions{})
				}
				b.Run(fmt.Sprintf("screen=%s/viewer=%s/server=%s", screen, viewerName, server), func(b *testing.B) {
					qualityCase(b, screen, viewerName, server, browser)
				})
			}
		}
	}
}

func qualityCase(b *testing.B, screen, viewerName, server string, browser *rfbtest.Browser) {
	const w, h = 1920, 1080
	x, pictures := startQualityScreen(b, screen, w, h)
	want, err := rfbtest.CaptureRoot(x)
	if err != nil {
		b.Fatal(err)
	}
	var port int
	var pw string
	if server == "agent" {
		port, pw = startAgent(b, x)
	} else {
		port = startX0VNCOn(b, x)
	}
	proxy := startViewerProxy(b, port, pw)
	var v viewer
	switch viewerName {
	case "tigervnc":
		v = startTigerViewer(b, proxy.port, w, h, true)
	case "gtk-vnc":
		g := startGTKViewer(b, proxy.port, w, h)
		v = g
		// Find the picture in the window once something shows.
		time.Sleep(3 * time.Second)
		g.locate(want)
	case "novnc":
		v = startNoVNC(b, browser, "npm", proxy.port)
	}
	b.ResetTimer()
	start := time.Now()
	got := settle(b, v, 5*time.Second, 90*time.Second)
	el := time.Since(start)
	// The screen as it is now: AbiWord's caret may have blinked since.
	if want, err = rfbtest.CaptureRoot(x); err != nil {
		b.Fatal(err)
	}
	psnr := rfbtest.PSNR(got, want)
	text := psnrOutside(got, want, pictures)
	off, _, _ := rfbtest.Diff(got, want)
	capDB := func(v float64) float64 {
		if math.IsInf(v, 1) {
			return 99
		}
		return v
	}
	b.ReportMetric(capDB(psnr), "psnr-dB")
	if !math.IsNaN(text) {
		b.ReportMetric(capDB(text), "text-dB")
	}
	b.ReportMetric(float64(off), "off")
	b.ReportMetric(float64(proxy.sent.Load()), "bytes")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s %s %s: PSNR %.2f dB, text %.2f dB, %d pixels off, %d bytes, settled in %v", screen, viewerName, server,
		psnr, text, off, proxy.sent.Load(), el.Round(100*time.Millisecond))
	if dir := os.Getenv("RFB_INTEROP_DEBUG_DIR"); dir != "" {
		rfbtest.SavePNG(filepath.Join(dir, fmt.Sprintf("quality-%s-%s-%s.png", screen, viewerName, server)), got)
	}
}

// startQualityScreen starts a screen and returns the areas that are
// pictures (photo, video), which the text figure leaves out.
func startQualityScreen(b *testing.B, screen string, w, h int) (*rfbtest.Xvfb, []image.Rectangle) {
	if screen == "desktop" {
		return startDesktopScreen(b, w, h)
	}
	wl, err := workload.New(screen, w, h)
	if err != nil {
		b.Fatal(err)
	}
	img := &rfb.Image{Pix: wl.Frame.Pix, Stride: wl.Frame.Stride, W: w, H: h}
	x := startScreen(b, img, nil, image.Point{})
	var pictures []image.Rectangle
	switch screen {
	case "photo":
		pictures = []image.Rectangle{image.Rect(0, 0, w, h)}
	case "video":
		pictures = []image.Rectangle{image.Rect(320, 220, 1600, 940)}
	}
	return x, pictures
}

// startDesktopScreen is a desktop with an xterm, a document in AbiWord
// and a photo.
func startDesktopScreen(b *testing.B, w, h int) (*rfbtest.Xvfb, []image.Rectangle) {
	rfbtest.LookPath(b, "xterm", "abiword", "display")
	const photo = "/usr/share/backgrounds/Dragonfly_by_Bolly.jpg"
	if _, err := os.Stat(photo); err != nil {
		b.Fatalf("the photo is missing (apt-get install lomiri-wallpapers): %v", err)
	}
	bg := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range bg.Pix {
		bg.Pix[i] = []byte{0x3a, 0x6e, 0xa5, 0xff}[i%4]
	}
	x := startScreen(b, bg, nil, image.Point{})
	doc := filepath.Join(b.TempDir(), "report.txt")
	os.WriteFile(doc, []byte(desktopDocument), 0o644)
	env := append(x.Env(), "DBUS_SESSION_BUS_ADDRESS=disabled:", "NO_AT_BRIDGE=1")
	rfbtest.Start(b, env, "xterm", "-geometry", "100x50+20+20", "-e", "ls -l --color=always /usr/bin | head -80; sleep 3600")
	rfbtest.Start(b, env, "abiword", "--geometry=900x700+700+20", doc)
	pic := image.Rect(60, 700, 60+600, 700+360)
	rfbtest.Start(b, env, "display", "-geometry", fmt.Sprintf("+%d+%d", pic.Min.X, pic.Min.Y), "-resize", fmt.Sprintf("%dx%d!", pic.Dx(), pic.Dy()), photo)
	pic.Max = pic.Max.Add(image.Pt(4, 4)) // display's window frames the photo with 2 pixels
	// Wait until the screen is drawn and still. With no window manager
	// the keyboard focus follows the pointer: parked over the root
	// window, AbiWord's caret stops blinking.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	time.Sleep(2 * time.Second)
	if out, err := rfbtest.Run(b, ctx, x.Env(), "xdotool", "mousemove", fmt.Sprint(w-10), fmt.Sprint(h-10)); err != nil {
		b.Fatalf("xdotool: %v\n%s", err, out)
	}
	var last *image.RGBA
	stable := 0
	for ctx.Err() == nil && stable < 4 {
		time.Sleep(time.Second)
		got, err := rfbtest.CaptureRoot(x)
		if err != nil {
			continue
		}
		if last != nil && string(got.Pix) == string(last.Pix) {
			stable++
		} else {
			stable = 0
		}
		last = got
	}
	return x, []image.Rectangle{pic}
}

const desktopDocument = `Quarterly report of the help desk

The help desk answered 1,204 calls in the third quarter, 8% more than in the second quarter.
Most calls were about printers (31%), passwords (22%) and the new invoice software (17%).
Remote sessions solved 64% of the calls without a visit; the median session took 11 minutes.

Next steps: train two more supporters on the invoice software, replace the printers on the
second floor, and publish a short guide for resetting passwords on the intranet.
`

// BenchmarkFirstPicture is the picture before any lossless refresh: our
// Go client asks each server for the whole screen with a viewer's
// default encodings and reads the first update only. The same decoder
// (image/jpeg) judges both servers' JPEG.
//
//	go test -tags interop -run '^$' -bench FirstPicture -benchtime 1x ./rfb/
func BenchmarkFirstPicture(b *testing.B) {
	rfbtest.LookPath(b, "x0vncserver")
	defaults := []struct {
		name string
		encs []rfb.Encoding
	}{
		{"tigervnc", []rfb.Encoding{rfb.EncTight, rfb.EncCopyRect, rfb.EncZRLE, rfb.EncHextile, rfb.EncRaw, rfb.EncLastRect, rfb.EncQualityLevel0 + 8}},
		{"novnc", []rfb.Encoding{rfb.EncCopyRect, rfb.EncTight, rfb.EncTightPNG, rfb.EncZRLE, rfb.EncHextile, rfb.EncRaw, rfb.EncQualityLevel0 + 6, rfb.EncCompressLevel0 + 2, rfb.EncLastRect}},
		{"gtk-vnc", []rfb.Encoding{rfb.EncQualityLevel0 + 5, rfb.EncTight, rfb.EncLastRect, rfb.EncZRLE, rfb.EncHextile, rfb.EncCopyRect, rfb.EncRaw}},
	}
	screens := append(append([]string{}, workload.Names...), "desktop")
	for _, screen := range screens {
		b.Run("screen="+screen, func(b *testing.B) {
			const w, h = 1920, 1080
			x, pictures := startQualityScreen(b, screen, w, h)
			agentPort, pw := startAgent(b, x)
			x0Port := startX0VNCOn(b, x)
			for _, d := range defaults {
				for _, server := range []string{"agent", "x0vncserver"} {
					b.Run(fmt.Sprintf("viewer=%s/server=%s", d.name, server), func(b *testing.B) {
						port, pass := agentPort, pw
						if server == "x0vncserver" {
							port, pass = x0Port, ""
						}
						got, n := firstPicture(b, port, pass, d.encs)
						want, err := rfbtest.CaptureRoot(x) // as it is now
						if err != nil {
							b.Fatal(err)
						}
						psnr, text := rfbtest.PSNR(got, want), psnrOutside(got, want, pictures)
						capDB := func(v float64) float64 { return min(v, 99) }
						b.ReportMetric(capDB(psnr), "psnr-dB")
						if !math.IsNaN(text) {
							b.ReportMetric(capDB(text), "text-dB")
						}
						b.ReportMetric(float64(n), "bytes")
						b.ReportMetric(0, "ns/op")
						b.Logf("%s %s %s: first picture PSNR %.2f dB, text %.2f dB, %d bytes", screen, d.name, server, psnr, text, n)
					})
				}
			}
		})
	}
}

// firstPicture connects our client, asks for the whole screen with encs
// and returns the picture after the first update and its size in bytes.
func firstPicture(b *testing.B, port int, password string, encs []rfb.Encoding) (*rfb.Image, int64) {
	proxy := startViewerProxy(b, port, password)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", proxy.port))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.SetEncodings(encs...); err != nil {
		b.Fatal(err)
	}
	start := proxy.sent.Load()
	if err := c.RequestFull(); err != nil {
		b.Fatal(err)
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if u, ok := m.(*rfb.FramebufferUpdate); ok && len(u.Rects) > 0 {
			return c.Framebuffer().Clone(), proxy.sent.Load() - start
		}
	}
}
