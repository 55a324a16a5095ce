package rfbtest

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// GVNCCapture takes one screenshot of the RFB server on 127.0.0.1:port with
// gtk-vnc's gvnccapture and decodes it (opaque; gvnccapture's alpha is
// ignored). ctx bounds the whole capture.
//
// gvnccapture takes HOST:DISPLAY and connects to port 5900+DISPLAY; it has
// no HOST::PORT form, so the display is port-5900, negative below 5900.
// It reads a password only from a terminal: with a password, its stdin is a
// pseudo-terminal and the password is typed once it has turned echo off
// (that is, once it prompts). With an empty password stdin is /dev/null,
// and a server that asks for one fails the capture with "Failed to read
// password".
//
// What gvnccapture does, which a server under test must suit: it prefers
// VeNCrypt, then anonymous TLS, SASL, MSLogon, VNC Authentication, None; it
// never sets a pixel format (the server's native one is used); it asks for
// DesktopResize, ZRLE, Hextile, RRE, CopyRect and Raw (no Tight); it sends
// a single non-incremental update request and saves as soon as a rectangle
// reaching the bottom-right corner arrives, so that rectangle must come
// last in the first update.
func GVNCCapture(t testing.TB, ctx context.Context, port int, password string) (*image.RGBA, error) {
	t.Helper()
	return GVNCCaptureHost(t, ctx, "127.0.0.1", port, password)
}

// GVNCCaptureHost is GVNCCapture for a named host: gtk-vnc checks a
// VeNCrypt X509 certificate against the name it connected to, and does not
// match an address against the certificate's IP entries.
func GVNCCaptureHost(t testing.TB, ctx context.Context, host string, port int, password string) (*image.RGBA, error) {
	t.Helper()
	LookPath(t, "gvnccapture")
	file := filepath.Join(t.TempDir(), "gvnccapture.png")
	target := fmt.Sprintf("%s:%d", host, port-5900)
	what := fmt.Sprintf("gvnccapture %s (port %d)", target, port)
	cmd := exec.CommandContext(ctx, "gvnccapture", append(gvncDebug(), target, file)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	var master, slave *os.File
	if password != "" {
		var err error
		master, slave, err = openPTY()
		if err != nil {
			return nil, fmt.Errorf("rfbtest: %s: %w", what, err)
		}
		defer master.Close()
		defer slave.Close()
		cmd.Stdin = slave
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rfbtest: start %s: %w", what, err)
	}
	done, typed := make(chan struct{}), make(chan struct{})
	if password != "" {
		go func() {
			defer close(typed)
			typePassword(master, slave, password, done)
		}()
	} else {
		close(typed)
	}
	err := cmd.Wait()
	close(done)
	<-typed
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("rfbtest: %s: %w; output:\n%s", what, err, out.String())
	}

	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("rfbtest: %s: %w; output:\n%s", what, err, out.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("rfbtest: %s: decode %s: %w", what, file, err)
	}
	return opaque(img), nil
}

// typePassword waits until the program reading the terminal has turned echo
// off, which gvnccapture does right after printing "Password: ", and then
// types the password. Typing earlier would be lost: gvnccapture turns echo
// off with TCSAFLUSH, which discards pending input.
func typePassword(master, slave *os.File, password string, done <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		var tio syscall.Termios
		if err := ioctl(slave, syscall.TCGETS, unsafe.Pointer(&tio)); err != nil {
			return
		}
		if tio.Lflag&syscall.ECHO == 0 {
			_, _ = master.Write([]byte(strings.TrimRight(password, "\n") + "\n"))
			return
		}
	}
}

// openPTY opens a new pseudo-terminal pair. Neither end becomes anyone's
// controlling terminal.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	var unlock int32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	var n uint32
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	return master, slave, nil
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// gvncDebug turns on gtk-vnc's debug output when RFBTEST_GVNC_DEBUG is set.
func gvncDebug() []string {
	if os.Getenv("RFBTEST_GVNC_DEBUG") != "" {
		return []string{"--debug"}
	}
	return nil
}
