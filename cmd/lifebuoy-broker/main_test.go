package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
)

// brokerRun is the built binary started once.
type brokerRun struct {
	cmd         *exec.Cmd
	fingerprint string
	addrs       map[string]string // port name → address
	stderr      *lockedText
	exited      chan error // gets Wait's error once
	done        chan struct{}
}

// startBinary starts the broker on loopback ports chosen by the kernel;
// extra flags (with their env, "NAME=value" entries first) are added.
func startBinary(t *testing.T, bin, data string, extra ...string) *brokerRun {
	t.Helper()
	var env []string
	for len(extra) > 0 && strings.Contains(extra[0], "=") && !strings.HasPrefix(extra[0], "-") {
		env, extra = append(env, extra[0]), extra[1:]
	}
	args := append([]string{"-data", data, "-agent-listen", "127.0.0.1:0", "-viewer-listen", "127.0.0.1:0",
		"-repeater-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-https-listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// A later flag wins: count the distinct listeners.
	seen := map[string]bool{}
	for i := 0; i+1 < len(args); i++ {
		if strings.HasSuffix(args[i], "-listen") {
			seen[args[i]] = true
		}
	}
	listeners := len(seen)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &brokerRun{cmd: cmd, addrs: map[string]string{}, stderr: new(lockedText),
		exited: make(chan error, 1), done: make(chan struct{})}
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	listening := make(chan [2]string, 8)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`broker: listening" port=([\w-]+) addr=(\S+)`)
		for sc.Scan() {
			r.stderr.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				listening <- [2]string{m[1], m[2]}
			}
		}
	}()
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	go func() {
		io.Copy(io.Discard, br)
		<-logDone
		r.exited <- cmd.Wait()
		close(r.done)
	}()
	if err != nil {
		cmd.Process.Kill()
		<-r.done
		t.Fatalf("no fingerprint line: %v\n%s", err, r.stderr)
	}
	m := regexp.MustCompile(`^fingerprint sha256=([0-9a-f]{64})\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("fingerprint line %q", line)
	}
	r.fingerprint = m[1]
	for len(r.addrs) < listeners {
		select {
		case a := <-listening:
			r.addrs[a[0]] = a[1]
		case <-time.After(10 * time.Second):
			t.Fatalf("listeners: %v", r.addrs)
		}
	}
	return r
}

// TestBinary: the first start creates the certificate and prints its
// fingerprint on a line of its own; a restart keeps it. SIGTERM stops the
// broker gracefully: a waiting agent and a relaying session are closed,
// and it exits with status 0.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lifebuoy-broker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	first := startBinary(t, bin, data)
	first.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-first.exited; err != nil {
		t.Fatalf("first run: %v\n%s", err, first.stderr)
	}
	if !strings.Contains(first.stderr.String(), "created a new broker certificate") {
		t.Errorf("first start did not say it created the certificate:\n%s", first.stderr)
	}

	r := startBinary(t, bin, data)
	if r.fingerprint != first.fingerprint {
		t.Fatalf("restart changed the fingerprint: %s, was %s", r.fingerprint, first.fingerprint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() *agentlink.Link {
		l, err := agentlink.Dial(ctx, agentlink.Config{Broker: r.addrs["agent"], Fingerprint: r.fingerprint, Proxy: "direct"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	waiting := dial()
	// A relaying session through the repeater port: raw bytes end to end.
	paired := dial()
	viewer, err := net.Dial("tcp", r.addrs["repeater"])
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	io.ReadFull(viewer, make([]byte, 12))
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+paired.Code())
	viewer.Write(hdr)
	in, err := paired.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data1, err := in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer data1.Close()
	data1.Write([]byte("hi"))
	got := make([]byte, 2)
	viewer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(viewer, got); err != nil || string(got) != "hi" {
		t.Fatalf("relay: %q %v", got, err)
	}

	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, r.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM\n%s", r.stderr)
	}
	t.Logf("stopped in %v", time.Since(start))
	select {
	case <-waiting.Done():
	case <-time.After(2 * time.Second):
		t.Error("the waiting agent's link is open after the broker stopped")
	}
	viewer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := viewer.Read(got); err == nil || isTimeout(err) {
		t.Errorf("the viewer's session is open after the broker stopped: %v", err)
	}
	data1.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := data1.Read(got); err == nil || isTimeout(err) {
		t.Errorf("the agent's data connection is open after the broker stopped: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "broker stopped") {
		t.Errorf("no \"broker stopped\" line:\n%s", r.stderr)
	}
}

// lockedText is what the broker writes on stderr, read while it runs.
type lockedText struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedText) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedText) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
