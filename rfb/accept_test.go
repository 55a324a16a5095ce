package rfb

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// flakyListener fails with errs in turn, then accepts conn.
type flakyListener struct {
	net.Listener
	errs []error
	conn net.Conn
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	return l.conn, nil
}

// TestAccept: passing failures (timeouts, out of descriptors) are waited
// out with a growing delay; others are returned; a done ctx ends it.
func TestAccept(t *testing.T) {
	c, _ := net.Pipe()
	defer c.Close()
	timeout := &net.OpError{Op: "accept", Err: os.ErrDeadlineExceeded}
	emfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", errTooManyFiles)}
	l := &flakyListener{errs: []error{timeout, emfile, timeout}, conn: c}
	start := time.Now()
	got, err := Accept(context.Background(), l)
	if err != nil || got != c {
		t.Fatalf("Accept = %v, %v", got, err)
	}
	if d := time.Since(start); d < 35*time.Millisecond { // 5 + 10 + 20 ms
		t.Fatalf("retried after %v, want the delays 5, 10 and 20 ms", d)
	}
	fatal := errors.New("listener broken")
	if _, err := Accept(context.Background(), &flakyListener{errs: []error{fatal}}); err != fatal {
		t.Fatalf("a lasting failure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Accept(ctx, &flakyListener{errs: []error{timeout}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("after ctx is done: %v", err)
	}
}
