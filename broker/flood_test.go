package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// rawVNCAuth runs a stock viewer's RFB 3.8 handshake with VNC
// Authentication up to the SecurityResult, as a small client that holds
// nothing but the connection. It returns nil when the broker accepted
// the code.
func rawVNCAuth(c net.Conn, code string) error {
	var ver [12]byte
	if _, err := io.ReadFull(c, ver[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "RFB 003.008\n"); err != nil {
		return err
	}
	var n [1]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return err
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(c, types); err != nil {
		return err
	}
	if _, err := c.Write([]byte{byte(rfb.SecVNCAuth)}); err != nil {
		return err
	}
	var ch [16]byte
	if _, err := io.ReadFull(c, ch[:]); err != nil {
		return err
	}
	if _, err := c.Write(rfb.VNCAuthResponse(ch[:], code)); err != nil {
		return err
	}
	var res [4]byte
	if _, err := io.ReadFull(c, res[:]); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(res[:]) != 0 {
		return errors.New("refused")
	}
	return nil
}

// floodAddr is the i-th flood source address, spread over 127.0.0.0/8
// away from 127.0.0.1, which the legitimate pairs use.
func floodAddr(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, byte(10+i/(254*254)), byte(i/254%254+1), byte(i%254+1))}
}

// TestFlood opens 10,000 connections from 10,000 loopback addresses
// (connect-and-close, garbage, wrong codes on the viewer and repeater
// ports), while a repeater client holds a half handshake, and a supporter
// on 127.0.0.1 keeps pairing and getting exact pixels throughout.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood in -short mode")
	}
	const (
		total   = 10000
		workers = 64
		limit   = 90 * time.Second
	)
	raiseFileLimit(t, 4*workers+1024)
	cfg := testConfig(t)
	tb := startBrokerLog(t, cfg, slog.New(slog.DiscardHandler))

	// A repeater client that sends half its header and waits, from an
	// address of its own: a second open handshake from the supporter's
	// address would have to pay into the global budget, which the flood
	// keeps empty (see Throttle).
	hd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 9, 9, 9)}}
	half, err := hd.Dial("tcp", tb.repeaterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	io.ReadFull(half, make([]byte, 12))
	half.Write([]byte("ID:12"))
	halfClosed := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		half.SetReadDeadline(time.Now().Add(limit))
		io.Copy(io.Discard, half)
		halfClosed <- time.Since(start)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var next, done, dialErrs atomic.Int64
	var wg sync.WaitGroup
	garbage := []byte("\x16\x03\x01\x00\x05hello GET / HTTP/1.1\r\n\r\n")
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				d := net.Dialer{LocalAddr: floodAddr(i), Timeout: 5 * time.Second}
				addr := []string{tb.viewerAddr, tb.agentAddr, tb.viewerAddr, tb.repeaterAddr}[i%4]
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				switch i % 4 {
				case 0: // connect and go
				case 1:
					c.Write(garbage)
				// Wrong codes that can never be a live one: a real code
				// guessed here could be a legitimate pair's (6-digit
				// codes are random) and spend it.
				case 2:
					rawVNCAuth(c, fmt.Sprintf("x%05d", i))
				case 3:
					hdr := make([]byte, 250)
					copy(hdr, fmt.Sprintf("ID:0%05d", i))
					io.ReadFull(c, make([]byte, 12))
					c.Write(hdr)
				}
				c.Close()
				done.Add(1)
			}
		})
	}
	flooding := make(chan struct{})
	go func() { wg.Wait(); close(flooding) }()

	// Legitimate pairs, one after another, until the flood is over.
	pairs := 0
	start := time.Now()
	for running := true; running && pairs < 1000; {
		select {
		case <-flooding:
			running = false
		default:
		}
		img := rfbtest.Pattern(24, 16, uint8(pairs))
		a := startAgent(t, tb, "", img, "")
		c, err := dialViewer(t, tb, rfb.ClientConfig{Password: a.link.Code(), Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err != nil {
			t.Fatalf("legitimate pair %d during the flood (%d flood connections done): %v", pairs, done.Load(), err)
		}
		syncTo(t, c, img)
		c.Close()
		pairs++
	}
	elapsed := time.Since(start)
	m := tb.Metrics()
	t.Logf("flood: %d connections from %d addresses in %v (%d dial errors); %d legitimate pairs with exact pixels meanwhile; "+
		"broker: %d refused, %d handshake errors, %d failed guesses",
		done.Load(), min(next.Load(), total), elapsed.Round(time.Millisecond), dialErrs.Load(), pairs,
		m.RefusedConns.Load(), m.HandshakeErrors.Load(), m.FailedGuesses.Load())
	if ctx.Err() != nil {
		t.Fatalf("flood not done within %v: %d connections", limit, done.Load())
	}
	if done.Load() < total*9/10 {
		t.Fatalf("only %d of %d flood connections went through", done.Load(), total)
	}
	if pairs < 2 {
		t.Fatalf("%d legitimate pairs during the flood", pairs)
	}
	select {
	case d := <-halfClosed:
		if d > 2*time.Duration(cfg.HandshakeTimeout) {
			t.Errorf("half handshake closed after %v", d)
		}
	case <-time.After(2 * time.Duration(cfg.HandshakeTimeout)):
		t.Error("half repeater handshake still open")
	}
}

// TestPipelinedClientInit: a viewer that sends its ClientInit right
// behind its VNC Authentication response, before the SecurityResult,
// still gets its session: the bytes the handshake read ahead are relayed
// in front of the rest (unbuffer in viewer.go).
func TestPipelinedClientInit(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	a := startAgent(t, tb, "", rfbtest.Pattern(40, 30, 12), "")
	c, err := net.Dial("tcp", tb.viewerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.ReadFull(c, make([]byte, 12))
	io.WriteString(c, "RFB 003.008\n")
	var n [1]byte
	io.ReadFull(c, n[:])
	io.ReadFull(c, make([]byte, n[0]))
	c.Write([]byte{byte(rfb.SecVNCAuth)})
	var ch [16]byte
	if _, err := io.ReadFull(c, ch[:]); err != nil {
		t.Fatal(err)
	}
	c.Write(append(rfb.VNCAuthResponse(ch[:], a.link.Code()), 1)) // and ClientInit: shared
	var res [4]byte
	if _, err := io.ReadFull(c, res[:]); err != nil || binary.BigEndian.Uint32(res[:]) != 0 {
		t.Fatalf("SecurityResult %v %v", res, err)
	}
	var si [24]byte
	if _, err := io.ReadFull(c, si[:]); err != nil {
		t.Fatalf("ServerInit: %v", err)
	}
	if w, h := binary.BigEndian.Uint16(si[0:]), binary.BigEndian.Uint16(si[2:]); w != 40 || h != 30 {
		t.Fatalf("ServerInit size %dx%d", w, h)
	}
}

// TestAgentPortGuess: a code presented on the agent port is a guess like
// a viewer's: it is counted and throttled, and a live customer code is
// refused with the same words as an unknown one.
func TestAgentPortGuess(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	a := startAgent(t, tb, "", rfbtest.Pattern(8, 8, 1), "")
	var msgs []string
	for _, code := range []string{a.link.Code(), "99999"} {
		_, err := agentlink.Dial(context.Background(), tb.linkConfig(code))
		var re *agentlink.RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("presenting %q on the agent port: %v", code, err)
		}
		msgs = append(msgs, re.Reason)
	}
	if msgs[0] != msgs[1] {
		t.Fatalf("a live code and a bad one are refused differently: %q, %q", msgs[0], msgs[1])
	}
	if n := tb.Metrics().FailedGuesses.Load(); n != 2 {
		t.Fatalf("failed guesses %d, want 2", n)
	}
}
