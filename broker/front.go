package broker

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"lifebuoy/broker/wsconn"
	"lifebuoy/rfb"
)

// The HTTPS front (5512, or 443): one TLS port for browsers, REST
// clients and agents behind strict firewalls.
//
//	TLS 1.2+ with the broker's certificate (ACME's for the ACME domain);
//	ALPN picks what follows:
//	  h2, http/1.1      HTTP: the routes below
//	  lifebuoy-agent/1  the agent channel of 5510, as is (TLS 1.3 only),
//	                    so that one open port is enough
//	  acme-tls/1        the CA's TLS-ALPN-01 check, closed at once
//
//	GET /rfb    WebSocket (binary subprotocol or none, websockify's form):
//	            RFB with 5511's admission: VNC Authentication with the
//	            session code, the same throttle, audit and supporter-first
//	            wait. The desk names the supporter (Desk.Identify).
//	GET /agent  WebSocket carrying the agent channel of 5510 with its own
//	            TLS 1.3 inside, pinned as on 5510, so that a proxy that
//	            inspects TLS sees only ciphertext.
//	anything else: the supporter's desk (console, REST API) if one is
//	            set, else 404 (and a line of text at /).
//
// Both WebSockets ping after Config.WebSocketPing of quiet, so that proxies that cut
// quiet connections keep idle sessions. A relayed session over them
// parks like any other: the WebSocket layer keeps no buffer of its own.
// The front's TLS runs over sockConn, so that the relay reads and writes
// several TLS records in one system call.

// ALPN protocol names on the HTTPS front.
const (
	ALPNAgent = "lifebuoy-agent/1"
)

// serveFront accepts connections on the HTTPS front until ctx ends.
func (b *Broker) serveFront(ctx context.Context, l net.Listener) error {
	hl := &connListener{addr: l.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{
		Handler:           b.frontHandler(ctx),
		ReadHeaderTimeout: time.Duration(b.cfg.HandshakeTimeout),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// The TLS handshakes are done here; the server sees *tls.Conn and
	// picks HTTP/2 or HTTP/1.1 from their ALPN.
	srv.TLSConfig = b.frontTLS
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(hl) })
	context.AfterFunc(ctx, func() {
		l.Close()
		hl.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer wg.Wait()
	for {
		c, err := rfb.Accept(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		b.accepted.Add(1)
		b.wg.Go(func() { b.frontConn(ctx, c, hl) })
	}
}

// frontConn runs the TLS handshake and hands the connection to HTTP or
// to the agent channel by its ALPN.
func (b *Broker) frontConn(ctx context.Context, c net.Conn, hl *connListener) {
	addr := remoteAddr(c)
	// The TLS handshake checks no code: it counts against the address's
	// open connections, not the guessing budget.
	leave, ok := b.throttle.Hold(addr)
	if !ok {
		b.metrics.RefusedConns.Add(1)
		c.Close()
		return
	}
	tc := tls.Server(wrapSocket(c), b.frontTLS)
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	err := tc.HandshakeContext(ctx)
	leave()
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		c.Close()
		return
	}
	st := tc.ConnectionState()
	switch st.NegotiatedProtocol {
	case acme.ALPNProto:
		tc.Close() // the CA saw the challenge certificate
		return
	case ALPNAgent:
		if st.Version < tls.VersionTLS13 {
			b.metrics.HandshakeErrors.Add(1)
			tc.Close()
			return
		}
		b.serveAgentTLS(ctx, tc, "alpn")
		return
	}
	tc.SetDeadline(time.Time{})
	if !hl.offer(tc) {
		tc.Close()
	}
}

// frontHandler routes the front's HTTP requests.
func (b *Broker) frontHandler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/rfb", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Upgrade(w, r, wsconn.Options{KeepAlive: time.Duration(b.cfg.WebSocketPing), MaxFrame: maxFrontFrame})
		if err != nil {
			b.metrics.HandshakeErrors.Add(1)
			return
		}
		var who Supporter
		if d := b.desk.Load(); d != nil {
			who, _ = (*d).Identify(r)
		}
		b.wg.Add(1)
		defer b.wg.Done()
		b.serveViewer(ctx, c, viewerFront{port: "wss", tls: true, supporter: who, refuse: refuseRFB})
	})
	mux.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Upgrade(w, r, wsconn.Options{KeepAlive: time.Duration(b.cfg.WebSocketPing), MaxFrame: maxFrontFrame,
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" }})
		if err != nil {
			b.metrics.HandshakeErrors.Add(1)
			return
		}
		b.wg.Add(1)
		defer b.wg.Done()
		b.ServeAgent(ctx, c)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := b.desk.Load(); d != nil {
			(*d).Handler().ServeHTTP(w, r)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("Lifebuoy broker. No web console is set up on this broker.\n"))
	}))
	return securityHeaders(mux)
}

// maxFrontFrame bounds one WebSocket frame from a browser or agent.
// noVNC and the agent send frames of a few KiB; the payload is streamed,
// never held whole, so the bound is against nonsense, not memory.
const maxFrontFrame = 1 << 20

// securityHeaders sets the headers every answer of the front carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

type httpHandler = http.Handler

// redirectHTTPS sends plain-HTTP visitors to the HTTPS front.
func redirectHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use HTTPS", http.StatusBadRequest)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusFound)
	})
}

// connListener hands connections whose TLS handshake is done to the
// HTTP server.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) offer(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
