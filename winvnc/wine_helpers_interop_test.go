//go:build interop && linux

package winvnc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// The Windows agent's interop tests run winvnc.exe, cross-built from
// cmd/winvnc, under Wine on an Xvfb (rfbtest.StartWine), beside Wine's own
// programs and winhelper.exe (testdata/winhelper), and look at what a
// viewer gets. They share one Wine prefix, so they never run in parallel.

func TestMain(m *testing.M) {
	code := rfbtest.WineMain(m)
	if winBuild.dir != "" {
		os.RemoveAll(winBuild.dir)
	}
	os.Exit(code)
}

// winBuild holds the Windows programs, built once per test binary.
var winBuild struct {
	once  sync.Once
	dir   string
	agent string // winvnc.exe
	help  string // winhelper.exe
	err   error
}

// windowsBinaries returns the paths of winvnc.exe and winhelper.exe.
func windowsBinaries(t testing.TB) (agent, helper string) {
	t.Helper()
	winBuild.once.Do(func() {
		winBuild.dir, winBuild.err = os.MkdirTemp("", "lifebuoy-winbin-")
		if winBuild.err != nil {
			return
		}
		winBuild.agent = filepath.Join(winBuild.dir, "winvnc.exe")
		winBuild.help = filepath.Join(winBuild.dir, "winhelper.exe")
		builds := [][2]string{{winBuild.agent, "../cmd/winvnc"}, {winBuild.help, "./testdata/winhelper"}}
		if exe := os.Getenv("LIFEBUOY_WINVNC_EXE"); exe != "" {
			// Another build of the agent, to compare versions in the
			// benchmarks (docs/BENCHMARKS.md).
			winBuild.agent, builds = exe, builds[1:]
		}
		for _, b := range builds {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", b[0], b[1])
			cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				winBuild.err = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if winBuild.err != nil {
		t.Fatal(winBuild.err)
	}
	return winBuild.agent, winBuild.help
}

// wineProc is a Windows program whose input the test writes and whose
// output lines it matches, like testAgent for the in-process agent.
type wineProc struct {
	t    testing.TB
	name string
	p    *rfbtest.Proc
	in   *os.File
	next int // first line not yet consumed by expect
}

func startWineProc(t testing.TB, w *rfbtest.Wine, exe string, args ...string) *wineProc {
	t.Helper()
	p, in := w.StartWithInput(t, exe, args...)
	return &wineProc{t: t, name: filepath.Base(exe), p: p, in: in}
}

// startWineAgent runs winvnc.exe with the terminal UI and args.
func startWineAgent(t testing.TB, w *rfbtest.Wine, args ...string) *wineProc {
	t.Helper()
	agent, _ := windowsBinaries(t)
	return startWineProc(t, w, agent, append([]string{"-ui", "terminal"}, args...)...)
}

// startWineHelper runs winhelper.exe with args and waits until it is
// ready.
func startWineHelper(t testing.TB, w *rfbtest.Wine, args ...string) *wineProc {
	t.Helper()
	_, helper := windowsBinaries(t)
	// Once in a few full runs Wine ended the helper at its start, with
	// status 1 and not a word (seen with -hotkey right after the
	// wineserver restarted for another desktop size). The helper is the
	// test's scaffolding, not what is tested: such a start is tried once
	// more, and said so.
	for try := 0; ; try++ {
		h := startWineProc(t, w, helper, args...)
		deadline := time.Now().Add(wineWait)
		for !h.p.Exited() && len(h.lines()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if try == 0 && h.p.Exited() && h.p.Output() == "" {
			t.Logf("winhelper.exe %v exited at its start without output (%v); starting it again", args, h.p.Wait(time.Second))
			continue
		}
		h.expect(`^ready$`)
		return h
	}
}

func (p *wineProc) send(line string) {
	p.t.Helper()
	p.t.Logf("%s< %s", p.name, line)
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		p.t.Fatalf("%s input: %v", p.name, err)
	}
}

// lines returns the complete lines the program has written so far.
func (p *wineProc) lines() []string {
	out := p.p.Output()
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i]
	} else {
		return nil
	}
	ls := strings.Split(out, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, "\r")
	}
	return ls
}

// expect waits for the next line matching re and returns its submatches.
func (p *wineProc) expect(re string) []string {
	p.t.Helper()
	return p.expectWithin(re, wineWait)
}

func (p *wineProc) expectWithin(re string, d time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for {
		ls := p.lines()
		for p.next < len(ls) {
			line := ls[p.next]
			p.next++
			if m := rx.FindStringSubmatch(line); m != nil {
				p.t.Logf("%s> %s", p.name, line)
				return m
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s never printed a line matching %q; output:\n%s", p.name, re, p.p.Output())
		}
		if p.p.Exited() && p.next >= len(p.lines()) {
			p.t.Fatalf("%s exited (%v) before printing a line matching %q; output:\n%s", p.name, p.p.Wait(time.Second), re, p.p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rights asks the agent for its status until its rights line matches re
// (input events reach it after the test sent them, not at once).
func (p *wineProc) rights(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(wineWait)
	for {
		p.send("status")
		line := p.expect(`^rights .*$`)[0]
		if m := rx.FindStringSubmatch(line); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: rights stay %q, want %q", p.name, line, re)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count returns how many lines so far match re.
func (p *wineProc) count(re string) int {
	rx := regexp.MustCompile(re)
	n := 0
	for _, l := range p.lines() {
		if rx.MatchString(l) {
			n++
		}
	}
	return n
}

// wineWait bounds each wait for a Windows program: Wine starts programs
// more slowly than Linux, most of all on a shared machine.
const wineWait = 40 * time.Second

// sameAsWine accepts a framebuffer equal to what xwd reads now.
func sameAsWine(t *testing.T, w *rfbtest.Wine) func(fb *rfb.Image) (bool, string) {
	return func(fb *rfb.Image) (bool, string) {
		want, err := w.Capture()
		if err != nil {
			t.Fatal(err)
		}
		n, first, detail := rfbtest.Diff(fb, want)
		return n == 0, fmt.Sprintf("%d pixels differ, first at %v: %s", n, first, detail)
	}
}

// directAgent starts winvnc.exe in direct mode with password pw, connects
// the Go viewer and says yes for the customer.
func directAgent(t *testing.T, w *rfbtest.Wine, pw string, args ...string) (*wineProc, *viewer) {
	t.Helper()
	a := startWineAgent(t, w, append([]string{"-listen", "127.0.0.1:0", "-password-file", writePassword(t, pw)}, args...)...)
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	ch := dialViewer(t, addr, pw)
	a.expect(`^prompt Allow .* to see your screen\? \[y/n\]$`)
	a.send("y")
	return a, mustViewer(t, ch)
}

// xrunCtx runs an X client on x within wineWait.
func xdo(t *testing.T, x *rfbtest.Xvfb, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wineWait)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), "xdotool", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
