package wsconn

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DialOptions configures Dial.
type DialOptions struct {
	// TLS configures wss (ServerName defaults to the URL's host). Its
	// NextProtos are replaced by http/1.1: the upgrade is an HTTP/1.1
	// request.
	TLS *tls.Config
	// NetDial opens the TCP connection (or a proxy's tunnel) to
	// host:port; nil dials directly.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Header is sent with the upgrade request (Authorization, say).
	Header http.Header
	// Subprotocol to offer; "" offers none.
	Subprotocol string
	// MaxFrame is the largest data frame accepted (DefaultMaxFrame if 0).
	MaxFrame int64
}

// maxResponse bounds the server's answer to the upgrade request.
const maxResponse = 16 << 10

// Dial opens a WebSocket connection to a ws:// or wss:// URL. ctx bounds
// the whole setup; the connection outlives it.
func Dial(ctx context.Context, rawURL string, o DialOptions) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	port := u.Port()
	switch u.Scheme {
	case "wss":
		if port == "" {
			port = "443"
		}
	case "ws":
		if port == "" {
			port = "80"
		}
	default:
		return nil, fmt.Errorf("websocket: URL scheme %q is not ws or wss", u.Scheme)
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dial := o.NetDial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			raw.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := raw
	if u.Scheme == "wss" {
		cfg := &tls.Config{}
		if o.TLS != nil {
			cfg = o.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("websocket: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := u.RequestURI()
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n", path, u.Host, key)
	if o.Subprotocol != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", o.Subprotocol)
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			if strings.ContainsAny(k+v, "\r\n") {
				return nil, errors.New("websocket: header with a line break")
			}
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, fmt.Errorf("websocket: upgrade request: %w", err)
	}
	br := bufio.NewReaderSize(io.LimitReader(conn, maxResponse), 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("websocket: upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &HandshakeError{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	switch {
	case !headerHas(resp.Header, "Upgrade", "websocket") || !headerHas(resp.Header, "Connection", "upgrade"):
		return nil, errors.New("websocket: the server did not upgrade the connection")
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, errors.New("websocket: the server's Sec-WebSocket-Accept does not match")
	case resp.Header.Get("Sec-WebSocket-Protocol") != o.Subprotocol:
		return nil, fmt.Errorf("websocket: the server chose subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	var pre []byte
	if n := br.Buffered(); n > 0 {
		pre, _ = br.Peek(n)
		pre = append([]byte(nil), pre...)
	}
	if !stop() {
		return nil, context.Cause(ctx)
	}
	conn.SetDeadline(time.Time{})
	ok = true
	return newConn(conn, true, pre, o.MaxFrame), nil
}

// HandshakeError is a server's refusal of the upgrade.
type HandshakeError struct {
	Status  int
	Message string
}

func (e *HandshakeError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("websocket: server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("websocket: server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}
