package rfbtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Wine runs Windows programs for a test: Debian's 64-bit Wine (wine64), a
// prefix shared by all tests of the test binary, and a virtual desktop
// with a taskbar and a tray on an Xvfb display, which is what a Windows
// program sees as its screen.
//
// Facts this rests on (Debian 12, Wine 8.0):
//   - /usr/lib/wine/wine64 runs a 64-bit program; the `wine` wrapper wants
//     the 32-bit half, which is not installed.
//   - Go's Windows runtime (1.24 and later) imports ProcessPrng from
//     bcryptprimitives.dll, which Wine 8.0 lacks. The prefix gets a tiny
//     DLL of ours (wineShim below) that exports ProcessPrng over
//     RtlGenRandom, compiled here with mingw-w64.
//   - Making a prefix (wineboot -u) takes 10-25 s, so a test binary makes
//     one, on first use, and WineMain removes it. WINEDLLOVERRIDES keeps
//     wineboot from installing Mono and Gecko, which it would fetch.
//   - A prefix has one wineserver, and a virtual desktop lives on the
//     display of the program that created it. So tests that use Wine run
//     one after another (never t.Parallel), and each stops the wineserver
//     when it ends.
//   - The registry names a virtual desktop every program's desktop, with
//     the test's screen size. Its name is "shell", the one that gets a
//     taskbar and a tray by default. (`explorer /desktop=NAME,WxH` makes
//     one too, but not while the registry names a default desktop.) The
//     first window on it makes it, and it closes when the last program
//     has gone; idle.exe (wineIdle) makes it and keeps it open, with a
//     window that is never shown.
type Wine struct {
	X      *Xvfb
	Prefix string // the WINEPREFIX directory
	// Desktop is the program that keeps the virtual desktop open; nil
	// without one (StartWineRoot).
	Desktop *Proc
}

// WineDesktop is the virtual desktop's name, and its X window's title is
// WineDesktop + " - Wine desktop".
const WineDesktop = "shell"

// wine64 is the 64-bit loader of Debian's wine64 package.
const (
	wine64     = "/usr/lib/wine/wine64"
	wineserver = "/usr/lib/wine/wineserver"
)

const (
	winePrefixTimeout  = 90 * time.Second // wineboot on a busy machine
	wineDesktopTimeout = 40 * time.Second
)

// wineShim is bcryptprimitives.dll's one export that Go's runtime needs.
// SystemFunction036 is RtlGenRandom in advapi32, which Wine has.
const wineShim = `#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) { return TRUE; }
`

// wineIdle stays on the virtual desktop with a window that is never
// shown: the first window makes the desktop, and a desktop closes when
// the last program on it has gone.
const wineIdle = `#include <windows.h>
int WINAPI WinMain(HINSTANCE a, HINSTANCE b, LPSTR c, int d) {
	CreateWindowExW(0, L"STATIC", L"idle", WS_POPUP, 0, 0, 1, 1, NULL, NULL, a, NULL);
	Sleep(INFINITE);
	return 0;
}
`

// The shared prefix, made once per test binary.
var winePrefix struct {
	mu      sync.Mutex
	dir     string
	err     error
	busy    bool   // a test holds it
	desktop string // the virtual desktop's size in the registry, "" for none
}

// WineMain runs the tests and then removes the Wine prefix that StartWine
// made. A package whose interop tests use Wine calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(rfbtest.WineMain(m)) }
func WineMain(m *testing.M) int {
	code := m.Run()
	winePrefix.mu.Lock()
	defer winePrefix.mu.Unlock()
	if winePrefix.dir != "" {
		stopWineserver(winePrefix.dir)
		os.RemoveAll(filepath.Dir(winePrefix.dir))
		winePrefix.dir = ""
	}
	return code
}

// StartWine starts a virtual desktop of x's size in the test binary's Wine
// prefix (making the prefix on first use) and returns once its window is
// on x. When the test ends it stops every Windows program of the prefix.
func StartWine(t testing.TB, x *Xvfb) *Wine {
	t.Helper()
	w := startWine(t, x, fmt.Sprintf("%dx%d", x.Width, x.Height))
	ctx, cancel := context.WithTimeout(context.Background(), wineDesktopTimeout)
	defer cancel()
	w.Desktop = w.Start(t, filepath.Join(filepath.Dir(w.Prefix), "idle.exe"))
	if _, err := WaitForWindow(t, ctx, x, WineDesktop+" - Wine desktop"); err != nil {
		t.Fatalf("rfbtest: the Wine desktop did not appear: %v\n%s", err, w.Desktop.Output())
	}
	return w
}

// StartWineRoot is StartWine without a virtual desktop: Windows programs
// see the X screen as theirs, follow its size (xrandr), and their windows
// are X windows of their own. There is no taskbar.
func StartWineRoot(t testing.TB, x *Xvfb) *Wine {
	t.Helper()
	return startWine(t, x, "")
}

// startWine takes the prefix for the test, with the virtual desktop of
// the given size ("WxH"), or none.
func startWine(t testing.TB, x *Xvfb, size string) *Wine {
	t.Helper()
	LookPath(t, "xdotool", "x86_64-w64-mingw32-gcc")
	if _, err := os.Stat(wine64); err != nil {
		t.Fatalf("rfbtest: %s is missing (Debian package wine64); run `bash .ci/deps.sh`", wine64)
	}
	prefix := sharedPrefix(t, x.Display)
	w := &Wine{X: x, Prefix: prefix}
	t.Cleanup(func() {
		stopWineserver(prefix)
		winePrefix.mu.Lock()
		winePrefix.busy = false
		winePrefix.mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), wineDesktopTimeout)
	defer cancel()
	if size != winePrefix.desktop {
		// A desktop takes its size from the registry when it is made, and
		// a program that ran before made it (with no window): change the
		// registry, then start over with a fresh wineserver.
		key := `HKCU\Software\Wine\Explorer`
		args := []string{"add", key, "/v", "Desktop", "/d", WineDesktop, "/f"}
		if size == "" {
			args = []string{"delete", key, "/v", "Desktop", "/f"}
		}
		for _, a := range [][]string{args, {"add", key + `\Desktops`, "/v", WineDesktop, "/d", size, "/f"}} {
			if _, err := w.Run(t, ctx, "reg", a...); err != nil {
				t.Fatalf("rfbtest: %v", err)
			}
		}
		stopWineserver(prefix)
		winePrefix.desktop = size
	}
	// The wineserver first, from a program whose output is a file: it
	// would hold the output pipe of the program that started it open.
	if _, err := runQuiet(ctx, w.Env(), wineserver, "-p"); err != nil {
		t.Fatalf("rfbtest: %v", err)
	}
	return w
}

// sharedPrefix returns the test binary's prefix, making it on first use.
func sharedPrefix(t testing.TB, display string) string {
	winePrefix.mu.Lock()
	defer winePrefix.mu.Unlock()
	if winePrefix.busy {
		t.Fatal("rfbtest: two tests use Wine at once; Wine tests must not run in parallel")
	}
	if winePrefix.dir == "" && winePrefix.err == nil {
		winePrefix.dir, winePrefix.err = makePrefix(display)
	}
	if winePrefix.err != nil {
		t.Fatalf("rfbtest: %v", winePrefix.err)
	}
	winePrefix.busy = true
	return winePrefix.dir
}

// makePrefix makes a 64-bit prefix with the ProcessPrng shim. wineboot needs an X
// display: without one it sets the prefix up with no graphics driver,
// and virtual desktops never appear.
func makePrefix(display string) (dir string, err error) {
	parent, err := os.MkdirTemp("", "lifebuoy-wine-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			stopWineserver(filepath.Join(parent, "prefix"))
			os.RemoveAll(parent)
		}
	}()
	dir = filepath.Join(parent, "prefix")
	ctx, cancel := context.WithTimeout(context.Background(), winePrefixTimeout)
	defer cancel()
	run := func(name string, args ...string) error {
		_, err := runQuiet(ctx, wineEnv(dir, display), name, args...)
		return err
	}
	compile := func(name, src string, args ...string) error {
		c := filepath.Join(parent, name+".c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			return err
		}
		args = append([]string{"-O2", "-s", "-o", filepath.Join(parent, name), c}, args...)
		return run("x86_64-w64-mingw32-gcc", args...)
	}
	dll := filepath.Join(parent, "bcryptprimitives.dll")
	if err := compile("bcryptprimitives.dll", wineShim, "-shared", "-ladvapi32"); err != nil {
		return "", err
	}
	if err := compile("idle.exe", wineIdle, "-mwindows"); err != nil {
		return "", err
	}
	if err := run(wine64, "wineboot", "-u"); err != nil {
		return "", err
	}
	b, err := os.ReadFile(dll)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "drive_c", "windows", "system32", "bcryptprimitives.dll"), b, 0o755); err != nil {
		return "", err
	}
	stopWineserver(dir)
	return dir, nil
}

// stopWineserver ends every program of prefix and its wineserver.
func stopWineserver(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{{"-k"}, {"-w"}} {
		cmd := exec.CommandContext(ctx, wineserver, args...)
		cmd.Env = wineEnv(prefix, "")
		_ = cmd.Run()
	}
}

// runQuietBytes runs a program to completion and returns its standard
// output (see runQuiet).
func runQuietBytes(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("rfbtest: %s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// runQuiet runs a program to completion and returns its output. The
// output goes through a file, not a pipe: a wineserver that the program
// starts outlives it and would hold a pipe open.
func runQuiet(ctx context.Context, env []string, name string, args ...string) (string, error) {
	out, err := os.CreateTemp("", "lifebuoy-wine-output-")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	if err != nil {
		return string(b), fmt.Errorf("%s: %w; output:\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	return string(b), nil
}

// wineEnv is the environment of a Windows program in prefix on display.
func wineEnv(prefix, display string) []string {
	debug := os.Getenv("WINEDEBUG") // to look into a failing test
	if debug == "" {
		debug = "-all"
	}
	env := []string{
		"WINEPREFIX=" + prefix,
		"WINEARCH=win64",
		"WINEDLLOVERRIDES=mscoree,mshtml=",
		"WINEDEBUG=" + debug,
	}
	if display != "" {
		env = append(env, "DISPLAY="+display)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WINEPREFIX", "WINEARCH", "WINEDLLOVERRIDES", "WINEDEBUG", "DISPLAY", "WAYLAND_DISPLAY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Env returns the environment for Windows programs on this desktop.
func (w *Wine) Env() []string { return wineEnv(w.Prefix, w.X.Display) }

// Command returns an unstarted command that runs the Windows program exe
// (a path on this machine, or a program Wine has, such as "notepad") with
// args, in its own process group.
func (w *Wine) Command(exe string, args ...string) *exec.Cmd {
	cmd := exec.Command(wine64, append([]string{exe}, args...)...)
	cmd.Env = w.Env()
	return cmd
}

// Start runs a Windows program as a peer of the test, as Start does.
func (w *Wine) Start(t testing.TB, exe string, args ...string) *Proc {
	t.Helper()
	p, err := startProc(t, w.Command(exe, args...))
	if err != nil {
		t.Fatalf("rfbtest: %v", err)
	}
	return p
}

// StartWithInput runs a Windows program as a peer of the test (see
// Start) with a pipe as its standard input, which the test writes. Its
// output, standard output and error together, is in Proc.Output.
func (w *Wine) StartWithInput(t testing.TB, exe string, args ...string) (*Proc, *os.File) {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatalf("rfbtest: %v", err)
	}
	cmd := w.Command(exe, args...)
	cmd.Stdin = r
	p, err := startProc(t, cmd)
	r.Close()
	if err != nil {
		wr.Close()
		t.Fatalf("rfbtest: %v", err)
	}
	t.Cleanup(func() { wr.Close() })
	return p, wr
}

// Run runs a Windows program to completion and returns its output (see
// Run).
func (w *Wine) Run(t testing.TB, ctx context.Context, exe string, args ...string) (string, error) {
	t.Helper()
	return runQuiet(ctx, w.Env(), wine64, append([]string{exe}, args...)...)
}

// Capture returns what the display shows now, as Xvfb.Capture does. With
// Wine on it, xwd reports the root window's visual as DirectColor (Wine
// installs a colormap of that class for gamma ramps); Capture accepts it
// when the colormap maps every channel value to itself, which makes it a
// TrueColor visual in all but name. xwd writes such a screen's pixels
// packed in 3 bytes, in lines of the 4-byte pixels' length.
func (w *Wine) Capture() (*image.RGBA, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := runQuietBytes(ctx, w.X.Env(), "xwd", "-root", "-silent", "-display", w.X.Display)
	if err != nil {
		return nil, err
	}
	if err := directAsTrueColor(raw); err != nil {
		return nil, fmt.Errorf("rfbtest: capture of %s: %w", w.X.Display, err)
	}
	img, err := DecodeXWD(bytes.NewReader(packLines(raw)))
	if err != nil {
		return nil, fmt.Errorf("rfbtest: capture of %s: %w", w.X.Display, err)
	}
	return img, nil
}

// directAsTrueColor relabels an XWD image of a DirectColor visual as
// TrueColor if its colormap is the identity on each channel (see the
// header layout at DecodeXWD).
func directAsTrueColor(raw []byte) error {
	if len(raw) < xwdHeaderLen {
		return errors.New("xwd: short header")
	}
	be := binary.BigEndian
	const classOff, ncolorsOff = 52, 76
	if be.Uint32(raw[classOff:]) != 5 { // DirectColor
		return nil
	}
	hs, n := int(be.Uint32(raw[0:])), int(be.Uint32(raw[ncolorsOff:]))
	if hs < xwdHeaderLen || n > 256 || len(raw) < hs+n*xwdColorLen {
		return errors.New("xwd: DirectColor image with a bad colormap")
	}
	for i := range n {
		e := raw[hs+i*xwdColorLen:]
		v := uint16(i) * 0x101
		if be.Uint32(e) != uint32(i)*0x010101 || be.Uint16(e[4:]) != v || be.Uint16(e[6:]) != v || be.Uint16(e[8:]) != v {
			return fmt.Errorf("xwd: DirectColor colormap entry %d is not the identity", i)
		}
	}
	be.PutUint32(raw[classOff:], xwdTrueColor)
	return nil
}

// packLines shortens the lines of an XWD image of 24-bit pixels to what
// they hold. xwd writes a DirectColor screen's pixels packed in 3 bytes,
// but with the 4-byte pixels' line length, the rest of each line unused.
func packLines(raw []byte) []byte {
	be := binary.BigEndian
	const widthOff, heightOff, bppOff, bplOff, ncolorsOff = 16, 20, 44, 48, 76
	if len(raw) < xwdHeaderLen || be.Uint32(raw[bppOff:]) != 24 {
		return raw
	}
	w, h := int(be.Uint32(raw[widthOff:])), int(be.Uint32(raw[heightOff:]))
	bpl, packed := int(be.Uint32(raw[bplOff:])), (int(be.Uint32(raw[widthOff:]))*3+3)&^3
	start := int(be.Uint32(raw[0:])) + int(be.Uint32(raw[ncolorsOff:]))*xwdColorLen
	if w <= 0 || h <= 0 || bpl <= packed || start > len(raw) || len(raw)-start < bpl*h {
		return raw
	}
	out := append([]byte(nil), raw[:start]...)
	for y := range h {
		out = append(out, raw[start+y*bpl:start+y*bpl+packed]...)
	}
	be.PutUint32(out[bplOff:], uint32(packed))
	return out
}

// WindowsPath returns the path Windows programs in the prefix use for the
// Unix path p (drive Z: is the Unix root).
func WindowsPath(p string) string {
	return `Z:` + strings.ReplaceAll(p, "/", `\`)
}

// WaitForWindow waits until a mapped window titled exactly title is on x
// and returns its X window id.
func WaitForWindow(t testing.TB, ctx context.Context, x *Xvfb, title string) (string, error) {
	t.Helper()
	LookPath(t, "xdotool")
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := Run(t, sctx, x.Env(), "xdotool", "search", "--onlyvisible", "--name", "^"+regexp.QuoteMeta(title)+"$")
		cancel()
		if id := strings.TrimSpace(out); err == nil && id != "" {
			return strings.Fields(id)[0], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("rfbtest: no window %q on %s: %w", title, x.Display, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
