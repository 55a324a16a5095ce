package bridge

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"lifebuoy/rfb"
)

// Config is what a bridge needs.
type Config struct {
	// URL is the broker's HTTPS front: https://help.example.com[:5512].
	URL string
	// Token is the supporter's API token (lifebuoy login).
	Token string
	// Code is the session code to redeem.
	Code string
	// TLS trusts the broker: nil for the system's roots (WebPKI); see
	// PinnedTLS for a self-signed broker.
	TLS *tls.Config
	// Listen is the local address (default 127.0.0.1:0); it must be a
	// loopback address.
	Listen string
	// HandshakeTimeout bounds the viewer's handshake with the bridge and
	// the bridge's connection to the broker (default 30 s). The wait for
	// the customer's consent is not bounded by it.
	HandshakeTimeout time.Duration
	// AcceptTimeout bounds the wait for the viewer to connect (default
	// 2 minutes).
	AcceptTimeout time.Duration
	Log           *slog.Logger
}

// Errors of the bridge.
var (
	ErrNotLoopback   = errors.New("the bridge listens on loopback addresses only")
	ErrWrongPassword = errors.New("a local program connected with the wrong one-time password; the bridge closed")
	ErrNoViewer      = errors.New("no viewer connected to the bridge in time")
)

// RefusedError is the broker's refusal of the code (wrong or used code,
// the customer said no, anonymous viewers off...).
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "the broker refused: " + e.Reason }

// Bridge is one bridged session.
type Bridge struct {
	cfg      Config
	l        net.Listener
	password string
	log      *slog.Logger
	closeL   sync.Once
}

// passwordAlphabet gives 62^8 ≈ 2^47.6 one-time passwords (VNC
// Authentication uses 8 characters).
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-+"

// newPassword is a random 8-character password.
func newPassword() string {
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = passwordAlphabet[int(b[i])%len(passwordAlphabet)]
	}
	return string(b)
}

// Listen opens the local port and makes the one-time password.
func Listen(cfg Config) (*Bridge, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, ErrNotLoopback
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.AcceptTimeout <= 0 {
		cfg.AcceptTimeout = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := wsURL(cfg.URL); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	return &Bridge{cfg: cfg, l: l, password: newPassword(), log: cfg.Log}, nil
}

// Addr is the local address the viewer connects to.
func (b *Bridge) Addr() *net.TCPAddr { return b.l.Addr().(*net.TCPAddr) }

// Password is the one-time VNC password the viewer must give.
func (b *Bridge) Password() string { return b.password }

// Close stops the bridge before a viewer came.
func (b *Bridge) Close() error {
	var err error
	b.closeL.Do(func() { err = b.l.Close() })
	return err
}

// Serve takes the first connection to the local port (and closes the
// port), checks its password, redeems the code at the broker and relays
// until either side ends. It returns nil when the session ran and ended.
func (b *Bridge) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type accepted struct {
		c   net.Conn
		err error
	}
	got := make(chan accepted, 1)
	go func() {
		c, err := b.l.Accept()
		got <- accepted{c, err}
	}()
	t := time.NewTimer(b.cfg.AcceptTimeout)
	defer t.Stop()
	var local net.Conn
	select {
	case a := <-got:
		b.Close()
		if a.err != nil {
			return a.err
		}
		local = a.c
	case <-t.C:
		b.Close()
		return ErrNoViewer
	case <-ctx.Done():
		b.Close()
		return ctx.Err()
	}
	defer local.Close()
	context.AfterFunc(ctx, func() { local.Close() })
	b.log.Info("bridge: a viewer connected", "from", local.RemoteAddr().String())

	local.SetDeadline(time.Now().Add(b.cfg.HandshakeTimeout))
	hs, err := rfb.AcceptSecurity(local, rfb.SecurityConfig{Types: []rfb.SecurityType{rfb.SecVNCAuth}})
	if err != nil {
		return fmt.Errorf("the viewer's handshake: %w", err)
	}
	if !hs.CheckVNCAuth(b.password) {
		hs.Refuse("wrong one-time password")
		return ErrWrongPassword
	}
	// The broker's side may wait long for the customer's consent; the
	// viewer waits for its SecurityResult meanwhile.
	local.SetDeadline(time.Time{})
	up, err := b.dial(ctx)
	if err != nil {
		hs.Refuse(err.Error())
		return err
	}
	defer up.Close()
	context.AfterFunc(ctx, func() { up.Close() })
	if err := hs.Accept(); err != nil {
		return err
	}
	b.log.Info("bridge: session open", "code", b.cfg.Code)
	return splice(hs.Conn, up)
}

// wsURL is the broker's /rfb WebSocket URL for its HTTPS front URL.
func wsURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return "", fmt.Errorf("broker URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "wss":
	default:
		return "", fmt.Errorf("broker URL %q: want https://host[:port]", base)
	}
	if u.Host == "" {
		return "", fmt.Errorf("broker URL %q: no host", base)
	}
	u.Path, u.RawQuery = "/rfb", ""
	return u.String(), nil
}

// upstream is the broker's side after a successful handshake: reads go
// through the handshake's buffer.
type upstream struct {
	net.Conn
	r *bufio.Reader
}

func (u *upstream) Read(p []byte) (int, error) { return u.r.Read(p) }

// dial connects to the broker's /rfb as the supporter and redeems the
// code; it returns once the broker's SecurityResult said yes.
func (b *Bridge) dial(ctx context.Context) (net.Conn, error) {
	target, _ := wsURL(b.cfg.URL)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: b.cfg.TLS, Proxy: http.ProxyFromEnvironment,
		ForceAttemptHTTP2: false}}
	dctx, cancel := context.WithTimeout(ctx, b.cfg.HandshakeTimeout)
	defer cancel()
	h := http.Header{}
	if b.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+b.cfg.Token)
	}
	ws, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h,
		Subprotocols: []string{"binary"}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("the broker's %s answered %s", target, resp.Status)
		}
		return nil, fmt.Errorf("the broker's %s: %w", target, err)
	}
	c := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	c.SetDeadline(time.Now().Add(b.cfg.HandshakeTimeout))
	r := bufio.NewReader(c)
	if err := clientHandshake(c, r, b.cfg.Code); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return &upstream{Conn: c, r: r}, nil
}

// clientHandshake runs RFB 3.8 up to the SecurityResult with VNC
// Authentication, the code as the password:
//
//	B: "RFB 003.008\n"   C: "RFB 003.008\n"
//	B: U8 n, n × U8 types (n = 0: U32 length, reason)   C: U8 2
//	B: 16-byte challenge  C: 16-byte response
//	(the broker waits for the agent and the customer's consent here,
//	which is why the caller lifts the deadline after the challenge)
//	B: U32 0 (OK), or 1, U32 length, reason
func clientHandshake(c net.Conn, r *bufio.Reader, code string) error {
	var ver [12]byte
	if _, err := io.ReadFull(r, ver[:]); err != nil {
		return fmt.Errorf("the broker's greeting: %w", err)
	}
	if !strings.HasPrefix(string(ver[:]), "RFB 003.") {
		return fmt.Errorf("the broker's greeting %q is not RFB", ver[:])
	}
	if _, err := c.Write([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	n, err := r.ReadByte()
	if err != nil {
		return err
	}
	if n == 0 {
		reason, err := readReason(r)
		if err != nil {
			return err
		}
		return &RefusedError{Reason: reason}
	}
	types := make([]byte, n)
	if _, err := io.ReadFull(r, types); err != nil {
		return err
	}
	if !strings.ContainsRune(string(types), rune(rfb.SecVNCAuth)) {
		return fmt.Errorf("the broker offers no VNC Authentication over its HTTPS front (types %v)", types)
	}
	if _, err := c.Write([]byte{byte(rfb.SecVNCAuth)}); err != nil {
		return err
	}
	challenge := make([]byte, 16)
	if _, err := io.ReadFull(r, challenge); err != nil {
		return err
	}
	if _, err := c.Write(rfb.VNCAuthResponse(challenge, code)); err != nil {
		return err
	}
	c.SetDeadline(time.Time{}) // the customer is being asked
	var res [4]byte
	if _, err := io.ReadFull(r, res[:]); err != nil {
		return fmt.Errorf("the broker's answer: %w", err)
	}
	if binary.BigEndian.Uint32(res[:]) == 0 {
		return nil
	}
	reason, err := readReason(r)
	if err != nil {
		reason = "refused"
	}
	return &RefusedError{Reason: reason}
}

// maxReason bounds a refusal's text.
const maxReason = 4096

func readReason(r *bufio.Reader) (string, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > maxReason {
		return "", fmt.Errorf("a refusal of %d bytes", l)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// splice copies both ways until one side ends, then closes both.
func splice(a, b net.Conn) error {
	errc := make(chan error, 2)
	cp := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		errc <- err
		dst.Close()
		src.Close()
	}
	go cp(a, b)
	go cp(b, a)
	err := <-errc
	<-errc
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// PinnedTLS trusts exactly the certificate whose SHA-256 fingerprint
// (hex, as the broker prints it) is given, whatever its name: for a
// self-signed broker. A certificate that verifies under the system's
// roots for the name is trusted too (the broker moved to ACME).
func PinnedTLS(fingerprint string) (*tls.Config, error) {
	want, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(fingerprint), ":", ""))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("fingerprint %q: want 64 hex digits", fingerprint)
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // VerifyConnection decides
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if string(sum[:]) == string(want) {
				return nil
			}
			opts := x509VerifyOptions(cs)
			if _, err := cs.PeerCertificates[0].Verify(opts); err == nil {
				return nil
			}
			return fmt.Errorf("the broker's certificate has fingerprint %x, not the pinned %x", sum, want)
		},
	}, nil
}
