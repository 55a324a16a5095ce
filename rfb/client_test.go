package rfb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// connectPipe serves one connection of srv over a net.Pipe and runs
// NewClient on the other end. wrap, if not nil, wraps the client's end.
// Every read and write of the client is bounded by a 10 s deadline, so a
// broken test fails instead of hanging.
func connectPipe(t testing.TB, srv *Server, cfg ClientConfig, wrap func(net.Conn) net.Conn) (*Client, error) {
	t.Helper()
	cc, sc := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(ctx, sc)
	}()
	t.Cleanup(func() {
		cancel()
		cc.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the server connection did not end")
		}
	})
	cc.SetDeadline(time.Now().Add(10 * time.Second))
	var conn net.Conn = cc
	if wrap != nil {
		conn = wrap(cc)
	}
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	defer hcancel() // the client must outlive its handshake context
	return NewClient(hctx, conn, cfg)
}

// mustConnect is connectPipe for a handshake that must succeed.
func mustConnect(t testing.TB, srv *Server, cfg ClientConfig) *Client {
	t.Helper()
	c, err := connectPipe(t, srv, cfg, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func nextMessage(t testing.TB, c *Client) ServerMessage {
	t.Helper()
	m, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	return m
}

func nextUpdate(t testing.TB, c *Client) *FramebufferUpdate {
	t.Helper()
	m := nextMessage(t, c)
	u, ok := m.(*FramebufferUpdate)
	if !ok {
		t.Fatalf("got %T %+v, want a FramebufferUpdate", m, m)
	}
	return u
}

// fullUpdate asks for the whole screen and reads the answer.
func fullUpdate(t testing.TB, c *Client) *FramebufferUpdate {
	t.Helper()
	if err := c.RequestFull(); err != nil {
		t.Fatal(err)
	}
	return nextUpdate(t, c)
}

// syncTo reads updates, asking for more after each, until the client's
// framebuffer equals want. It returns the encodings of all rectangles.
func syncTo(t testing.TB, c *Client, want *Image) []Encoding {
	t.Helper()
	var seen []Encoding
	for range 10 {
		m := nextMessage(t, c)
		u, ok := m.(*FramebufferUpdate)
		if !ok {
			continue
		}
		for _, r := range u.Rects {
			seen = append(seen, r.Encoding)
		}
		if imageDiff(c.Framebuffer(), want) == "" {
			return seen
		}
		w, h := c.Size()
		if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("framebuffer still differs after 10 updates (%v): %s", seen, imageDiff(c.Framebuffer(), want))
	return nil
}

func checkImage(t testing.TB, c *Client, want *Image) {
	t.Helper()
	if d := imageDiff(c.Framebuffer(), want); d != "" {
		t.Fatalf("client framebuffer: %s", d)
	}
}

// testTLS returns a server configuration with a fresh self-signed
// certificate and a client configuration that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	cert := testCertificate(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// TestClientHandshakeMatrix connects to the real server with every
// version and security combination, right and wrong credentials: a good
// handshake must deliver the exact picture in the first full update, a
// bad one the error the user should see.
func TestClientHandshakeMatrix(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	src := testPattern(61, 37)
	plain := func(u, p string) bool { return u == "ann" && p == "pw-ann" }
	type outcome int
	const (
		ok outcome = iota
		authFailed
		refused33 // VeNCrypt cannot be offered to RFB 3.3
	)
	cases := []struct {
		name string
		opts Options
		cfg  ClientConfig
		want outcome
	}{
		{"None", Options{}, ClientConfig{}, ok},
		{"VNCAuth", Options{Password: "secret12"}, ClientConfig{Password: "secret12"}, ok},
		{"VNCAuth long password", Options{Password: "secret12"}, ClientConfig{Password: "secret12 and more"}, ok},
		{"VNCAuth wrong", Options{Password: "secret12"}, ClientConfig{Password: "secret13"}, authFailed},
		{"X509None", Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, VeNCryptSubtypes: []VeNCryptSubtype{VeNCryptX509None}},
			ClientConfig{TLSConfig: clientTLS, Security: []SecurityType{SecVeNCrypt}}, ok},
		{"X509Vnc", Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, Password: "pw"},
			ClientConfig{TLSConfig: clientTLS, Password: "pw", Security: []SecurityType{SecVeNCrypt}}, ok},
		{"X509Vnc wrong", Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, Password: "pw"},
			ClientConfig{TLSConfig: clientTLS, Password: "pv", Security: []SecurityType{SecVeNCrypt}}, authFailed},
		{"X509Plain", Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, PlainAuth: plain},
			ClientConfig{TLSConfig: clientTLS, Username: "ann", Password: "pw-ann", Security: []SecurityType{SecVeNCrypt}}, ok},
		{"X509Plain wrong", Options{Security: []SecurityType{SecVeNCrypt}, TLSConfig: serverTLS, PlainAuth: plain},
			ClientConfig{TLSConfig: clientTLS, Username: "ann", Password: "pw-bob", Security: []SecurityType{SecVeNCrypt}}, authFailed},
	}
	for _, v := range []Version{Version33, Version37, Version38} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%v/%s", v, tc.name), func(t *testing.T) {
				opts := tc.opts
				opts.Name = "matrix"
				srv := NewServer(NewFramebufferFromImage(src), opts)
				cfg := tc.cfg
				cfg.MaxVersion = v
				c, err := connectPipe(t, srv, cfg, nil)
				want := tc.want
				if v == Version33 && len(opts.Security) > 0 && opts.Security[0] == SecVeNCrypt {
					want = refused33
				}
				switch want {
				case ok:
					if err != nil {
						t.Fatalf("NewClient: %v", err)
					}
					if c.Version() != v || c.Name() != "matrix" || c.ServerPixelFormat() != NativeFormat {
						t.Errorf("version %v, name %q, format %v", c.Version(), c.Name(), c.ServerPixelFormat())
					}
					u := fullUpdate(t, c)
					if len(u.Rects) != 1 || u.Rects[0].Rect != src.Bounds() || u.Rects[0].Encoding != EncRaw {
						t.Errorf("first update %+v", u.Rects)
					}
					checkImage(t, c, src)
				case authFailed:
					var ae *AuthError
					if !errors.As(err, &ae) {
						t.Fatalf("err = %v, want *AuthError", err)
					}
					if wantReason := map[bool]string{true: "authentication failed"}[v == Version38]; ae.Reason != wantReason {
						t.Errorf("reason %q, want %q", ae.Reason, wantReason)
					}
				case refused33:
					var re *RefusedError
					if !errors.As(err, &re) || !strings.Contains(re.Reason, "3.3") {
						t.Fatalf("err = %v, want *RefusedError naming 3.3", err)
					}
				}
			})
		}
	}
}

// TestClientOverTCP runs VeNCrypt X509Vnc over a loopback listener and
// Server.Serve, the way the broker will use the client.
func TestClientOverTCP(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	src := testPattern(40, 30)
	srv := NewServer(NewFramebufferFromImage(src), Options{TLSConfig: serverTLS, Password: "tcp-pw"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := NewClient(ctx, conn, ClientConfig{TLSConfig: clientTLS, Password: "tcp-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fullUpdate(t, c)
	checkImage(t, c, src)
}

// TestClientSecurityChoice checks that the client picks from its own
// preference, not the server's order.
func TestClientSecurityChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offered string
		cfg     ClientConfig
		want    byte
	}{
		{"no password takes None", "\x02\x02\x01", ClientConfig{}, 1},
		{"password prefers VNCAuth", "\x02\x01\x02", ClientConfig{Password: "x"}, 2},
		{"explicit order", "\x02\x02\x01", ClientConfig{Password: "x", Security: []SecurityType{SecNone, SecVNCAuth}}, 1},
		{"unknown types skipped", "\x03\x10\x05\x02", ClientConfig{Password: "x"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chosen []byte
			scriptedClient(t, tc.cfg, func(s *scriptPeer) {
				s.send("RFB 003.008\n")
				s.recv(12)
				s.send(tc.offered)
				chosen = s.recv(1)
			})
			if len(chosen) != 1 || chosen[0] != tc.want {
				t.Errorf("client chose %v, want %d", chosen, tc.want)
			}
		})
	}
}

// scriptPeer is the server end of a pipe, driven by a script.
type scriptPeer struct {
	c      net.Conn
	broken bool
}

func (s *scriptPeer) send(b string) {
	if !s.broken {
		_, err := s.c.Write([]byte(b))
		s.broken = err != nil
	}
}

// recv reads n bytes from the client; after a failure it returns what it
// got.
func (s *scriptPeer) recv(n int) []byte {
	if s.broken {
		return nil
	}
	b := make([]byte, n)
	m, err := io.ReadFull(s.c, b)
	s.broken = err != nil
	return b[:m]
}

// scriptedClient runs NewClient against a scripted server. The script
// has ended when it returns; the server end is closed after the script.
func scriptedClient(t testing.TB, cfg ClientConfig, script func(*scriptPeer)) (*Client, error) {
	t.Helper()
	cc, sc := net.Pipe()
	cc.SetDeadline(time.Now().Add(10 * time.Second))
	sc.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		script(&scriptPeer{c: sc})
	}()
	c, err := NewClient(context.Background(), cc, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the script did not end")
	}
	return c, err
}

// TestClientVersion checks the version the client answers for each
// server version, and that it refuses what it cannot speak.
func TestClientVersion(t *testing.T) {
	for _, tc := range []struct {
		server string
		max    Version
		want   string // the client's answer, or "" for a refusal
	}{
		{"RFB 003.003\n", 0, "RFB 003.003\n"},
		{"RFB 003.005\n", 0, "RFB 003.003\n"},
		{"RFB 003.006\n", 0, "RFB 003.003\n"},
		{"RFB 003.007\n", 0, "RFB 003.007\n"},
		{"RFB 003.008\n", 0, "RFB 003.008\n"},
		{"RFB 003.889\n", 0, "RFB 003.008\n"},
		{"RFB 004.001\n", 0, "RFB 003.008\n"},
		{"RFB 003.008\n", Version37, "RFB 003.007\n"},
		{"RFB 003.008\n", Version33, "RFB 003.003\n"},
		{"RFB 003.007\n", Version33, "RFB 003.003\n"},
		{"RFB 003.003\n", Version37, "RFB 003.003\n"},
		{"RFB 003.002\n", 0, ""},
		{"RFB 002.009\n", 0, ""},
		{"RFB 000.000\n", 0, ""},
		{"RFB 3.8\n\n\n\n\n", 0, ""},
		{"SSH-2.0-x\r\n\n", 0, ""},
	} {
		t.Run(fmt.Sprintf("%q max %d", tc.server, tc.max), func(t *testing.T) {
			var answer []byte
			_, err := scriptedClient(t, ClientConfig{MaxVersion: tc.max}, func(s *scriptPeer) {
				s.send(tc.server)
				answer = s.recv(12)
			})
			if err == nil {
				t.Fatal("handshake succeeded against a script that stops")
			}
			if string(answer) != tc.want {
				t.Errorf("client answered %q, want %q (err %v)", answer, tc.want, err)
			}
		})
	}
}

// TestClientHandshakeErrors runs scripted servers that refuse or break the
// protocol, and checks the error.
func TestClientHandshakeErrors(t *testing.T) {
	_, clientTLS := testTLS(t)
	u32 := func(v uint32) string { return string([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}) }
	str := func(s string) string { return u32(uint32(len(s))) + s }
	veNCrypt := ClientConfig{TLSConfig: clientTLS, Security: []SecurityType{SecVeNCrypt}}
	for _, tc := range []struct {
		name   string
		cfg    ClientConfig
		script func(s *scriptPeer)
		check  func(err error) bool
		want   string
	}{
		{"3.3 refusal", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.003\n")
			s.recv(12)
			s.send(u32(0) + str("too many clients"))
		}, isRefused("too many clients"), "RefusedError"},
		{"3.8 refusal", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x00" + str("Büro closed"))
		}, isRefused("Büro closed"), "RefusedError"},
		{"refusal reason too long", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x00" + u32(1<<20))
		}, isProtocolError, "ProtocolError"},
		{"3.3 VeNCrypt", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.003\n")
			s.recv(12)
			s.send(u32(19))
		}, isProtocolError, "ProtocolError"},
		{"3.3 VNCAuth not accepted", ClientConfig{Security: []SecurityType{SecNone}}, func(s *scriptPeer) {
			s.send("RFB 003.003\n")
			s.recv(12)
			s.send(u32(2))
		}, errorContains("does not accept"), "an error"},
		{"no common type", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x02\x10\x05")
		}, errorContains("no common security type"), "an error"},
		{"3.7 auth failure", ClientConfig{Password: "x"}, func(s *scriptPeer) {
			s.send("RFB 003.007\n")
			s.recv(12)
			s.send("\x01\x02")
			s.recv(1)
			s.send(strings.Repeat("c", 16))
			s.recv(16)
			s.send(u32(1))
		}, isAuthError(""), "AuthError without reason"},
		{"3.8 too many attempts", ClientConfig{Password: "x"}, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x02")
			s.recv(1)
			s.send(strings.Repeat("c", 16))
			s.recv(16)
			s.send(u32(2) + str("too many attempts"))
		}, isAuthError("too many attempts"), "AuthError"},
		{"3.8 auth reason too long", ClientConfig{}, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x01")
			s.recv(1)
			s.send(u32(1) + u32(1<<20))
		}, isProtocolError, "ProtocolError"},
		{"VeNCrypt 0.1", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x01")
		}, errorContains("VeNCrypt 0.1"), "an error"},
		{"VeNCrypt version refused", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x02")
			s.recv(2)
			s.send("\x01")
		}, errorContains("refused VeNCrypt 0.2"), "an error"},
		{"VeNCrypt no common subtype", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x02")
			s.recv(2)
			s.send("\x00\x02" + u32(257) + u32(256))
		}, errorContains("no common VeNCrypt subtype"), "an error"},
		{"VeNCrypt subtype refused", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x02")
			s.recv(2)
			s.send("\x00\x01" + u32(260))
			s.recv(4)
			s.send("\x00")
		}, errorContains("refused VeNCrypt subtype X509None"), "an error"},
		{"VeNCrypt data before TLS", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x02")
			s.recv(2)
			s.send("\x00\x01" + u32(260))
			s.recv(4)
			s.send("\x01\x16\x03\x01")
		}, isProtocolError, "ProtocolError"},
		{"VeNCrypt not TLS", veNCrypt, func(s *scriptPeer) {
			s.send("RFB 003.008\n")
			s.recv(12)
			s.send("\x01\x13")
			s.recv(1)
			s.send("\x00\x02")
			s.recv(2)
			s.send("\x00\x01" + u32(260))
			s.recv(4)
			s.send("\x01")
			if hello := s.recv(5); len(hello) == 5 { // a TLS record header
				s.recv(int(hello[3])<<8 | int(hello[4]))
			}
			s.send("HTTP/1.0 400 Bad Request\r\n\r\n")
		}, errorContains("TLS handshake"), "an error"},
		{"MaxVersion 3.5", ClientConfig{MaxVersion: 35}, func(s *scriptPeer) {}, errorContains("MaxVersion"), "an error"},
		{"VeNCrypt without TLSConfig", ClientConfig{Security: []SecurityType{SecVeNCrypt}}, func(s *scriptPeer) {}, errorContains("without a TLSConfig"), "an error"},
		{"unsupported security type", ClientConfig{Security: []SecurityType{16}}, func(s *scriptPeer) {}, errorContains("lacks"), "an error"},
		{"unsupported subtype", ClientConfig{TLSConfig: clientTLS, VeNCryptSubtypes: []VeNCryptSubtype{VeNCryptPlain}}, func(s *scriptPeer) {}, errorContains("lacks"), "an error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scriptedClient(t, tc.cfg, tc.script)
			if !tc.check(err) {
				t.Errorf("err = %v (%T), want %s", err, err, tc.want)
			}
		})
	}
}

func isRefused(reason string) func(error) bool {
	return func(err error) bool {
		var re *RefusedError
		return errors.As(err, &re) && re.Reason == reason
	}
}

func isAuthError(reason string) func(error) bool {
	return func(err error) bool {
		var ae *AuthError
		return errors.As(err, &ae) && ae.Reason == reason
	}
}

func isProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

func errorContains(s string) func(error) bool {
	return func(err error) bool { return err != nil && strings.Contains(err.Error(), s) }
}

// TestClientHandshakeContext checks that ctx bounds the handshake: its
// deadline and its cancellation both stop a server that stalls, and the
// error says why.
func TestClientHandshakeContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cc, sc := net.Pipe()
		defer sc.Close()
		go io.Copy(io.Discard, sc)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := NewClient(ctx, cc, ClientConfig{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("NewClient returned after %v, want 3s", d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		cc, sc := net.Pipe()
		defer sc.Close()
		go func() {
			sc.Write([]byte("RFB 003.008\n"))
			io.Copy(io.Discard, sc)
		}()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		_, err := NewClient(ctx, cc, ClientConfig{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want Canceled", err)
		}
		if _, err := cc.Write([]byte{0}); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("connection not closed after a failed handshake: %v", err)
		}
	})
}

// TestClientPixelFormats checks, for formats real viewers use, that the
// decoded framebuffer equals the source after quantization, for a full
// update and for an incremental one.
func TestClientPixelFormats(t *testing.T) {
	pf := func(bpp, depth uint8, be bool, rmax, gmax, bmax uint16, rs, gs, bs uint8) PixelFormat {
		return PixelFormat{BPP: bpp, Depth: depth, BigEndian: be, TrueColour: true,
			RedMax: rmax, GreenMax: gmax, BlueMax: bmax, RedShift: rs, GreenShift: gs, BlueShift: bs}
	}
	for _, tc := range []struct {
		name string
		pf   PixelFormat
	}{
		{"32le native", NativeFormat},
		{"32le rgbx noVNC", pf(32, 24, false, 255, 255, 255, 0, 8, 16)},
		{"32be xrgb", pf(32, 24, true, 255, 255, 255, 16, 8, 0)},
		{"32be native bytes", pf(32, 24, true, 255, 255, 255, 8, 16, 24)},
		{"32le rgb101010", pf(32, 30, false, 1023, 1023, 1023, 20, 10, 0)},
		{"32be top bits", pf(32, 24, true, 255, 255, 255, 24, 16, 8)},
		{"16le 565", FormatRGB565},
		{"16be 565", pf(16, 16, true, 31, 63, 31, 11, 5, 0)},
		{"16le 555", pf(16, 15, false, 31, 31, 31, 10, 5, 0)},
		{"16be 555 gtk-vnc", pf(16, 15, true, 31, 31, 31, 11, 6, 1)},
		{"8 rgb332", FormatRGB332},
		{"8 bgr233", pf(8, 8, false, 7, 7, 3, 0, 3, 6)},
		{"8 rgb111", pf(8, 3, false, 1, 1, 1, 2, 1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := testPattern(45, 29)
			fb := NewFramebufferFromImage(src)
			c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
			if err := c.SetPixelFormat(tc.pf); err != nil {
				t.Fatal(err)
			}
			if err := c.SetEncodings(EncRaw); err != nil {
				t.Fatal(err)
			}
			fullUpdate(t, c)
			checkImage(t, c, quantizedImage(src, tc.pf))
			if c.PixelFormat() != tc.pf {
				t.Errorf("PixelFormat() = %v", c.PixelFormat())
			}

			fb.Update(func(img *Image) []image.Rectangle {
				r := image.Rect(7, 3, 20, 11)
				img.DrawImage(r.Min, testPattern(30, 30), image.Rect(9, 9, 22, 17))
				return []image.Rectangle{r}
			})
			if err := c.RequestUpdate(true, image.Rect(0, 0, 45, 29)); err != nil {
				t.Fatal(err)
			}
			u := nextUpdate(t, c)
			if len(u.Rects) != 1 || u.Rects[0].Rect != image.Rect(7, 3, 20, 11) {
				t.Errorf("incremental update %+v", u.Rects)
			}
			checkImage(t, c, quantizedImage(fb.Snapshot(), tc.pf))
		})
	}
}

// TestClientSetPixelFormatInvalid checks that a format the server cannot
// produce is refused before it is sent.
func TestClientSetPixelFormatInvalid(t *testing.T) {
	c, rec := parsingClient(t, 4, 4, NativeFormat, nil, strings.NewReader(""), ClientLimits{})
	bad := FormatRGB565
	bad.RedMax = 30
	if err := c.SetPixelFormat(bad); err == nil {
		t.Error("SetPixelFormat accepted red-max 30")
	}
	if err := c.SetEncodings(EncRaw, EncRRE); err == nil {
		t.Error("SetEncodings accepted RRE, which the client cannot decode")
	}
	if err := c.SetEncodings(Encoding(-316)); err == nil {
		t.Error("SetEncodings accepted ExtendedMouseButtons")
	}
	if b := rec.take(); len(b) != 0 || c.PixelFormat() != NativeFormat {
		t.Errorf("refused calls sent %x and left format %v", b, c.PixelFormat())
	}
}

// TestClientIncremental checks that small changes arrive as just the
// changed rectangles.
func TestClientIncremental(t *testing.T) {
	src := testPattern(64, 48)
	fb := NewFramebufferFromImage(src)
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	fullUpdate(t, c)
	checkImage(t, c, src)
	changed := []image.Rectangle{image.Rect(5, 5, 9, 8), image.Rect(30, 20, 33, 47), image.Rect(63, 0, 64, 1)}
	fb.Update(func(img *Image) []image.Rectangle {
		for i, r := range changed {
			img.Fill(r, 0x102030*uint32(i+1))
		}
		return changed
	})
	if err := c.RequestUpdate(true, image.Rect(0, 0, 64, 48)); err != nil {
		t.Fatal(err)
	}
	u := nextUpdate(t, c)
	var got []image.Rectangle
	for _, r := range u.Rects {
		if r.Encoding != EncRaw {
			t.Errorf("rectangle %v in %v", r.Rect, r.Encoding)
		}
		got = append(got, r.Rect)
	}
	sortRects(got)
	sortRects(changed)
	if !slices.Equal(got, changed) {
		t.Errorf("update carries %v, want %v", got, changed)
	}
	checkImage(t, c, fb.Snapshot())
}

func sortRects(r []image.Rectangle) {
	slices.SortFunc(r, func(a, b image.Rectangle) int {
		if a.Min.Y != b.Min.Y {
			return a.Min.Y - b.Min.Y
		}
		return a.Min.X - b.Min.X
	})
}

// TestClientCopyRect checks that Framebuffer.Move reaches the client as a
// CopyRect rectangle that the client applies exactly, overlap included.
func TestClientCopyRect(t *testing.T) {
	src := testPattern(80, 60)
	fb := NewFramebufferFromImage(src)
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncCopyRect, EncRaw); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c)
	for _, mv := range []struct {
		dst image.Rectangle
		src image.Point
	}{
		{image.Rect(10, 5, 40, 25), image.Pt(3, 2)},   // down-right, overlapping
		{image.Rect(0, 0, 80, 50), image.Pt(0, 10)},   // scroll up
		{image.Rect(20, 30, 70, 60), image.Pt(25, 0)}, // left, down
	} {
		fb.Move(mv.dst, mv.src)
		if err := c.RequestUpdate(true, image.Rect(0, 0, 80, 60)); err != nil {
			t.Fatal(err)
		}
		u := nextUpdate(t, c)
		if len(u.Rects) != 1 || u.Rects[0].Encoding != EncCopyRect || u.Rects[0].Rect != mv.dst || u.Rects[0].Src != mv.src {
			t.Errorf("move %v from %v arrived as %+v", mv.dst, mv.src, u.Rects)
		}
		checkImage(t, c, fb.Snapshot())
	}
}

// TestClientResize checks that a client follows a resize with
// DesktopSize or ExtendedDesktopSize, and that one with neither is
// disconnected.
func TestClientResize(t *testing.T) {
	for _, tc := range []struct {
		name string
		encs []Encoding
		want Encoding
	}{
		{"DesktopSize", []Encoding{EncRaw, EncDesktopSize}, EncDesktopSize},
		{"ExtendedDesktopSize", []Encoding{EncRaw, EncExtendedDesktopSize}, EncExtendedDesktopSize},
		{"both", []Encoding{EncRaw, EncDesktopSize, EncExtendedDesktopSize}, EncExtendedDesktopSize},
		{"neither", []Encoding{EncRaw}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := testPattern(50, 40)
			fb := NewFramebufferFromImage(src)
			c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
			if err := c.SetEncodings(tc.encs...); err != nil {
				t.Fatal(err)
			}
			if err := c.RequestFull(); err != nil {
				t.Fatal(err)
			}
			syncTo(t, c, src)
			bigger := testPattern(97, 23)
			fb.SetImage(bigger)
			if err := c.RequestUpdate(true, image.Rect(0, 0, 50, 40)); err != nil {
				t.Fatal(err)
			}
			if tc.want == 0 {
				if m, err := c.ReadMessage(); err == nil {
					t.Fatalf("client without resize support got %T %+v, want disconnection", m, m)
				}
				return
			}
			u := nextUpdate(t, c)
			want := UpdateRect{Rect: image.Rect(0, 0, 97, 23), Encoding: tc.want}
			if tc.want == EncExtendedDesktopSize {
				want.Screens = []Screen{{Rect: image.Rect(0, 0, 97, 23)}}
			}
			if len(u.Rects) != 1 || !slices.EqualFunc(u.Rects, []UpdateRect{want}, rectEqual) {
				t.Errorf("resize arrived as %+v, want %+v", u.Rects, want)
			}
			if w, h := c.Size(); w != 97 || h != 23 {
				t.Fatalf("client size %dx%d", w, h)
			}
			checkImage(t, c, NewImage(97, 23)) // black until the pixels come
			if err := c.RequestUpdate(true, image.Rect(0, 0, 97, 23)); err != nil {
				t.Fatal(err)
			}
			if seen := syncTo(t, c, bigger); slices.Contains(seen, EncCopyRect) {
				t.Errorf("CopyRect after a resize: %v", seen)
			}
			if tc.want == EncExtendedDesktopSize && !c.ServerSupports(EncExtendedDesktopSize) {
				t.Error("ExtendedDesktopSize not recorded as supported")
			}
		})
	}
}

func rectEqual(a, b UpdateRect) bool {
	return a.Rect == b.Rect && a.Encoding == b.Encoding && a.Src == b.Src && a.Reason == b.Reason &&
		a.Status == b.Status && slices.Equal(a.Screens, b.Screens)
}

// TestClientCursor checks that SetCursor on the framebuffer reaches the
// client with the right pixels, mask and hot spot.
func TestClientCursor(t *testing.T) {
	const w, h = 11, 7
	shape := image.NewNRGBA(image.Rect(0, 0, w, h))
	wantMask := make([]byte, (w+7)/8*h)
	wantImg := NewImage(w, h)
	for y := range h {
		for x := range w {
			a := uint8([]uint8{0, 0x7f, 0x80, 0xff}[(x+2*y)%4])
			c := color.NRGBA{uint8(x * 23), uint8(y * 31), uint8(x*y + 7), a}
			shape.SetNRGBA(x, y, c)
			wantImg.Fill(image.Rect(x, y, x+1, y+1), uint32(c.R)<<16|uint32(c.G)<<8|uint32(c.B))
			if a >= 0x80 {
				wantMask[y*((w+7)/8)+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	for _, pf := range []PixelFormat{NativeFormat, FormatRGB565} {
		t.Run(pf.String(), func(t *testing.T) {
			fb := NewFramebufferFromImage(testPattern(30, 20))
			c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
			if err := c.SetPixelFormat(pf); err != nil {
				t.Fatal(err)
			}
			if err := c.SetEncodings(EncRaw, EncCursor); err != nil {
				t.Fatal(err)
			}
			fullUpdate(t, c)
			if _, _, _, ok := c.Cursor(); ok {
				t.Error("cursor before the server sent one")
			}
			fb.SetCursor(shape, image.Pt(4, 3))
			if err := c.RequestUpdate(true, image.Rect(0, 0, 30, 20)); err != nil {
				t.Fatal(err)
			}
			u := nextUpdate(t, c)
			if len(u.Rects) != 1 || u.Rects[0].Encoding != EncCursor || u.Rects[0].Rect != image.Rect(4, 3, 4+w, 3+h) {
				t.Errorf("cursor arrived as %+v", u.Rects)
			}
			img, mask, hot, ok := c.Cursor()
			if !ok || hot != image.Pt(4, 3) || !slices.Equal(mask, wantMask) {
				t.Errorf("ok %v, hot spot %v, mask %x, want %x", ok, hot, mask, wantMask)
			}
			if d := imageDiff(img, quantizedImage(wantImg, pf)); d != "" {
				t.Errorf("cursor pixels: %s", d)
			}
		})
	}
}

// TestClientDesktopName checks the name from ServerInit and a later
// change through the DesktopName pseudo-encoding.
func TestClientDesktopName(t *testing.T) {
	srv := NewServer(NewFramebufferFromImage(testPattern(20, 10)), Options{Name: "Büro"})
	c := mustConnect(t, srv, ClientConfig{})
	if c.Name() != "Büro" {
		t.Errorf("name %q from ServerInit", c.Name())
	}
	if err := c.SetEncodings(EncRaw, EncDesktopName); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c) // the server has registered the connection now
	srv.SetDesktopName("Werkstatt ☕")
	if err := c.RequestUpdate(true, image.Rect(0, 0, 20, 10)); err != nil {
		t.Fatal(err)
	}
	u := nextUpdate(t, c)
	if len(u.Rects) != 1 || u.Rects[0].Encoding != EncDesktopName {
		t.Errorf("name change arrived as %+v", u.Rects)
	}
	if c.Name() != "Werkstatt ☕" {
		t.Errorf("name %q", c.Name())
	}
}

// TestClientCutText checks clipboard text both ways, with the Latin-1
// conversion.
func TestClientCutText(t *testing.T) {
	got := make(chan string, 1)
	srv := NewServer(NewFramebufferFromImage(testPattern(8, 8)), Options{OnCutText: func(s string) { got <- s }})
	c := mustConnect(t, srv, ClientConfig{})
	fullUpdate(t, c)
	srv.SendCutText("grüße €\nzwei")
	if m, ok := nextMessage(t, c).(*ServerCutText); !ok || m.Text != "grüße ?\nzwei" {
		t.Errorf("client got %#v", m)
	}
	if err := c.CutText("héllo ☕\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "héllo ?\n" {
			t.Errorf("server got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not receive the text")
	}
}

// TestClientBell checks that Server.Bell reaches the client.
func TestClientBell(t *testing.T) {
	srv := NewServer(NewFramebufferFromImage(testPattern(8, 8)), Options{})
	c := mustConnect(t, srv, ClientConfig{})
	fullUpdate(t, c)
	srv.Bell()
	if m, ok := nextMessage(t, c).(*Bell); !ok {
		t.Errorf("got %T", m)
	}
}

// TestClientFence checks the fence exchange: the server's request is
// answered, and the client's request comes back without the request bit
// and without flags the server does not know.
func TestClientFence(t *testing.T) {
	c := mustConnect(t, NewServer(NewFramebufferFromImage(testPattern(8, 8)), Options{}), ClientConfig{})
	if err := c.SetEncodings(EncRaw, EncFence); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextMessage(t, c).(*ServerFence); !ok || m.Flags&FenceRequest == 0 || !c.ServerSupports(EncFence) {
		t.Fatalf("got %#v, want the server's fence request", m)
	}
	if err := c.Send(&ClientFence{Flags: FenceRequest | FenceBlockBefore | 1<<20, Payload: []byte("ping")}); err != nil {
		t.Fatal(err)
	}
	m, ok := nextMessage(t, c).(*ServerFence)
	if !ok || m.Flags != FenceBlockBefore || string(m.Payload) != "ping" {
		t.Errorf("got %#v, want the echo of the client's fence", m)
	}
}

// TestClientContinuousUpdates checks that after EndOfContinuousUpdates the
// client can enable continuous updates and gets changes without asking,
// and that disabling them is answered with EndOfContinuousUpdates.
func TestClientContinuousUpdates(t *testing.T) {
	src := testPattern(40, 30)
	fb := NewFramebufferFromImage(src)
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncRaw, EncContinuousUpdates); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextMessage(t, c).(*EndOfContinuousUpdates); !ok || !c.ServerSupports(EncContinuousUpdates) {
		t.Fatalf("got %#v, want EndOfContinuousUpdates", m)
	}
	if err := c.Send(&EnableContinuousUpdates{Enable: true, Rect: image.Rect(0, 0, 40, 30)}); err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, c)
	checkImage(t, c, src)
	for i := range 3 {
		r := image.Rect(i*10, i*5, i*10+6, i*5+4)
		fb.Update(func(img *Image) []image.Rectangle {
			img.Fill(r, 0xff00ff)
			return []image.Rectangle{r}
		})
		if u := nextUpdate(t, c); len(u.Rects) != 1 || u.Rects[0].Rect != r {
			t.Errorf("change %v arrived as %+v", r, u.Rects)
		}
		checkImage(t, c, fb.Snapshot())
	}
	if err := c.Send(&EnableContinuousUpdates{Enable: false}); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextMessage(t, c).(*EndOfContinuousUpdates); !ok {
		t.Errorf("got %#v after disabling, want EndOfContinuousUpdates", m)
	}
}

// TestClientInput checks that key and pointer events, QEMU extended key
// events included, reach the server's sinks.
func TestClientInput(t *testing.T) {
	keys := make(chan KeyEvent, 8)
	pointers := make(chan PointerEvent, 8)
	srv := NewServer(NewFramebufferFromImage(testPattern(100, 80)), Options{
		OnKey:     func(e KeyEvent) { keys <- e },
		OnPointer: func(e PointerEvent) { pointers <- e },
	})
	c := mustConnect(t, srv, ClientConfig{})
	if err := c.SetEncodings(EncRaw, EncQEMUExtendedKey); err != nil {
		t.Fatal(err)
	}
	u := fullUpdate(t, c)
	if !c.ServerSupports(EncQEMUExtendedKey) || !slices.ContainsFunc(u.Rects, func(r UpdateRect) bool { return r.Encoding == EncQEMUExtendedKey }) {
		t.Fatalf("no QEMU extended key confirmation in %+v", u.Rects)
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(c.KeyEvent(true, 0xffe1))
	check(c.KeyEvent(false, 0xffe1))
	check(c.Send(&QEMUExtendedKeyEvent{Down: true, Keysym: 0x61, Keycode: 0x1e}))
	check(c.PointerEvent(5, 10, 20))
	check(c.PointerEvent(0, 100000, -5))
	for _, want := range []KeyEvent{{Down: true, Keysym: 0xffe1}, {Keysym: 0xffe1}, {Down: true, Keysym: 0x61, Keycode: 0x1e}} {
		select {
		case got := <-keys:
			if got != want {
				t.Errorf("key %+v, want %+v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("key %+v did not arrive", want)
		}
	}
	for _, want := range []PointerEvent{{Buttons: 5, X: 10, Y: 20}, {X: 99, Y: 0}} {
		select {
		case got := <-pointers:
			if got != want {
				t.Errorf("pointer %+v, want %+v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pointer %+v did not arrive", want)
		}
	}
}

// TestClientExclusive checks that an exclusive client makes the server
// drop the others.
func TestClientExclusive(t *testing.T) {
	srv := NewServer(NewFramebufferFromImage(testPattern(8, 8)), Options{})
	shared := mustConnect(t, srv, ClientConfig{})
	fullUpdate(t, shared) // registered with the server
	mustConnect(t, srv, ClientConfig{Exclusive: true})
	if m, err := shared.ReadMessage(); err == nil {
		t.Fatalf("shared client got %T, want disconnection", m)
	}
}

// TestClientSendAfterClose checks that the client's methods fail cleanly
// once the connection is gone.
func TestClientSendAfterClose(t *testing.T) {
	c := mustConnect(t, NewServer(NewFramebufferFromImage(testPattern(8, 8)), Options{}), ClientConfig{})
	c.Close()
	if err := c.RequestFull(); err == nil {
		t.Error("RequestFull after Close succeeded")
	}
	_, err1 := c.ReadMessage()
	_, err2 := c.ReadMessage()
	if err1 == nil || err1 != err2 {
		t.Errorf("ReadMessage after Close: %v, then %v", err1, err2)
	}
}

// TestClientRawNoAllocs checks that decoding Raw updates allocates
// nothing once the client is warm, native or converted.
func TestClientRawNoAllocs(t *testing.T) {
	src := testPattern(64, 32)
	for _, pf := range []PixelFormat{NativeFormat, FormatRGB565, FormatRGB332} {
		var msg []byte
		for _, r := range []image.Rectangle{image.Rect(0, 0, 64, 16), image.Rect(0, 16, 3, 32), image.Rect(3, 16, 64, 32)} {
			msg = append(msg, rectBytes(r.Min.X, r.Min.Y, r.Dx(), r.Dy(), EncRaw, pixelBytes(pf, src, r)...)...)
		}
		msg = updateBytes(3, msg)
		c, _ := parsingClient(t, 64, 32, pf, []Encoding{EncRaw}, &repeatReader{b: msg}, ClientLimits{})
		read := func() {
			if _, err := c.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		read()
		if n := testing.AllocsPerRun(50, read); n != 0 {
			t.Errorf("%v: %v allocations per update", pf, n)
		}
		checkImage(t, c, quantizedImage(src, pf))
	}
}

// repeatReader returns b over and over.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

func BenchmarkClientRaw(b *testing.B) {
	src := testPattern(1024, 768)
	for _, pf := range []PixelFormat{NativeFormat, FormatRGB565} {
		b.Run(pf.String(), func(b *testing.B) {
			msg := updateBytes(1, rectBytes(0, 0, 1024, 768, EncRaw, pixelBytes(pf, src, src.Bounds())...))
			c, _ := parsingClient(b, 1024, 768, pf, []Encoding{EncRaw}, &repeatReader{b: msg}, ClientLimits{})
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ExampleNewClient shows a client that keeps a copy of a server's screen.
func ExampleNewClient() {
	conn, err := net.Dial("tcp", "127.0.0.1:5900")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, conn, ClientConfig{Password: "secret"})
	if err != nil {
		fmt.Println(err) // an *AuthError says the password was wrong
		return
	}
	defer c.Close()
	if err := c.SetEncodings(EncCopyRect, EncRaw, EncDesktopSize, EncCursor); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.RequestFull(); err != nil {
		fmt.Println(err)
		return
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			fmt.Println(err)
			return
		}
		if _, ok := m.(*FramebufferUpdate); ok {
			// c.Framebuffer() is up to date; ask for the next change.
			w, h := c.Size()
			if err := c.RequestUpdate(true, image.Rect(0, 0, w, h)); err != nil {
				fmt.Println(err)
				return
			}
		}
	}
}

// TestClientResizeBack checks that a resize the client never saw (the
// framebuffer went to another size and back before the client asked)
// still brings the new pixels.
func TestClientResizeBack(t *testing.T) {
	src := testPattern(50, 40)
	fb := NewFramebufferFromImage(src)
	c := mustConnect(t, NewServer(fb, Options{}), ClientConfig{})
	if err := c.SetEncodings(EncRaw, EncDesktopSize); err != nil {
		t.Fatal(err)
	}
	fullUpdate(t, c)
	fb.Resize(60, 60, nil)
	back := NewImage(50, 40)
	back.copyFrom(image.Point{}, testPattern(90, 90), image.Rect(20, 20, 70, 60))
	fb.SetImage(back)
	if err := c.RequestUpdate(true, image.Rect(0, 0, 50, 40)); err != nil {
		t.Fatal(err)
	}
	syncTo(t, c, fb.Snapshot())
}
