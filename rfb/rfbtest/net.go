package rfbtest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a
// peer that must be told its port on the command line. Another process may
// take it before the peer binds it; prefer Listen when the listener is ours.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rfbtest: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("rfbtest: free port: %v", err)
	}
	return port
}

// Listen returns a TCP listener on 127.0.0.1 at a port chosen by the kernel,
// closed when the test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rfbtest: listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// WaitListening waits until something accepts TCP connections on
// 127.0.0.1:port, for a peer started with a port from FreePort. It probes
// with a connection that it closes at once.
func WaitListening(ctx context.Context, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rfbtest: nothing listening on %s: %w (last: %w)", addr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
