//go:build interop && linux

package winvnc

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"lifebuoy/rfb/rfbtest"
)

// The Windows agent under Wine beside the Linux agent, on one Xvfb: Wine
// without a virtual desktop (rfbtest.StartWineRoot) shows Windows programs
// the X screen, so both agents capture the same pixels, and the same
// changes reach both.

// agentProc is an agent running as a process of its own, the Linux binary
// or winvnc.exe under Wine, in direct mode, that says "y" to every
// consent prompt.
type agentProc struct {
	name string
	pid  int
	addr string
}

// consent answers the agent's prompts: it reads the output as it grows
// and writes "y" for every prompt line. It reports the listen address.
func consent(output func() string, in *os.File, addr chan<- string, stop <-chan struct{}) {
	seen := 0
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		out := output()
		i := strings.LastIndexByte(out, '\n')
		if i < 0 {
			continue
		}
		lines := strings.Split(out[:i], "\n")
		for _, line := range lines[seen:] {
			line = strings.TrimRight(line, "\r")
			switch {
			case strings.HasPrefix(line, "prompt "):
				in.WriteString("y\n")
			case strings.HasPrefix(line, "state waiting Listening on "):
				a, _, _ := strings.Cut(strings.TrimPrefix(line, "state waiting Listening on "), ";")
				select {
				case addr <- a:
				default:
				}
			}
		}
		seen = len(lines)
	}
}

// startAgentProc starts an agent process (cmd, not yet started, its
// output not yet set) and waits for its listen address.
func startAgentProc(b *testing.B, name string, start func() (pid int, output func() string, in *os.File)) *agentProc {
	b.Helper()
	pid, output, in := start()
	addr := make(chan string, 1)
	stop := make(chan struct{})
	go consent(output, in, addr, stop)
	b.Cleanup(func() { close(stop) })
	select {
	case a := <-addr:
		return &agentProc{name: name, pid: pid, addr: a}
	case <-time.After(wineWait):
		b.Fatalf("%s never listened:\n%s", name, output())
		return nil
	}
}

// startLinuxAgentProc builds the Linux agent and runs it on display.
func startLinuxAgentProc(b *testing.B, display, pwFile string) *agentProc {
	b.Helper()
	exe := filepath.Join(b.TempDir(), "winvnc")
	if out, err := exec.Command("go", "build", "-o", exe, "../cmd/winvnc").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return startAgentProc(b, "linux", func() (int, func() string, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		var out lockedBytes
		cmd := exec.Command(exe, "-ui", "terminal", "-listen", "127.0.0.1:0", "-password-file", pwFile, "-display", display)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		r.Close()
		b.Cleanup(func() {
			w.Close()
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		})
		return cmd.Process.Pid, out.String, w
	})
}

// startWineAgentProc runs winvnc.exe under Wine.
func startWineAgentProc(b *testing.B, w *rfbtest.Wine, pwFile string) *agentProc {
	b.Helper()
	agent, _ := windowsBinaries(b)
	return startAgentProc(b, "wine", func() (int, func() string, *os.File) {
		p, in := w.StartWithInput(b, agent, "-ui", "terminal", "-listen", "127.0.0.1:0", "-password-file", pwFile)
		return p.Pid(), p.Output, in
	})
}

type lockedBytes struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBytes) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBytes) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cpuTicks returns a process's user and system time so far, in clock
// ticks (1/100 s on Linux), from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

// wineserverPid finds the wineserver of prefix (its environment names
// it), so that its share of the Windows agent's cost can be counted.
func wineserverPid(prefix string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if !strings.HasPrefix(string(comm), "wineserver") {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if bytes.Contains(env, []byte("WINEPREFIX="+prefix+"\x00")) {
			return pid
		}
	}
	return 0
}

// caret blinks a 2×16 bar on the screen, as a text field's caret does:
// its colour flips every 530 ms (Windows' default blink time) until stop
// is closed.
func caret(b *testing.B, display string, at image.Point, stop <-chan struct{}) {
	b.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		b.Fatal(err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	win, _ := xproto.NewWindowId(conn)
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, win, screen.Root, int16(at.X), int16(at.Y), 2, 16, 0,
		xproto.WindowClassInputOutput, screen.RootVisual, xproto.CwBackPixel|xproto.CwOverrideRedirect,
		[]uint32{0, 1}).Check()
	if err != nil {
		b.Fatal(err)
	}
	xproto.MapWindow(conn, win)
	go func() {
		defer conn.Close()
		on := false
		t := time.NewTicker(530 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			on = !on
			colour := uint32(0)
			if on {
				colour = 0xffffff
			}
			xproto.ChangeWindowAttributes(conn, win, xproto.CwBackPixel, []uint32{colour})
			xproto.ClearArea(conn, false, win, 0, 0, 0, 0)
			xproto.GetInputFocus(conn).Reply()
		}
	}()
}

// Idle CPU of the Linux agent and of the Windows agent under Wine, side
// by side on one 1920x1080 Xvfb with a blinking caret on it: first with a
// viewer connected to each (the Go RFB client keeping an update request
// outstanding), then with none. Reported as per cent of one core over
// the window, from /proc/PID/stat; the wineserver's share is reported
// apart. Figures, not a test: run it as
//
//	go test -tags interop -run '^$' -bench WineIdleCPU -benchtime 1x ./winvnc/
func BenchmarkWineIdleCPU(b *testing.B) {
	const window = 20 * time.Second
	x := rfbtest.StartXvfb(b, 1920, 1080, 24)
	w := rfbtest.StartWineRoot(b, x)
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	caret(b, x.Display, image.Pt(500, 400), stop)
	pw := writePasswordTB(b, "idlecpu")
	agents := []*agentProc{startLinuxAgentProc(b, x.Display, pw), startWineAgentProc(b, w, pw)}
	server := wineserverPid(w.Prefix)

	measure := func(phase string) {
		type sample struct {
			name string
			pid  int
			t0   int64
		}
		var ss []sample
		for _, a := range agents {
			ss = append(ss, sample{a.name, a.pid, 0})
		}
		if server != 0 {
			ss = append(ss, sample{"wineserver", server, 0})
		}
		for i := range ss {
			ss[i].t0, _ = cpuTicks(ss[i].pid)
		}
		time.Sleep(window)
		for _, s := range ss {
			t1, err := cpuTicks(s.pid)
			if err != nil {
				b.Fatal(err)
			}
			pct := float64(t1-s.t0) / window.Seconds() // ticks of 10 ms per second = per cent
			b.ReportMetric(pct, s.name+"-"+phase+"-cpu-%")
			b.Logf("%s, %s: %d ticks in %v = %.1f%% of a core", s.name, phase, t1-s.t0, window, pct)
		}
	}
	var viewers []*latencyViewer
	for _, a := range agents {
		viewers = append(viewers, startLatencyViewer(b, a.addr, "idlecpu", image.Pt(501, 401)))
	}
	time.Sleep(2 * time.Second) // the first full updates are out
	measure("viewer")
	for _, v := range viewers {
		v.c.Close()
	}
	time.Sleep(2 * time.Second)
	measure("noviewer")
	b.ReportMetric(0, "ns/op")
}
