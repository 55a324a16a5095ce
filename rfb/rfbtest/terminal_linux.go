package rfbtest

import (
	"bufio"
	"fmt"
	"io"
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

// Terminal is a program driven line by line on its standard input and
// output, as a person at its terminal would: the agent's terminal UI,
// say. It is killed (its whole process group) when the test ends.
type Terminal struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	lines   []string
	next    int // first line Expect has not looked at
	changed chan struct{}
	stderr  lockedBuffer
	done    chan struct{}
}

// StartTerminal starts name with args and env (nil: the test's).
func StartTerminal(t testing.TB, env []string, name string, args ...string) *Terminal {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	term := &Terminal{t: t, cmd: cmd, stdin: in, changed: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stderr = &term.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("rfbtest: start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			term.mu.Lock()
			term.lines = append(term.lines, sc.Text())
			term.mu.Unlock()
			select {
			case term.changed <- struct{}{}:
			default:
			}
		}
		cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-term.done
		if t.Failed() {
			term.mu.Lock()
			t.Logf("%s printed:\n%s\nstderr:\n%s", name, strings.Join(term.lines, "\n"), term.stderr.String())
			term.mu.Unlock()
		}
	})
	return term
}

// Pid is the program's process ID (for its memory figures in
// /proc/PID).
func (term *Terminal) Pid() int { return term.cmd.Process.Pid }

// Send types a line.
func (term *Terminal) Send(line string) {
	term.t.Helper()
	if _, err := io.WriteString(term.stdin, line+"\n"); err != nil {
		term.t.Fatalf("rfbtest: typing %q: %v", line, err)
	}
}

// Expect waits up to timeout for a line, after the last one matched,
// that matches re, and returns its submatches.
func (term *Terminal) Expect(re string, timeout time.Duration) []string {
	term.t.Helper()
	m, err := term.Await(re, timeout)
	if err != nil {
		term.t.Fatal(err)
	}
	return m
}

// Await is Expect returning an error instead of failing the test.
func (term *Terminal) Await(re string, timeout time.Duration) ([]string, error) {
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		term.mu.Lock()
		for i := term.next; i < len(term.lines); i++ {
			if m := rx.FindStringSubmatch(term.lines[i]); m != nil {
				term.next = i + 1
				term.mu.Unlock()
				return m, nil
			}
		}
		term.mu.Unlock()
		select {
		case <-term.changed:
		case <-term.done:
			select {
			case <-term.changed:
				continue
			default:
			}
			return nil, fmt.Errorf("rfbtest: the program ended without printing a line matching %q", re)
		case <-deadline.C:
			return nil, fmt.Errorf("rfbtest: no line matching %q within %v", re, timeout)
		}
	}
}

// Wait waits up to timeout for the program to exit and returns its
// error (nil for exit status 0).
func (term *Terminal) Wait(timeout time.Duration) error {
	select {
	case <-term.done:
		if st := term.cmd.ProcessState; st != nil && !st.Success() {
			return fmt.Errorf("rfbtest: exited: %v", st)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("rfbtest: still running after %v", timeout)
	}
}

var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[string]string{}
)

// BuildGo builds the module's command pkg ("./cmd/winvnc", relative to
// the module root) once per test process and returns the binary's path.
func BuildGo(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if builtDir == "" {
		// Shared by the process's tests, so not t.TempDir.
		if builtDir, err = os.MkdirTemp("", "rfbtest-bin-"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(builtDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rfbtest: go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// moduleRoot is the folder of the module's go.mod above the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("rfbtest: no go.mod above the working directory")
		}
		dir = parent
	}
}
