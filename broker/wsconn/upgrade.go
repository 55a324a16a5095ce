package wsconn

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Subprotocol is the one subprotocol offered: websockify's name for a
// raw byte stream in binary frames. A client may also offer none.
const Subprotocol = "binary"

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Options configures Upgrade.
type Options struct {
	// CheckOrigin decides whether a browser's page may open the
	// connection. Nil allows requests without an Origin header (not a
	// browser) and those whose Origin is the requested host.
	CheckOrigin func(r *http.Request) bool
	// MaxFrame is the largest data frame accepted (DefaultMaxFrame if 0);
	// a larger one is answered with close status 1009.
	MaxFrame int64
	// KeepAlive sends a ping after this much quiet (0: none).
	KeepAlive time.Duration
}

// ErrNotWebSocket is returned for a request that is not a WebSocket
// upgrade; Upgrade has answered it with 400 (or 426 for another version).
var ErrNotWebSocket = errors.New("websocket: not a WebSocket upgrade request")

// Upgrade answers a WebSocket upgrade request and returns the connection.
// On failure it has written an HTTP error that says why, and returns it.
func Upgrade(w http.ResponseWriter, r *http.Request, o Options) (*Conn, error) {
	refuse := func(status int, msg string) (*Conn, error) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		w.WriteHeader(status)
		w.Write([]byte(msg + "\n"))
		return nil, errors.New("websocket: " + msg)
	}
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") ||
		!headerHas(r.Header, "Upgrade", "websocket") {
		refuse(http.StatusBadRequest, "this address takes WebSocket connections only")
		return nil, ErrNotWebSocket
	}
	if r.ProtoMajor != 1 {
		return refuse(http.StatusBadRequest, "WebSocket needs HTTP/1.1")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return refuse(http.StatusUpgradeRequired, "WebSocket version 13 is required")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return refuse(http.StatusBadRequest, "bad Sec-WebSocket-Key")
	}
	check := o.CheckOrigin
	if check == nil {
		check = SameOrigin
	}
	if !check(r) {
		return refuse(http.StatusForbidden, "a page from another site may not open this connection")
	}
	proto := ""
	if offered := headerTokens(r.Header, "Sec-WebSocket-Protocol"); len(offered) > 0 {
		for _, p := range offered {
			if p == Subprotocol {
				proto = Subprotocol
			}
		}
		if proto == "" {
			return refuse(http.StatusBadRequest, "only the \"binary\" subprotocol (or none) is supported")
		}
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return refuse(http.StatusInternalServerError, "cannot take over the connection")
	}
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pre, _ = brw.Reader.Peek(n)
		pre = append([]byte(nil), pre...)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if proto != "" {
		resp += "Sec-WebSocket-Protocol: " + proto + "\r\n"
	}
	resp += "\r\n"
	// The server's deadlines for reading the request still apply; the
	// caller sets its own from here.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	c := newConn(conn, false, pre, o.MaxFrame)
	c.KeepAlive(o.KeepAlive)
	return c, nil
}

// SameOrigin allows requests without an Origin header (programs, not
// pages) and those from a page of the host the request went to.
func SameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerHas reports whether the comma-separated header name has token,
// case-insensitively.
func headerHas(h http.Header, name, token string) bool {
	for _, t := range headerTokens(h, name) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}
