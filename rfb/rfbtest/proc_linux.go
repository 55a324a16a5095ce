package rfbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitDelay bounds how long Wait keeps copying output after the process has
// been killed or has exited, in case a grandchild still holds the pipe.
const waitDelay = 2 * time.Second

// Proc is a long-running peer (a viewer, a VNC server, Xvfb) started by
// Start. It runs in its own process group, and the whole group is killed
// when the test ends.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has been waited for
	err  error         // cmd.Wait's result, set before done closes
}

// Start runs name with args as a peer of the test. env is the complete
// environment (nil inherits the test's; see Xvfb.Env). Stdout and stderr
// are collected for Output. The process group is stopped in t.Cleanup
// (SIGTERM, then killed after a second: see Stop), and the output is
// logged there if the test failed.
func Start(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	LookPath(t, name)
	cmd := exec.Command(name, args...)
	cmd.Env = env
	p, err := startProc(t, cmd)
	if err != nil {
		t.Fatalf("rfbtest: %v", err)
	}
	return p
}

// startProc starts a prepared command in its own process group, with its
// output captured, and registers the cleanup that kills it.
func startProc(t testing.TB, cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{
		name: strings.Join(cmd.Args, " "),
		cmd:  cmd,
		out:  &lockedBuffer{},
		done: make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(time.Second)
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.Output())
		}
	})
	return p, nil
}

// Output returns what the process has written to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Pid returns the process id, which is also its process group id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Wait waits up to timeout for the process to exit and returns its exit
// status (nil for exit code 0), or an error if it is still running.
func (p *Proc) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.err
	case <-timer.C:
		return fmt.Errorf("rfbtest: %s still running after %v", p.name, timeout)
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill kills the process's whole group and waits for it to be reaped. It is
// safe to call more than once.
func (p *Proc) Kill() {
	// The group may outlive its leader (a forked daemon), so kill it even
	// when the leader has exited; ESRCH just means nothing was left.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop asks the process's group to end (SIGTERM), waits up to grace for
// the leader, then kills the group. Servers that hold MIT-SHM segments
// (x11vnc, x0vncserver) remove them only when they end on a signal they
// catch; killed, they leave them behind until the system's table is full.
func (p *Proc) Stop(grace time.Duration) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	_ = p.Wait(grace)
	p.Kill()
}

// Run runs a short-lived program (xsetroot, xdotool, …) to completion with
// env as its environment (nil inherits), in its own process group, which is
// killed if ctx ends first. It returns the combined stdout and stderr; the
// error includes that output when the program fails.
func Run(t testing.TB, ctx context.Context, env []string, name string, args ...string) (string, error) {
	t.Helper()
	LookPath(t, name)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return out.String(), fmt.Errorf("rfbtest: %s: %w; output:\n%s", strings.Join(cmd.Args, " "), err, out.String())
	}
	return out.String(), nil
}

// lockedBuffer is a bytes.Buffer that a process can write to while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
