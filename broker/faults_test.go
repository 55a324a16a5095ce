package broker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// openFDs counts this process's file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// leakBaseline records the goroutines and file descriptors now; the
// function it returns waits (at most 5 s) for both to come back to that
// baseline and fails the test if they do not.
func leakBaseline(t *testing.T) func() {
	t.Helper()
	// The runtime's poller opens its descriptors on first use; make sure
	// that happened before the baseline.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	base, fds := runtime.NumGoroutine(), openFDs(t)
	return func() {
		t.Helper()
		waitGoroutines(t, base)
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := openFDs(t)
			if n <= fds {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("file descriptors: %d, baseline %d\n%s", n, fds, listFDs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	s := ""
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		s += fmt.Sprintf("%s -> %s\n", e.Name(), l)
	}
	return s
}

// TestStopBrokerDuringConsent stops the broker while a paired viewer waits
// for the customer's answer: the viewer and the agent both learn within
// 2 s, and nothing leaks.
func TestStopBrokerDuringConsent(t *testing.T) {
	leaks := leakBaseline(t)
	func() {
		tb := startBroker(t, testConfig(t))
		defer tb.stop()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		link, err := agentlink.Dial(ctx, tb.linkConfig(""))
		if err != nil {
			t.Fatal(err)
		}
		defer link.Close()
		viewerErr := make(chan error, 1)
		go func() {
			conn, err := net.Dial("tcp", tb.viewerAddr)
			if err != nil {
				viewerErr <- err
				return
			}
			defer conn.Close()
			vctx, vcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer vcancel()
			c, err := rfb.NewClient(vctx, conn, rfb.ClientConfig{Password: link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
			if err == nil {
				c.Close()
				err = fmt.Errorf("viewer got in without consent")
			}
			viewerErr <- err
		}()
		// The customer is asked and never answers.
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		if _, err := link.Accept(actx); err != nil {
			t.Fatalf("agent was not asked: %v", err)
		}
		start := time.Now()
		stopped := make(chan struct{})
		go func() { tb.stop(); close(stopped) }()
		for _, w := range []struct {
			what string
			ch   <-chan struct{}
		}{{"broker stop", stopped}, {"agent's link close", link.Done()}} {
			select {
			case <-w.ch:
			case <-time.After(2*time.Second - time.Since(start)):
				t.Fatalf("%s: not within 2 s", w.what)
			}
		}
		select {
		case err := <-viewerErr:
			t.Logf("viewer saw %v after %v", err, time.Since(start))
		case <-time.After(2*time.Second - time.Since(start)):
			t.Fatal("viewer still waiting 2 s after the broker stopped")
		}
	}()
	leaks()
}

// TestStalledViewerAgentGone: a viewer that stopped reading holds its
// session's writer; when the agent then goes (its end waits in TCP
// behind the bytes the relay cannot pass on), the broker ends the
// session once the write has stalled for WriteStall, not after the
// 30-minute idle limit.
func TestStalledViewerAgentGone(t *testing.T) {
	cfg := testConfig(t)
	cfg.WriteStall = broker.Duration(3 * time.Second)
	tb := startBroker(t, cfg)
	link, err := agentlink.Dial(context.Background(), tb.linkConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	raw, err := net.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.(*net.TCPConn).SetReadBuffer(4096)
	io.ReadFull(raw, make([]byte, 12))
	hdr := make([]byte, 250)
	copy(hdr, "ID:"+link.Code())
	raw.Write(hdr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := link.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Fill the viewer's side until the broker's writes block.
	chunk := make([]byte, 64<<10)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		data.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := data.Write(chunk); err != nil {
			break
		}
	}
	// The agent goes: its process ends, and its data connection's FIN
	// waits behind the data the broker has not read.
	data.(interface{ NetConn() net.Conn }).NetConn().Close()
	link.Close()
	start := time.Now()
	for tb.Metrics().Sessions.Load() != 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the session outlives its agent while the viewer does not read")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("session ended %v after the agent left", time.Since(start).Round(time.Millisecond))
}
