package winvnc

import (
	"context"
	"image"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
)

// waitTimeout bounds each wait for the agent, the viewer or the X server.
const waitTimeout = 20 * time.Second

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testBroker is an in-process broker on loopback ports.
type testBroker struct {
	*broker.Broker
	dir, agentAddr, viewerAddr, httpsAddr string
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ConsentTimeout = broker.Duration(time.Minute)
	b, err := broker.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ls := broker.Listeners{Agent: listen(), Viewer: listen(), Repeater: listen(), Admin: listen(), HTTPS: listen()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		<-done
		b.Close()
	})
	return &testBroker{Broker: b, dir: cfg.DataDir, agentAddr: ls.Agent.Addr().String(), viewerAddr: ls.Viewer.Addr().String(),
		httpsAddr: ls.HTTPS.Addr().String()}
}

// lines collects what the terminal UI prints, line by line, without ever
// blocking the agent.
type lines struct {
	t       testing.TB
	mu      sync.Mutex
	partial string
	all     []string
	changed chan struct{}
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	for {
		i := strings.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.t.Logf("ui> %s", l.partial[:i])
		l.all = append(l.all, l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

// testAgent is Run in-process with a terminal UI on pipes.
type testAgent struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *lines
	next int // first line not yet consumed by expect
	done chan error
}

func startAgent(t *testing.T, cfg Config) *testAgent {
	t.Helper()
	pr, pw := io.Pipe()
	a := &testAgent{t: t, in: pw, out: &lines{t: t, changed: make(chan struct{}, 1)}, done: make(chan error, 1)}
	cfg.UI = NewTerminal(pr, a.out)
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { a.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-a.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after its context ended")
		}
	})
	return a
}

func (a *testAgent) send(line string) {
	a.t.Helper()
	a.t.Logf("ui< %s", line)
	if _, err := io.WriteString(a.in, line+"\n"); err != nil {
		a.t.Fatalf("agent input: %v", err)
	}
}

// expect waits for the next line matching re and returns its submatches.
func (a *testAgent) expect(re string) []string {
	a.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(waitTimeout)
	for {
		a.out.mu.Lock()
		for a.next < len(a.out.all) {
			line := a.out.all[a.next]
			a.next++
			if m := rx.FindStringSubmatch(line); m != nil {
				a.out.mu.Unlock()
				return m
			}
		}
		a.out.mu.Unlock()
		select {
		case <-a.out.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			a.t.Fatalf("agent never printed a line matching %q", re)
		}
	}
}

// wait waits for Run to return.
func (a *testAgent) wait() error {
	a.t.Helper()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		return err
	case <-time.After(waitTimeout):
		a.t.Fatal("Run did not return")
		return nil
	}
}

// viewer is the Go RFB client, used from the test's goroutine only.
type viewer struct {
	t    *testing.T
	conn net.Conn
	c    *rfb.Client
}

// dialViewer connects a viewer; it blocks until the customer answers, so
// it runs on its own goroutine and reports on the returned channel.
func dialViewer(t *testing.T, addr, password string) <-chan any {
	ch := make(chan any, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			ch <- err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: password})
		if err != nil {
			conn.Close()
			ch <- err
			return
		}
		v := &viewer{t: t, conn: conn, c: c}
		t.Cleanup(func() { c.Close() })
		ch <- v
	}()
	return ch
}

func mustViewer(t *testing.T, ch <-chan any) *viewer {
	t.Helper()
	select {
	case r := <-ch:
		if err, ok := r.(error); ok {
			t.Fatalf("viewer: %v", err)
		}
		return r.(*viewer)
	case <-time.After(waitTimeout):
		t.Fatal("viewer did not connect")
		return nil
	}
}

// syncTo reads updates until ok accepts the viewer's framebuffer. Each
// round asks for the whole screen, which the server answers at once, so
// no read waits for a change that may never come (a read cut by a
// deadline would leave the client unusable: its errors are sticky).
func (v *viewer) syncTo(what string, ok func(fb *rfb.Image) (bool, string)) {
	v.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	v.conn.SetReadDeadline(deadline)
	defer v.conn.SetReadDeadline(time.Time{})
	detail := "no update"
	for time.Now().Before(deadline) {
		w, h := v.c.Size()
		if err := v.c.RequestUpdate(false, image.Rect(0, 0, w, h)); err != nil {
			v.t.Fatal(err)
		}
		for pixels := false; !pixels; {
			m, err := v.c.ReadMessage()
			if err != nil {
				v.t.Fatalf("%s: ReadMessage: %v (last: %s)", what, err, detail)
			}
			u, isUpdate := m.(*rfb.FramebufferUpdate)
			if !isUpdate {
				continue
			}
			for _, r := range u.Rects {
				pixels = pixels || r.Encoding >= 0 // not a pseudo-encoding
			}
			if !pixels {
				// A new size goes alone (ExtendedDesktopSize); the pixels,
				// all marked for sending, follow the next request at once.
				w, h := v.c.Size()
				v.c.RequestUpdate(true, image.Rect(0, 0, w, h))
			}
		}
		var good bool
		if good, detail = ok(v.c.Framebuffer()); good {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatalf("%s: viewer never showed it: %s", what, detail)
}
