//go:build interop && linux

package winvnc

import (
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/broker"
	"lifebuoy/rfb"
)

// painter is a tiny X client that owns one override-redirect window and
// fills it with a colour on request. Drawing straight over the X
// protocol instead of spawning xdotool keeps process start-up (a few ms,
// and very variable) out of the measured interval.
type painter struct {
	conn   *xgb.Conn
	win    xproto.Window
	gc     xproto.Gcontext
	rect   image.Rectangle // the window on the screen
	colour uint32          // its colour now
}

func newPainter(b *testing.B, display string, r image.Rectangle, rgb uint32) *painter {
	b.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		b.Fatalf("painter: %v", err)
	}
	b.Cleanup(conn.Close)
	screen := xproto.Setup(conn).DefaultScreen(conn)
	p := &painter{conn: conn, rect: r}
	if p.win, err = xproto.NewWindowId(conn); err != nil {
		b.Fatal(err)
	}
	if p.gc, err = xproto.NewGcontextId(conn); err != nil {
		b.Fatal(err)
	}
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, p.win, screen.Root,
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{rgb, 1}).Check()
	if err != nil {
		b.Fatalf("painter: CreateWindow: %v", err)
	}
	if err := xproto.CreateGCChecked(conn, p.gc, xproto.Drawable(p.win), xproto.GcForeground, []uint32{rgb}).Check(); err != nil {
		b.Fatalf("painter: CreateGC: %v", err)
	}
	if err := xproto.MapWindowChecked(conn, p.win).Check(); err != nil {
		b.Fatalf("painter: MapWindow: %v", err)
	}
	p.fill(b, rgb)
	return p
}

// fill paints the whole window rgb and waits until the X server has
// carried it out (a round trip, as XSync does).
func (p *painter) fill(b *testing.B, rgb uint32) {
	p.colour = rgb
	xproto.ChangeGC(p.conn, p.gc, xproto.GcForeground, []uint32{rgb})
	xproto.PolyFillRectangle(p.conn, xproto.Drawable(p.win), p.gc,
		[]xproto.Rectangle{{X: 0, Y: 0, Width: uint16(p.rect.Dx()), Height: uint16(p.rect.Dy())}})
	if _, err := xproto.GetInputFocus(p.conn).Reply(); err != nil {
		b.Fatalf("painter: sync: %v", err)
	}
}

// seen is one FramebufferUpdate as the viewer received it: when the
// message was read and decoded, and the probe pixel's colour after it.
type seen struct {
	at  time.Time
	rgb uint32
}

// latencyViewer keeps one incremental FramebufferUpdateRequest
// outstanding (a new one right after each update) and reports every
// update on seen. It reads on its own goroutine; nothing else uses c.
type latencyViewer struct {
	c    *rfb.Client
	seen chan seen
	done chan error
}

func startLatencyViewer(b *testing.B, addr, password string, probe image.Point) *latencyViewer {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatalf("viewer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: password})
	if err != nil {
		b.Fatalf("viewer: %v", err)
	}
	v := &latencyViewer{c: c, seen: make(chan seen, 1024), done: make(chan error, 1)}
	if err := c.SetEncodings(rfb.EncRaw); err != nil {
		b.Fatal(err)
	}
	if err := c.RequestFull(); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			m, err := c.ReadMessage()
			if err != nil {
				v.done <- err
				close(v.seen)
				return
			}
			if _, ok := m.(*rfb.FramebufferUpdate); !ok {
				continue
			}
			at := time.Now()
			rgb := c.Framebuffer().RGB(probe.X, probe.Y)
			w, h := c.Size()
			if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
				v.done <- err
				close(v.seen)
				return
			}
			select {
			case v.seen <- seen{at, rgb}:
			default: // nobody is waiting for this many; drop the oldest
				select {
				case <-v.seen:
				default:
				}
				v.seen <- seen{at, rgb}
			}
		}
	}()
	b.Cleanup(func() {
		c.Close()
		<-v.done
	})
	return v
}

// waitColour returns when the viewer first saw rgb at the probe pixel in
// an update read after since, or false after timeout.
func (v *latencyViewer) waitColour(rgb uint32, since time.Time, timeout time.Duration) (time.Time, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case s, ok := <-v.seen:
			if !ok {
				return time.Time{}, false
			}
			if s.rgb == rgb && !s.at.Before(since) {
				return s.at, true
			}
		case <-t.C:
			return time.Time{}, false
		}
	}
}

// benchAgent runs the agent in-process with a terminal UI on pipes that
// says "y" to every consent prompt and hands out the listen address or
// the session code.
type benchAgent struct {
	found chan string // the direct-mode address or the code
}

func startBenchAgent(b *testing.B, cfg Config) *benchAgent {
	b.Helper()
	pr, pw := io.Pipe()
	a := &benchAgent{found: make(chan string, 1)}
	out := &lineWatcher{fn: func(line string) {
		switch {
		case strings.HasPrefix(line, "prompt "):
			go io.WriteString(pw, "y\n")
		case strings.HasPrefix(line, "code "):
			a.report(strings.TrimPrefix(line, "code "))
		case strings.HasPrefix(line, "state waiting Listening on "):
			addr, _, _ := strings.Cut(strings.TrimPrefix(line, "state waiting Listening on "), ";")
			a.report(addr)
		}
	}}
	cfg.UI = NewTerminal(pr, out)
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	b.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("agent: %v", err)
			}
		case <-time.After(waitTimeout):
			b.Error("agent: Run did not return after its context ended")
		}
	})
	return a
}

// report hands s to wait; only the first value counts.
func (a *benchAgent) report(s string) {
	select {
	case a.found <- s:
	default:
	}
}

func (a *benchAgent) wait(b *testing.B, what string) string {
	b.Helper()
	select {
	case s := <-a.found:
		return s
	case <-time.After(waitTimeout):
		b.Fatalf("agent never printed %s", what)
		return ""
	}
}

// lineWatcher calls fn with every whole line written to it.
type lineWatcher struct {
	mu      sync.Mutex
	partial string
	fn      func(string)
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	for {
		line, rest, ok := strings.Cut(l.partial, "\n")
		if !ok {
			break
		}
		l.partial = rest
		l.fn(line)
	}
	return len(p), nil
}

// startBenchBroker is an in-process broker on loopback ports; it returns
// the broker (for its fingerprint) and its agent and viewer addresses.
func startBenchBroker(b *testing.B) (*broker.Broker, string, string) {
	b.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.ConsentTimeout = broker.Duration(time.Minute)
	br, err := broker.New(cfg, slog.New(slog.NewTextHandler(tWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		b.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	ls := broker.Listeners{Agent: listen(), Viewer: listen(), Repeater: listen(), Admin: listen()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Serve(ctx, ls) }()
	b.Cleanup(func() {
		cancel()
		<-done
		br.Close()
	})
	return br, ls.Agent.Addr().String(), ls.Viewer.Addr().String()
}

func writePasswordTB(tb testing.TB, pw string) string {
	file := filepath.Join(tb.TempDir(), "password")
	if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// quantiles returns the median and the 95th percentile (nearest rank)
// of d in milliseconds.
func quantiles(d []time.Duration) (median, p95 float64) {
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	n := len(s)
	if n == 0 {
		return 0, 0
	}
	if n%2 == 1 {
		median = ms(s[n/2])
	} else {
		median = (ms(s[n/2-1]) + ms(s[n/2])) / 2
	}
	rank := (95*n + 99) / 100 // ceil(0.95 n)
	p95 = ms(s[rank-1])
	return median, p95
}

func fmtMs(x float64) string { return fmt.Sprintf("%.2f ms", x) }
