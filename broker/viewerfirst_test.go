package broker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// TestViewerFirst: in the supporter-first flow the supporter's viewer may
// come before the customer's agent. It waits (through its VNC
// Authentication, before the SecurityResult) and gets the screen once the
// agent presents the code. A second viewer with the same code takes the
// wait over from the first, which is refused with a reason.
func TestViewerFirst(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	code, _, err := tb.Codes().Issue(nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		c   *rfb.Client
		err error
	}
	dial := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			c, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
			ch <- result{c, err}
		}()
		return ch
	}
	first := dial()
	waitCode(t, tb, code, broker.StateViewerWaiting)
	second := dial()
	r := <-first
	var re *rfb.AuthError
	if !errors.As(r.err, &re) || !strings.Contains(re.Reason, "another viewer") {
		t.Fatalf("superseded viewer: %v", r.err)
	}
	time.Sleep(300 * time.Millisecond) // the viewer waits; the agent is late
	img := rfbtest.Pattern(48, 40, 11)
	startAgent(t, tb, code, img, "")
	r = <-second
	if r.err != nil {
		t.Fatalf("waiting viewer: %v", r.err)
	}
	defer r.c.Close()
	syncTo(t, r.c, img)
}

// TestViewerFirstLeaves: a waiting viewer that disconnects gives its
// code back, so the supporter can connect again, and the agent that comes
// later pairs with the new viewer.
func TestViewerFirstLeaves(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	code, _, _ := tb.Codes().Issue(nil)
	for _, tls := range []bool{false, true} {
		conn, err := net.Dial("tcp", tb.viewerAddr)
		if err != nil {
			t.Fatal(err)
		}
		cfg := rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}}
		if tls {
			cfg = rfb.ClientConfig{Password: code, TLSConfig: tb.brokerTLS(), Security: []rfb.SecurityType{rfb.SecVeNCrypt}}
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rfb.NewClient(ctx, conn, cfg)
		}()
		waitCode(t, tb, code, broker.StateViewerWaiting)
		conn.Close()
		waitCode(t, tb, code, broker.StateIssued)
	}
	img := rfbtest.Pattern(24, 24, 14)
	startAgent(t, tb, code, img, "")
	c, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncTo(t, c, img)
}

// waitCode waits up to 5 s for code to be in state want.
func waitCode(t *testing.T, tb *testBroker, code string, want broker.State) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := tb.Codes().Lookup(code); st == want {
			return
		}
		if time.Now().After(deadline) {
			st, ok := tb.Codes().Lookup(code)
			t.Fatalf("code state %v %v, want %v", st, ok, want)
		}
	}
}

// TestViewerFirstTimesOut: a viewer whose agent never comes is refused
// when the code expires, and the code is void.
func TestViewerFirstTimesOut(t *testing.T) {
	cfg := testConfig(t)
	cfg.CodeTTL = broker.Duration(time.Second)
	tb := startBroker(t, cfg)
	code, _, _ := tb.Codes().Issue(nil)
	start := time.Now()
	_, err := dialViewer(t, tb, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
	var re *rfb.AuthError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "did not connect in time") {
		t.Fatalf("viewer whose agent never came: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("refused after %v, want about the code's 1 s", d)
	}
	if _, ok := tb.Codes().Lookup(code); ok {
		t.Fatal("code live after its viewer gave up")
	}
}

// TestRepeaterViewerFirst: a repeater viewer with a supporter-first code
// waits for the agent, as at UltraVNC's repeater, with nothing sent
// in-band, and then runs RFB end to end.
func TestRepeaterViewerFirst(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	code, _, _ := tb.Codes().Issue(nil)
	conn, err := net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	greet := make([]byte, 12)
	if _, err := io.ReadFull(conn, greet); err != nil || string(greet) != "RFB 000.000\n" {
		t.Fatalf("greeting %q %v", greet, err)
	}
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+code)
	if _, err := conn.Write(hdr); err != nil {
		t.Fatal(err)
	}
	// Nothing arrives while the agent is away.
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := conn.Read(greet); n != 0 || !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("while waiting for the agent the viewer got %q %v", greet[:n], err)
	}
	conn.SetReadDeadline(time.Time{})
	img := rfbtest.Pattern(40, 30, 12)
	startAgent(t, tb, code, img, "")
	rfbOver(t, conn, img).Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
