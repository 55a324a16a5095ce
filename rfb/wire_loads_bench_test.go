//go:build interop && linux

package rfb_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// The workloads of BenchmarkWire and the X client that drives and
// watches them.

// wireDesk is the benchmark's own X connection to the shared display: it
// draws the workloads that are not separate programs, moves windows, and
// watches DAMAGE on the root window to know when the screen last changed.
type wireDesk struct {
	x      *rfbtest.Xvfb
	conn   *xgb.Conn
	root   xproto.Window
	depth  byte
	visual xproto.Visualid
	last   atomic.Int64 // unix nanoseconds of the last damage
}

func openWireDesk(b *testing.B, x *rfbtest.Xvfb) *wireDesk {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rfbtest.Run(b, ctx, x.Env(), "xsetroot", "-solid", "#3a6ea5"); err != nil {
		b.Fatal(err)
	}
	conn, err := xgb.NewConnDisplay(x.Display)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	scr := xproto.Setup(conn).DefaultScreen(conn)
	d := &wireDesk{x: x, conn: conn, root: scr.Root, depth: scr.RootDepth, visual: scr.RootVisual}
	if err := xfixes.Init(conn); err != nil {
		b.Fatal(err)
	}
	if _, err := xfixes.QueryVersion(conn, 5, 0).Reply(); err != nil {
		b.Fatal(err)
	}
	if err := damage.Init(conn); err != nil {
		b.Fatal(err)
	}
	if _, err := damage.QueryVersion(conn, 1, 1).Reply(); err != nil {
		b.Fatal(err)
	}
	dmg, err := damage.NewDamageId(conn)
	if err != nil {
		b.Fatal(err)
	}
	if err := damage.CreateChecked(conn, dmg, xproto.Drawable(d.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		b.Fatal(err)
	}
	d.last.Store(time.Now().UnixNano())
	go func() {
		for {
			ev, err := conn.WaitForEvent()
			if ev == nil && err == nil {
				return // closed
			}
			if _, ok := ev.(damage.NotifyEvent); ok {
				d.last.Store(time.Now().UnixNano())
				damage.Subtract(conn, dmg, 0, 0)
			}
		}
	}()
	return d
}

func (d *wireDesk) lastChange() time.Time { return time.Unix(0, d.last.Load()) }

// waitQuiet waits until the screen has not changed for quiet, at most
// limit.
func (d *wireDesk) waitQuiet(b *testing.B, quiet, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if time.Since(d.lastChange()) >= quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Logf("the screen did not go quiet for %v within %v", quiet, limit)
}

// sync waits until the X server has carried out the requests so far.
func (d *wireDesk) sync() { xproto.GetInputFocus(d.conn).Reply() }

// screen reads the whole screen.
func (d *wireDesk) screen(b *testing.B) *rfb.Image {
	b.Helper()
	m := rfb.NewImage(d.x.Width, d.x.Height)
	const band = 64
	for y := 0; y < m.H; y += band {
		h := min(band, m.H-y)
		r, err := xproto.GetImage(d.conn, xproto.ImageFormatZPixmap, xproto.Drawable(d.root),
			0, int16(y), uint16(m.W), uint16(h), 0xffffffff).Reply()
		if err != nil {
			b.Fatalf("GetImage: %v", err)
		}
		copy(m.Pix[y*m.Stride:], r.Data[:h*m.Stride])
	}
	return m
}

// window makes an override-redirect window (no window manager places
// it) and maps it.
func (d *wireDesk) window(b *testing.B, r image.Rectangle, bg uint32) xproto.Window {
	b.Helper()
	w, err := xproto.NewWindowId(d.conn)
	if err != nil {
		b.Fatal(err)
	}
	err = xproto.CreateWindowChecked(d.conn, d.depth, w, d.root, int16(r.Min.X), int16(r.Min.Y),
		uint16(r.Dx()), uint16(r.Dy()), 0, xproto.WindowClassInputOutput, d.visual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{bg, 1}).Check()
	if err != nil {
		b.Fatal(err)
	}
	xproto.MapWindow(d.conn, w)
	b.Cleanup(func() { xproto.DestroyWindow(d.conn, w); d.sync() })
	d.sync()
	return w
}

func (d *wireDesk) gc(b *testing.B, w xproto.Window, rgb uint32) xproto.Gcontext {
	b.Helper()
	gc, err := xproto.NewGcontextId(d.conn)
	if err != nil {
		b.Fatal(err)
	}
	if err := xproto.CreateGCChecked(d.conn, gc, xproto.Drawable(w), xproto.GcForeground|xproto.GcGraphicsExposures,
		[]uint32{rgb, 0}).Check(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { xproto.FreeGC(d.conn, gc) })
	return gc
}

// putImage draws m at (0, 0) of drawable w, in bands that fit a request.
func (d *wireDesk) putImage(w xproto.Drawable, gc xproto.Gcontext, m *rfb.Image) {
	band := max(1, 200_000/m.Stride)
	for y := 0; y < m.H; y += band {
		h := min(band, m.H-y)
		xproto.PutImage(d.conn, xproto.ImageFormatZPixmap, w, gc, uint16(m.W), uint16(h), 0, int16(y), 0, d.depth,
			m.Pix[y*m.Stride:(y+h)*m.Stride])
	}
}

// findWindow waits for a top-level window of a process whose WM_CLASS
// contains class and returns it.
func (d *wireDesk) findWindow(b *testing.B, class string) xproto.Window {
	b.Helper()
	for range 200 {
		tree, err := xproto.QueryTree(d.conn, d.root).Reply()
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range tree.Children {
			p, err := xproto.GetProperty(d.conn, false, w, xproto.AtomWmClass, xproto.AtomString, 0, 64).Reply()
			if err != nil || !strings.Contains(string(p.Value), class) {
				continue
			}
			a, err := xproto.GetWindowAttributes(d.conn, w).Reply()
			if err == nil && a.MapState == xproto.MapStateViewable {
				return w
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("no %s window appeared", class)
	return 0
}

// A wireLoad prepares a workload on the desk; the run it returns changes
// the screen from start until stop.
type wireLoad struct {
	name  string
	encs  []string
	setup func(b *testing.B, d *wireDesk) wireRun
}

type wireRun struct {
	start, stop func()
	// last, if set, names the workload's last step once it stopped: the
	// photo's lag depends on which photo came last.
	last func() string
	// frames, if set, are the pictures the workload puts up in turn, at
	// one place (on the 4x4 grid), the first one before start: the
	// benchmark counts how many the viewer showed whole.
	frames func() wireFrames
}

type wireFrames struct {
	at     image.Point
	images []*rfb.Image
}

var wireLoads = []wireLoad{
	{"scroll", []string{"tight", "zrle"}, scrollLoad},
	{"drag", []string{"tight", "zrle"}, dragLoad},
	{"photo", []string{"tight"}, photoLoad},
	{"animation", []string{"tight"}, animationLoad},
	{"clock", []string{"tight"}, clockLoad},
}

// scrollLoad: an xterm shows 50 lines, then prints 600 more at 100 a
// second when started.
func scrollLoad(b *testing.B, d *wireDesk) wireRun {
	dir := b.TempDir()
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte(wireText(650)), 0o644); err != nil {
		b.Fatal(err)
	}
	fifo := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		b.Fatal(err)
	}
	script := fmt.Sprintf(`head -n 50 %[1]s; read go < %[2]s; tail -n +51 %[1]s | perl -e '
use Time::HiRes qw(time sleep); $| = 1; my $t0 = time;
while (<STDIN>) { print; my $d = $t0 + $. * 0.01 - time; sleep($d) if $d > 0 }'; exec sleep 3600`, text, fifo)
	rfbtest.Start(b, d.x.Env(), "xterm", "-geometry", "120x50+60+40", "-e", "sh", "-c", script)
	d.findWindow(b, "xterm")
	return wireRun{
		start: func() {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				b.Error(err)
				return
			}
			f.WriteString("go\n")
			f.Close()
		},
		stop: func() {},
	}
}

// wireText is n lines of a deterministic listing-like text.
func wireText(n int) string {
	words := strings.Fields("the supporter sees the customer screen with any stock viewer and controls it only after " +
		"consent session code broker agent window scroll drag photo clock render update region rectangle " +
		"pixel encoder tight zrle hextile copyrect fence continuous")
	rng := rand.New(rand.NewPCG(17, 17))
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%5d %s %8d ", i, []string{"-rw-r--r--", "drwxr-xr-x", "-rwxr-xr-x"}[rng.IntN(3)], rng.IntN(1<<20))
		for l := 0; l < 40+rng.IntN(50); {
			w := words[rng.IntN(len(words))]
			sb.WriteString(w + " ")
			l += len(w) + 1
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// dragLoad: an xterm with a coloured listing, moved 60 times a second
// along a path across the screen, as a window manager moves a window
// being dragged.
func dragLoad(b *testing.B, d *wireDesk) wireRun {
	dir := b.TempDir()
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte(wireText(30)), 0o644); err != nil {
		b.Fatal(err)
	}
	rfbtest.Start(b, d.x.Env(), "xterm", "-geometry", "90x30+100+100", "-bg", "#fdf6e3", "-fg", "#073642",
		"-e", "sh", "-c", fmt.Sprintf("head -n 29 %s; exec sleep 3600", text))
	w := d.findWindow(b, "xterm")
	return d.mover(w, func(t float64) image.Point {
		// Back and forth across the screen, and up and down.
		u := math.Mod(t/3, 2)
		if u > 1 {
			u = 2 - u
		}
		return image.Pt(100+int(u*1100), 100+int(300*math.Sin(t*2)+300))
	})
}

// mover moves w to path(seconds) 60 times a second while running.
func (d *wireDesk) mover(w xproto.Window, path func(t float64) image.Point) wireRun {
	var stop atomic.Bool
	var wg sync.WaitGroup
	return wireRun{
		start: func() {
			wg.Go(func() {
				t0 := time.Now()
				for i := 0; !stop.Load(); i++ {
					p := path(time.Since(t0).Seconds())
					xproto.ConfigureWindow(d.conn, w, xproto.ConfigWindowX|xproto.ConfigWindowY,
						[]uint32{uint32(int32(p.X)), uint32(int32(p.Y))})
					d.sync()
					time.Sleep(time.Until(t0.Add(time.Duration(i+1) * time.Second / 60)))
				}
			})
		},
		stop: func() { stop.Store(true); wg.Wait() },
	}
}

// photoLoad: a 1280x800 window that shows the next of four photos every
// 500 ms.
//
// The last change comes at 5.5 s or at 6 s, by a race with the stop, so
// the last photo is Dragonfly or Fossa, and the slow link's lag depends
// on which. RFB_WIRE_PHOTO_LAST=Fossa (any name's start) makes it that
// one: the order starts there, so that the change at 5.5 s shows it,
// and the one at 6 s does not happen.
func photoLoad(b *testing.B, d *wireDesk) wireRun {
	r := image.Rect(320, 140, 1600, 940)
	var photos []*rfb.Image
	names := []string{"Dragonfly_by_Bolly.jpg", "Fossa_by_Jasper_Roks.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "sunset_by_Aitzol_Berasategi.jpg"}
	steps := -1 // no limit
	if want := os.Getenv("RFB_WIRE_PHOTO_LAST"); want != "" {
		i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, want) })
		if i < 0 {
			b.Fatalf("RFB_WIRE_PHOTO_LAST=%s names none of %v", want, names)
		}
		names = slices.Concat(names[i:], names[:i])
		steps = int(wireDuration / (500 * time.Millisecond))
	}
	for _, name := range names {
		photos = append(photos, rfb.LoadPhoto(b, "/usr/share/backgrounds/"+name, r.Dx(), r.Dy()))
	}
	w := d.window(b, r, 0x202020)
	gc := d.gc(b, w, 0)
	d.putImage(xproto.Drawable(w), gc, photos[0])
	d.sync()
	var last atomic.Int64
	run := d.ticker(500*time.Millisecond, func(i int) {
		if steps >= 0 && i >= steps {
			return
		}
		last.Store(int64((i + 1) % len(photos)))
		d.putImage(xproto.Drawable(w), gc, photos[(i+1)%len(photos)])
	})
	run.last = func() string { return "last photo " + names[last.Load()] }
	run.frames = func() wireFrames { return wireFrames{at: r.Min, images: photos} }
	return run
}

// ticker calls step every period while running, with the step's number.
func (d *wireDesk) ticker(period time.Duration, step func(i int)) wireRun {
	var stop atomic.Bool
	var wg sync.WaitGroup
	return wireRun{
		start: func() {
			wg.Go(func() {
				t0 := time.Now()
				for i := 0; !stop.Load(); i++ {
					step(i)
					d.sync()
					time.Sleep(time.Until(t0.Add(time.Duration(i+1) * period)))
				}
			})
		},
		stop: func() { stop.Store(true); wg.Wait() },
	}
}

// animationLoad: a ball and a hand going round in a 240x240 window, 30
// frames a second, each frame drawn off screen and copied in.
func animationLoad(b *testing.B, d *wireDesk) wireRun {
	const size = 240
	w := d.window(b, image.Rect(1560, 700, 1560+size, 700+size), 0xffffff)
	pix, err := xproto.NewPixmapId(d.conn)
	if err != nil {
		b.Fatal(err)
	}
	xproto.CreatePixmap(d.conn, d.depth, pix, xproto.Drawable(w), size, size)
	b.Cleanup(func() { xproto.FreePixmap(d.conn, pix) })
	bg, ball, hand := d.gc(b, w, 0xf4f4f4), d.gc(b, w, 0xd03030), d.gc(b, w, 0x203080)
	xproto.ChangeGC(d.conn, hand, xproto.GcLineWidth, []uint32{3})
	frame := func(i int) {
		a := float64(i) * 2 * math.Pi / 90
		xproto.PolyFillRectangle(d.conn, xproto.Drawable(pix), bg, []xproto.Rectangle{{Width: size, Height: size}})
		cx, cy := size/2+int(80*math.Cos(a)), size/2+int(80*math.Sin(a))
		xproto.PolyFillArc(d.conn, xproto.Drawable(pix), ball, []xproto.Arc{{X: int16(cx - 20), Y: int16(cy - 20),
			Width: 40, Height: 40, Angle1: 0, Angle2: 360 * 64}})
		xproto.PolyLine(d.conn, xproto.CoordModeOrigin, xproto.Drawable(pix), hand, []xproto.Point{{X: size / 2, Y: size / 2},
			{X: int16(size/2 + int(100*math.Cos(-a*3))), Y: int16(size/2 + int(100*math.Sin(-a*3)))}})
		xproto.CopyArea(d.conn, xproto.Drawable(pix), xproto.Drawable(w), bg, 0, 0, 0, 0, size, size)
	}
	frame(0)
	d.sync()
	return d.ticker(time.Second/30, func(i int) { frame(i + 1) })
}

// clockLoad: xclock with a second hand, stopped (SIGSTOP) at the end.
func clockLoad(b *testing.B, d *wireDesk) wireRun {
	p := rfbtest.Start(b, d.x.Env(), "xclock", "-geometry", "200x200+1660+40", "-update", "1")
	d.findWindow(b, "xclock")
	time.Sleep(300 * time.Millisecond) // its first face
	syscall.Kill(p.Pid(), syscall.SIGSTOP)
	return wireRun{
		start: func() { syscall.Kill(p.Pid(), syscall.SIGCONT) },
		stop:  func() { syscall.Kill(p.Pid(), syscall.SIGSTOP) },
	}
}
