//go:build interop && linux

package rfb_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// Helpers for the interop tests and the quality benchmark that run the
// real agent, x0vncserver and the viewers at their default settings.

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// agentBinary builds cmd/winvnc once per test binary.
func agentBinary(t testing.TB) string {
	t.Helper()
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lifebuoy-agent-")
		if err != nil {
			agentErr = err
			return
		}
		agentBin = filepath.Join(dir, "winvnc")
		out, err := exec.Command("go", "build", "-o", agentBin, "lifebuoy/cmd/winvnc").CombinedOutput()
		if err != nil {
			agentErr = fmt.Errorf("go build cmd/winvnc: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}

// startAgent runs the agent in direct mode on x's display, answering its
// consent prompt with yes, and returns its port and password.
func startAgent(t testing.TB, x *rfbtest.Xvfb) (int, string) {
	t.Helper()
	port, password, _ := startAgentPid(t, x)
	return port, password
}

// startAgentPid is startAgent that also returns the agent's process id.
func startAgentPid(t testing.TB, x *rfbtest.Xvfb) (int, string, int) {
	t.Helper()
	a := startAgentUI(t, x)
	return a.port, a.password, a.pid
}

// agentUI is a running agent and its terminal UI: lines it printed
// (after the listening line) and a way to give it commands.
type agentUI struct {
	port     int
	password string
	pid      int
	lines    chan string
	stdin    io.Writer
	mu       sync.Mutex // serialises writes to stdin
}

// send gives the agent one command line.
func (a *agentUI) send(line string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	io.WriteString(a.stdin, line+"\n")
}

// expect waits for a line matching re and returns its submatches.
func (a *agentUI) expect(t testing.TB, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l := <-a.lines:
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("the agent never printed %q", re)
		}
	}
}

// startAgentUI runs the agent in direct mode on x's display, answering
// its consent prompt with yes.
func startAgentUI(t testing.TB, x *rfbtest.Xvfb) *agentUI {
	t.Helper()
	const password = "482913"
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBinary(t), "-listen", "127.0.0.1:0", "-password-file", pw, "-display", x.Display, "-ui", "terminal")
	cmd.Env = append(os.Environ(), "DISPLAY="+x.Display, "DBUS_SESSION_BUS_ADDRESS=disabled:")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentUI{password: password, pid: cmd.Process.Pid, lines: make(chan string, 256), stdin: stdin}
	done := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(done)
		defer cmd.Wait()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "state waiting Listening on "):
				l, _, _ := strings.Cut(strings.TrimPrefix(line, "state waiting Listening on "), ";")
				select {
				case addr <- l:
				default:
				}
			case strings.HasPrefix(line, "prompt "):
				a.send("y")
			}
			select {
			case a.lines <- line:
			default: // nobody reads them
			}
		}
	}()
	select {
	case l := <-addr:
		_, p, _ := net.SplitHostPort(l)
		fmt.Sscan(p, &a.port)
		return a
	case <-done:
		t.Fatalf("the agent ended: %s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not listen: %s", stderr.String())
	}
	return nil
}

// startX0VNCOn runs TigerVNC's scraping server on x with no security.
func startX0VNCOn(t testing.TB, x *rfbtest.Xvfb) int {
	t.Helper()
	rfbtest.LookPath(t, "x0vncserver")
	port := rfbtest.FreePort(t)
	rfbtest.Start(t, x.Env(), "x0vncserver", "-display", x.Display, "-rfbport", fmt.Sprint(port),
		"-SecurityTypes", "None", "-localhost=1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rfbtest.WaitListening(ctx, port); err != nil {
		t.Fatalf("x0vncserver did not listen: %v", err)
	}
	return port
}

// viewerProxy sits between a viewer and a server: the viewer gets
// security None, the server gets VNC Authentication with the password
// (None if it is empty), and then bytes are relayed, counting what the
// server sends. So every viewer reaches the password-protected agent at
// its defaults, and the bytes of both servers are counted the same way.
type viewerProxy struct {
	port int
	sent atomic.Int64 // bytes from the server after the handshake
	err  atomic.Value // the last handshake error
}

func startViewerProxy(t testing.TB, upstream int, password string) *viewerProxy {
	t.Helper()
	l := rfbtest.Listen(t)
	p := &viewerProxy{port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			vc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, vc)
			mu.Unlock()
			wg.Go(func() {
				defer vc.Close()
				vr, uc, err := p.handshake(vc, upstream, password)
				if err != nil {
					p.err.Store(err)
					return
				}
				mu.Lock()
				conns = append(conns, uc)
				mu.Unlock()
				defer uc.Close()
				go func() { io.Copy(uc, vr); uc.Close() }()
				buf := make([]byte, 64<<10)
				for {
					n, err := uc.Read(buf)
					p.sent.Add(int64(n))
					if n > 0 {
						if _, werr := vc.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return p
}

// handshake accepts the viewer with None and logs in upstream.
// It returns what to read the viewer's messages from and the server's
// connection.
func (p *viewerProxy) handshake(vc net.Conn, upstream int, password string) (io.Reader, net.Conn, error) {
	vc.SetDeadline(time.Now().Add(20 * time.Second))
	hs, err := rfb.AcceptSecurity(vc, rfb.SecurityConfig{Types: []rfb.SecurityType{rfb.SecNone}})
	if err != nil {
		return nil, nil, err
	}
	uc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", upstream))
	if err != nil {
		return nil, nil, err
	}
	uc.SetDeadline(time.Now().Add(20 * time.Second))
	fail := func(err error) (io.Reader, net.Conn, error) { uc.Close(); return nil, nil, err }
	b := make([]byte, 16)
	if _, err := io.ReadFull(uc, b[:12]); err != nil {
		return fail(err)
	}
	if _, err := uc.Write([]byte("RFB 003.008\n")); err != nil {
		return fail(err)
	}
	if _, err := io.ReadFull(uc, b[:1]); err != nil || b[0] == 0 {
		return fail(fmt.Errorf("server offers no security type (%v)", err))
	}
	types := make([]byte, b[0])
	if _, err := io.ReadFull(uc, types); err != nil {
		return fail(err)
	}
	want := byte(rfb.SecNone)
	if password != "" {
		want = byte(rfb.SecVNCAuth)
	}
	if !bytes.Contains(types, []byte{want}) {
		return fail(fmt.Errorf("server offers %v, not %d", types, want))
	}
	uc.Write([]byte{want})
	if want == byte(rfb.SecVNCAuth) {
		if _, err := io.ReadFull(uc, b[:16]); err != nil {
			return fail(err)
		}
		uc.Write(rfb.VNCAuthResponse(b[:16], password))
	}
	if _, err := io.ReadFull(uc, b[:4]); err != nil || b[0]|b[1]|b[2]|b[3] != 0 {
		return fail(fmt.Errorf("server refused the login (%v)", err))
	}
	if err := hs.Accept(); err != nil {
		return fail(err)
	}
	uc.SetDeadline(time.Time{})
	vc.SetDeadline(time.Time{})
	return hs.Conn, uc, nil
}

// viewer is a running viewer: it shows what it has of the server's
// picture and the cursor it draws.
type viewer interface {
	picture() (*image.RGBA, error)
	cursor() (*image.NRGBA, image.Point, error)
	failed() error // non-nil once the viewer gave up (disconnected)
	output() string
}

// tigerViewer runs TigerVNC's vncviewer full screen with its defaults.
type tigerViewer struct {
	x *rfbtest.Xvfb
	p *rfbtest.Proc
}

// With viewOnly it sends no input: x0vncserver would move the real
// pointer (giving AbiWord the focus and a blinking caret) and the agent
// would draw its pointing arrow, and neither screen would stay still.
func startTigerViewer(t testing.TB, port, w, h int, viewOnly bool) *tigerViewer {
	t.Helper()
	rfbtest.LookPath(t, "vncviewer")
	x := rfbtest.StartXvfb(t, w, h, 24)
	p := rfbtest.Start(t, x.Env(), "vncviewer", "-FullScreen", "-Shared=1", "-SecurityTypes=None",
		fmt.Sprintf("-ViewOnly=%v", viewOnly), fmt.Sprintf("127.0.0.1::%d", port))
	return &tigerViewer{x: x, p: p}
}

func (v *tigerViewer) picture() (*image.RGBA, error) { return rfbtest.CaptureRoot(v.x) }
func (v *tigerViewer) cursor() (*image.NRGBA, image.Point, error) {
	return rfbtest.XCursor(v.x)
}
func (v *tigerViewer) failed() error {
	if v.p.Exited() {
		return errors.New("vncviewer exited")
	}
	return nil
}
func (v *tigerViewer) output() string { return v.p.Output() }

// gtkViewer runs gtk-vnc's gvncviewer (lossy encoding on, as it ships).
// Its window has a menu bar above the picture; off is where the picture
// starts, found once it shows.
type gtkViewer struct {
	x      *rfbtest.Xvfb
	p      *rfbtest.Proc
	w, h   int
	offset image.Point
	found  bool
}

func startGTKViewer(t testing.TB, port, w, h int) *gtkViewer {
	t.Helper()
	rfbtest.LookPath(t, "gvncviewer", "xdotool")
	x := rfbtest.StartXvfb(t, w+64, h+128, 24)
	// The pointer off the window, so that gvncviewer sends no input (it
	// has no view-only switch); see startTigerViewer.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := rfbtest.Run(t, ctx, x.Env(), "xdotool", "mousemove", fmt.Sprint(w+60), fmt.Sprint(h+124)); err != nil {
		t.Fatalf("xdotool: %v\n%s", err, out)
	}
	// gvncviewer takes HOST:DISPLAY (port 5900+DISPLAY).
	p := rfbtest.Start(t, x.Env(), "gvncviewer", fmt.Sprintf("127.0.0.1:%d", port-5900))
	return &gtkViewer{x: x, p: p, w: w, h: h}
}

func (v *gtkViewer) picture() (*image.RGBA, error) {
	all, err := rfbtest.CaptureRoot(v.x)
	if err != nil {
		return nil, err
	}
	sub := func(o image.Point) *image.RGBA {
		m := image.NewRGBA(image.Rect(0, 0, v.w, v.h))
		for y := range v.h {
			copy(m.Pix[y*m.Stride:][:v.w*4], all.Pix[(o.Y+y)*all.Stride+o.X*4:])
		}
		return m
	}
	if v.found {
		return sub(v.offset), nil
	}
	return sub(image.Point{}), nil
}

// locate finds where the picture starts in the window, as the offset
// that best matches want.
func (v *gtkViewer) locate(want image.Image) {
	all, err := rfbtest.CaptureRoot(v.x)
	if err != nil {
		return
	}
	best, bestP := -1.0, image.Point{}
	for oy := 0; oy <= 127; oy++ {
		for ox := 0; ox <= 63; ox += 1 {
			if ox+v.w > all.Rect.Dx() || oy+v.h > all.Rect.Dy() {
				continue
			}
			// A cheap score on a sparse grid.
			var se float64
			for y := 0; y < v.h; y += 37 {
				for x := 0; x < v.w; x += 29 {
					a := all.RGBAAt(ox+x, oy+y)
					r, g, b, _ := want.At(want.Bounds().Min.X+x, want.Bounds().Min.Y+y).RGBA()
					dr, dg, db := float64(a.R)-float64(r>>8), float64(a.G)-float64(g>>8), float64(a.B)-float64(b>>8)
					se += dr*dr + dg*dg + db*db
				}
			}
			if best < 0 || se < best {
				best, bestP = se, image.Pt(ox, oy)
			}
		}
	}
	v.offset, v.found = bestP, true
}

func (v *gtkViewer) cursor() (*image.NRGBA, image.Point, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The pointer over the picture: gtk-vnc sets the cursor on its widget.
	p := v.offset.Add(image.Pt(v.w/2, v.h/2))
	cmd := exec.CommandContext(ctx, "xdotool", "mousemove", fmt.Sprint(p.X), fmt.Sprint(p.Y))
	cmd.Env = v.x.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, image.Point{}, fmt.Errorf("xdotool: %v: %s", err, out)
	}
	return rfbtest.XCursor(v.x)
}
func (v *gtkViewer) failed() error {
	if v.p.Exited() {
		return errors.New("gvncviewer exited")
	}
	return nil
}
func (v *gtkViewer) output() string { return v.p.Output() }

// noVNC in Chromium: a page that imports noVNC's RFB core with its
// default settings (quality 6, compression 2) and connects through
// Debian's websockify, which also serves the page.
type noVNCViewer struct {
	page *rfbtest.Page
}

// noVNCTrees are the two noVNCs the tests use: Debian 12's package and
// the npm one pinned in viewer/web.
func noVNCTree(t testing.TB, which string) string {
	t.Helper()
	switch which {
	case "debian":
		const dir = "/usr/share/novnc"
		if _, err := os.Stat(filepath.Join(dir, "core", "rfb.js")); err != nil {
			t.Fatalf("Debian's noVNC is not installed (apt-get install novnc): %v", err)
		}
		return dir
	case "npm":
		return filepath.Join(rfbtest.NodeModules(t), "@novnc", "novnc")
	}
	t.Fatalf("no noVNC %q", which)
	return ""
}

const noVNCPage = `<!doctype html><meta charset=utf-8><title>noVNC</title>
<body style="margin:0"><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
window.events = [];
const rfb = new RFB(document.getElementById('screen'), 'ws://' + location.host + '/websockify');
rfb.addEventListener('connect', () => window.events.push('connect'));
rfb.addEventListener('disconnect', (e) => window.events.push('disconnect ' + JSON.stringify(e.detail)));
window.rfb = rfb;
</script>`

func startNoVNC(t testing.TB, b *rfbtest.Browser, which string, port int) *noVNCViewer {
	t.Helper()
	rfbtest.LookPath(t, "websockify")
	web := t.TempDir()
	tree := noVNCTree(t, which)
	for _, d := range []string{"core", "vendor"} {
		if err := os.Symlink(filepath.Join(tree, d), filepath.Join(web, d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(web, "index.html"), []byte(noVNCPage), 0o644); err != nil {
		t.Fatal(err)
	}
	wsPort := rfbtest.FreePort(t)
	rfbtest.Start(t, nil, "websockify", "--web", web, fmt.Sprintf("127.0.0.1:%d", wsPort), fmt.Sprintf("127.0.0.1:%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rfbtest.WaitListening(ctx, wsPort); err != nil {
		t.Fatalf("websockify did not listen: %v", err)
	}
	page, err := b.NewPage(rfbtest.PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := page.Goto(fmt.Sprintf("http://127.0.0.1:%d/index.html", wsPort)); err != nil || status != 200 {
		t.Fatalf("loading the noVNC page: %d %v", status, err)
	}
	return &noVNCViewer{page: page}
}

func (v *noVNCViewer) picture() (*image.RGBA, error) { return v.page.CanvasImage("#screen canvas") }

// cursor reads the cursor noVNC shows: a CSS cursor image on its canvas,
// or, where the browser cannot, its fallback canvas.
func (v *noVNCViewer) cursor() (*image.NRGBA, image.Point, error) {
	var css string
	if err := v.page.Eval(`() => { const c = document.querySelector('#screen canvas'); return c ? c.style.cursor : ''; }`, nil, &css); err != nil {
		return nil, image.Point{}, err
	}
	const pre = `url("data:image/png;base64,`
	i := strings.Index(css, pre)
	if i < 0 {
		return nil, image.Point{}, fmt.Errorf("no cursor image in the canvas's style: %q", css)
	}
	rest := css[i+len(pre):]
	data, tail, ok := strings.Cut(rest, `")`)
	if !ok {
		return nil, image.Point{}, fmt.Errorf("odd cursor style %q", css)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, image.Point{}, err
	}
	m, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, image.Point{}, err
	}
	var hot image.Point
	fmt.Sscan(strings.TrimSpace(strings.Split(tail, ",")[0]), &hot.X, &hot.Y)
	n := image.NewNRGBA(m.Bounds())
	for y := m.Bounds().Min.Y; y < m.Bounds().Max.Y; y++ {
		for x := m.Bounds().Min.X; x < m.Bounds().Max.X; x++ {
			n.Set(x, y, m.At(x, y))
		}
	}
	return n, hot, nil
}

func (v *noVNCViewer) failed() error {
	var ev []string
	if err := v.page.Eval(`() => window.events || []`, nil, &ev); err != nil {
		return err
	}
	for _, e := range ev {
		if strings.HasPrefix(e, "disconnect") {
			return fmt.Errorf("noVNC: %s", e)
		}
	}
	return nil
}

func (v *noVNCViewer) output() string { return strings.Join(v.page.Logs(), "\n") }

// settle waits until the viewer's picture has not changed for quiet,
// at most for limit, and returns it. It fails when the viewer gave up.
func settle(t testing.TB, v viewer, quiet, limit time.Duration) *image.RGBA {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last *image.RGBA
	since := time.Now()
	for time.Now().Before(deadline) {
		if err := v.failed(); err != nil {
			t.Fatalf("%v\n%s", err, v.output())
		}
		got, err := v.picture()
		if err == nil {
			if last == nil || !bytes.Equal(got.Pix, last.Pix) {
				last, since = got, time.Now()
			} else if time.Since(since) >= quiet {
				return last
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if last == nil {
		t.Fatalf("the viewer never showed a picture\n%s", v.output())
	}
	return last
}

// psnrOutside is the PSNR over the pixels of want outside the rectangles
// excluded (the pictures of a screen, to judge its text and UI).
func psnrOutside(got, want image.Image, excluded []image.Rectangle) float64 {
	b := want.Bounds()
	var se float64
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
	pixels:
		for x := b.Min.X; x < b.Max.X; x++ {
			for _, r := range excluded {
				if image.Pt(x, y).In(r) {
					continue pixels
				}
			}
			r1, g1, b1, _ := got.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
			}
			n += 3
		}
	}
	if n == 0 {
		return math.NaN()
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(n)/se)
}

// startScreen starts the screen to share: an Xvfb whose root window shows
// img, with an invisible root cursor (x0vncserver draws the pointer into
// the picture for viewers without cursor support) unless cursor is set.
func startScreen(t testing.TB, img image.Image, cursor *image.NRGBA, hot image.Point) *rfbtest.Xvfb {
	t.Helper()
	rfbtest.LookPath(t, "Xvfb", "xwd", "display", "xsetroot")
	b := img.Bounds()
	x := rfbtest.StartXvfb(t, b.Dx(), b.Dy(), 24)
	file := filepath.Join(t.TempDir(), "screen.png")
	if err := rfbtest.SavePNG(file, img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// display exits 1 after setting the root window's background; what
	// counts is the picture.
	rfbtest.Run(t, ctx, x.Env(), "display", "-window", "root", file)
	if got, err := rfbtest.CaptureRoot(x); err != nil {
		t.Fatal(err)
	} else if n, _, d := rfbtest.Diff(got, img); n != 0 {
		t.Fatalf("the screen does not show the picture: %s", d)
	}
	if cursor == nil {
		cursor = image.NewNRGBA(image.Rect(0, 0, 8, 8))
	}
	rfbtest.SetRootCursor(t, x, cursor, hot)
	return x
}
