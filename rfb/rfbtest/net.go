package rfbtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a
// peer that must be told its port on the command line. Another process may
// take it before the peer binds it; prefer Listen when the listener is ours.
func FreePort(t testing.TB) int {
	t.Helper()
	// The kernel hands out local ports for outgoing connections from its
	// ephemeral range (32768-60999 on Linux), so a port from there that is
	// free now may be taken by any test's dial before the peer binds it.
	// Ports below that range are only taken by listeners.
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if bindable("127.0.0.1", port) && bindable("::1", port) {
			return port
		}
	}
	t.Fatalf("rfbtest: no free port below the ephemeral range")
	return 0
}

// bindable reports whether host:port can be listened on now. An address
// family the machine lacks counts as bindable.
func bindable(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		var op *net.OpError
		return errors.As(err, &op) && !errors.Is(err, syscall.EADDRINUSE) && host == "::1"
	}
	l.Close()
	return true
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
