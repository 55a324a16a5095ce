package rfbtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// xvfbStartTimeout bounds how long Xvfb may take to accept connections.
const xvfbStartTimeout = 15 * time.Second

// Xvfb is a virtual X display started by StartXvfb for one test.
type Xvfb struct {
	Display string // ":N"
	Width   int
	Height  int
	Depth   int
	Proc    *Proc
}

// StartXvfb starts `Xvfb -screen 0 WxHxDEPTH -nolisten tcp -noreset` on a
// display number that Xvfb picks itself (-displayfd), so parallel tests
// never race for one. It returns once the display accepts connections and
// kills it when the test ends. Depth 24 gives a 32 bpp TrueColor screen,
// depth 16 an RGB565 one.
func StartXvfb(t testing.TB, w, h, depth int) *Xvfb {
	t.Helper()
	LookPath(t, "Xvfb", "xwd")

	// Xvfb writes "N\n" to this pipe when the display is ready.
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatalf("rfbtest: pipe for Xvfb: %v", err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb",
		"-displayfd", "3",
		"-screen", "0", fmt.Sprintf("%dx%dx%d", w, h, depth),
		"-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr} // fd 3 in the child
	p, err := startProc(t, cmd)
	wr.Close() // ours; if Xvfb dies, the read below sees EOF
	if err != nil {
		t.Fatalf("rfbtest: %v", err)
	}

	_ = r.SetReadDeadline(time.Now().Add(xvfbStartTimeout))
	line, err := bufio.NewReader(r).ReadString('\n')
	n, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil || n < 0 {
		p.Kill()
		t.Fatalf("rfbtest: Xvfb did not report a display (read %q: %v); output:\n%s", line, err, p.Output())
	}
	x := &Xvfb{Display: ":" + strconv.Itoa(n), Width: w, Height: h, Depth: depth, Proc: p}

	// -displayfd is written once Xvfb listens; the socket check is a cheap
	// second opinion that it is our display.
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("rfbtest: Xvfb reported %s but %v", x.Display, err)
	}
	return x
}

// Env returns the test's environment with DISPLAY set to this display and
// WAYLAND_DISPLAY removed, so toolkits such as GTK draw on it.
func (x *Xvfb) Env() []string {
	env := []string{"DISPLAY=" + x.Display}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Capture returns what the root window shows now, read with
// `xwd -root -silent` and decoded by DecodeXWD.
func (x *Xvfb) Capture() (*image.RGBA, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xwd", "-root", "-silent", "-display", x.Display)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("rfbtest: xwd -display %s: %w: %s", x.Display, err, bytes.TrimSpace(stderr.Bytes()))
	}
	img, err := DecodeXWD(&stdout)
	if err != nil {
		return nil, fmt.Errorf("rfbtest: capture of %s: %w", x.Display, err)
	}
	return img, nil
}

// Clipboard is x's CLIPBOARD as a program that pastes gets it (xclip,
// UTF8_STRING); "" when nobody owns it or the owner gives nothing.
func (x *Xvfb) Clipboard(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := Run(t, ctx, x.Env(), "xclip", "-o", "-selection", "clipboard", "-target", "UTF8_STRING")
	if err != nil {
		return ""
	}
	return out
}

// Copy has xclip own x's CLIPBOARD with text, as a program that copies
// does, until someone else copies or the test ends.
func (x *Xvfb) Copy(t testing.TB, text string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "copy.txt")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, x.Env(), "xclip", "-quiet", "-selection", "clipboard", "-target", "UTF8_STRING", "-i", f)
	t.Cleanup(p.Kill)
}
