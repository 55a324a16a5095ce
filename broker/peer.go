package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// The peer port (5516, cluster only). A viewer cannot be redirected (RFB
// has none), so the node that admitted a viewer for another node's code
// splices it to that code's home node, which treats it as a local viewer:
//
//	N: the admitting node, H: the code's home node; inside TLS 1.3 with
//	   both certificates from the cluster's CA, named lifebuoy-cluster
//	N: U16 length (≤ maxPeerHello), JSON peerHello
//	H: spends the code as its own front would; then, once the agent's data
//	   connection is there: "OK\n"; else "NO <reason>\n" and close
//	from here on, bytes are spliced: viewer ↔ N ↔ H ↔ agent
//
// N has already done the viewer's security handshake (it matched a 5511
// response against its replica, or read 5514's ID:), and tells the viewer
// its SecurityResult only after H's answer.
//
// The same hello, with an op and no mode, carries the two requests a node
// makes of another (a node of an earlier version refuses them, as their
// mode is none it knows), each answered by one line before H closes:
//
//	op "end":    N's console ends H's code or session, for supporter and
//	             reason; H: "OK\n", or "NO no such code or session\n"
//	op "rights": H tells the node that forwards code's viewer (N here is
//	             H) the customer's rights (control, files); "OK\n"

// peerHello is what the admitting node tells the home node.
type peerHello struct {
	Code      string         `json:"code"`
	Mode      agentlink.Mode `json:"mode"`
	Version   int            `json:"version,omitempty"` // RFB version agreed with the viewer (ModeAuthenticated)
	Viewer    string         `json:"viewer"`            // the viewer's address, for the audit and the consent prompt
	Port      string         `json:"port"`              // the front the viewer came by ("viewer", "repeater", "wss")
	Security  string         `json:"security,omitempty"`
	Supporter Supporter      `json:"supporter"`
	From      string         `json:"from"` // the admitting node
	// Op is the request ("" to forward a viewer); see above.
	Op      peerOp `json:"op,omitempty"`
	Reason  string `json:"reason,omitempty"` // op "end": told to the customer and the audit
	Control bool   `json:"control,omitempty"`
	Files   bool   `json:"files,omitempty"`
}

// peerOp is what a peer hello asks of its node.
type peerOp string

const (
	peerForward peerOp = ""                // take a viewer (Mode says how)
	peerEnd     peerOp = "end"             // end a code or session of the node
	peerRights  peerOp = "rights"          // a forwarded session's customer's rights changed
	peerRequest peerOp = "request-control" // ask the customer of a session of the node for control
)

func (o peerOp) String() string {
	if o == peerForward {
		return "forward"
	}
	return string(o)
}

const (
	maxPeerHello = 4096
	maxPeerReply = 512
)

func writePeerHello(w io.Writer, h *peerHello) error {
	p, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if len(p) > maxPeerHello {
		return errors.New("peer hello too long")
	}
	buf := binary.BigEndian.AppendUint16(nil, uint16(len(p)))
	_, err = w.Write(append(buf, p...))
	return err
}

func readPeerHello(r io.Reader) (*peerHello, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size > maxPeerHello {
		return nil, fmt.Errorf("peer hello of %d bytes (at most %d)", size, maxPeerHello)
	}
	p := make([]byte, size)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	var h peerHello
	if err := json.Unmarshal(p, &h); err != nil {
		return nil, fmt.Errorf("peer hello: %w", err)
	}
	switch {
	case h.Op == peerForward && (h.Mode == agentlink.ModeAuthenticated || h.Mode == agentlink.ModeRaw):
	case (h.Op == peerEnd || h.Op == peerRights || h.Op == peerRequest) && h.Mode == "":
	case h.Op != peerForward && h.Op != peerEnd && h.Op != peerRights && h.Op != peerRequest:
		return nil, fmt.Errorf("peer hello: op %q", string(h.Op))
	default:
		return nil, fmt.Errorf("peer hello: mode %q for %v", h.Mode, h.Op)
	}
	return &h, nil
}

// readPeerReply reads the home node's answer: nil for OK, else why not.
func readPeerReply(r io.Reader) error {
	line, err := readPeerLine(r)
	if err != nil {
		return fmt.Errorf("the session's node did not answer: %w", err)
	}
	if line == "OK" {
		return nil
	}
	if reason, ok := strings.CutPrefix(line, "NO "); ok {
		return errors.New(reason)
	}
	return errors.New("the session's node answered nonsense")
}

// readPeerLine reads a peer's one-line answer, without its newline.
func readPeerLine(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxPeerReply), 16).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

// ServePeer serves one connection on the peer port: a viewer another node
// admitted for one of this node's codes.
func (b *Broker) ServePeer(ctx context.Context, c net.Conn) {
	if b.cluster == nil {
		c.Close()
		return
	}
	tc := tls.Server(c, b.cluster.serveTLS)
	handoff := false
	defer func() {
		if !handoff {
			tc.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if err := tc.HandshakeContext(ctx); err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.audit.Warn("peer refused", "remote", c.RemoteAddr().String(), "err", err.Error())
		return
	}
	// A peer may make a connection ahead of need (clusterNode.fillReady):
	// its hello comes when a viewer does.
	tc.SetDeadline(time.Now().Add(peerHelloWait))
	h, err := readPeerHello(tc)
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)) {
		// A connection made ahead and not used: closed, or its wait over.
		b.log.Debug("cluster: peer connection closed unused", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.audit.Warn("peer hello", "remote", c.RemoteAddr().String(), "err", err.Error())
		return
	}
	no := func(reason string) {
		tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
		io.WriteString(tc, "NO "+strings.ReplaceAll(reason, "\n", " ")+"\n")
	}
	if h.Op != peerForward {
		tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
		if err := b.servePeerRequest(h); err != nil {
			no(err.Error())
			return
		}
		io.WriteString(tc, "OK\n")
		return
	}
	code := NormalizeCode(h.Code)
	var a *agentConn
	var w *viewerWait
	err = ErrNoCode
	if ValidCode(code, b.cfg.CodeDigits) {
		a, w, err = b.codes.Spend(code)
	}
	if err != nil {
		// The admitting node matched the code in its replica, which was
		// a moment behind: the code paired or ended meanwhile.
		b.audit.Info("forwarded viewer refused", "code", code, "from", h.From, "viewer", h.Viewer, "err", err.Error())
		no("wrong, expired or used session code")
		return
	}
	tc.SetDeadline(time.Time{})
	front := viewerFront{port: h.Port + "@" + h.From, security: h.Security, supporter: h.Supporter}
	if w != nil {
		if a, err = b.awaitAgent(ctx, tc, code, w); err != nil {
			no(err.Error())
			return
		}
	}
	data, sessionID, err := b.pair(ctx, a, code, h.Mode, rfb.Version(h.Version), h.Viewer, front)
	if err != nil {
		no(err.Error())
		return
	}
	tc.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if _, err := io.WriteString(tc, "OK\n"); err != nil {
		data.Close()
		b.codes.End(code)
		a.close()
		return
	}
	tc.SetDeadline(time.Time{})
	b.cluster.peerSessions.Add(1)
	b.runSession(ctx, a, sessionID, &peerConn{Conn: tc, done: func() { b.cluster.peerSessions.Add(-1) }}, data, front.supporter)
	handoff = true
}

// peerConn is a forwarded viewer's connection on the home node; closing
// it counts the peer session out, once.
type peerConn struct {
	*tls.Conn
	once sync.Once
	done func()
}

func (p *peerConn) Close() error {
	p.once.Do(p.done)
	return p.Conn.Close()
}

// forward asks the code's home node, at peerAddr, to take a viewer this
// node admitted, and returns the connection to splice the viewer to once
// the home node has the agent's data connection. It takes a connection
// made ahead (clusterNode.takeReady) when there is one, and then has
// another made for the next forward.
func (b *Broker) forward(ctx context.Context, peerAddr string, h *peerHello) (net.Conn, error) {
	h.From = b.cluster.dir.Node()
	dial := func(ctx context.Context) (*tls.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Duration(b.cfg.HandshakeTimeout)}, Config: b.cluster.peerTLS(peerAddr)}
		ctx, cancel := context.WithTimeout(ctx, time.Duration(b.cfg.HandshakeTimeout))
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", peerAddr)
		if err != nil {
			return nil, err
		}
		return c.(*tls.Conn), nil
	}
	c := b.cluster.takeReady(peerAddr)
	if c == nil {
		var err error
		if c, err = dial(ctx); err != nil {
			b.log.Warn("cluster: peer unreachable", "peer", peerAddr, "err", err)
			return nil, errors.New("the session's broker cannot be reached")
		}
	}
	// The next forward's connection is made once this one has its answer,
	// off its way.
	defer b.cluster.fillReady(ctx, &b.wg, peerAddr, dial)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if err := writePeerHello(c, h); err != nil {
		c.Close()
		return nil, errors.New("the session's broker cannot be reached")
	}
	// The home node may wait for a viewer-first code's agent (until the
	// code expires) and then for the customer's consent.
	c.SetDeadline(time.Now().Add(time.Duration(b.cfg.CodeTTL + b.cfg.ConsentTimeout + b.cfg.HandshakeTimeout)))
	if err := readPeerReply(c); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// splice starts relaying between a viewer and the home node's peer
// connection, and returns: the broker's relay (relay.go) parks each
// direction after a quiet moment, so an idle forwarded session holds no
// goroutine and no copy buffer on this node, as a local one. The home
// node's relay counts the bytes, applies the caps and records the
// session; this node's only ends it when either side closes, on the same
// idle bound, or when the broker stops. The session is counted in b.wg
// until then.
// si is the session as the console lists it here.
func (b *Broker) splice(ctx context.Context, viewer, peer net.Conn, si SessionInfo) {
	cn := b.cluster
	cn.forwarded.Add(1)
	cn.forwardedTotal.Add(1)
	b.spliceStarted(si)
	b.wg.Add(1)
	viewerAddr := viewer.RemoteAddr().String()
	r := &relay{viewer: viewer, agent: peer, idle: time.Duration(b.cfg.IdleTimeout), park: b.parker,
		stall: time.Duration(b.cfg.WriteStall)}
	r.onEnd = func(reason string) {
		cn.forwarded.Add(-1)
		b.spliceEnded(si.Code)
		b.log.Debug("cluster: forwarded session ended", "viewer", viewerAddr, "reason", reason)
		b.wg.Done()
	}
	startRelay(ctx, r)
}

// forwardViewer takes an RFB viewer (5511, or /rfb on the HTTPS front)
// whose VNC Authentication response matched another node's code to that
// node, tells the viewer its SecurityResult by the node's answer, and
// reports whether the session runs (it owns the viewer's connection
// then).
func (b *Broker) forwardViewer(ctx context.Context, hs *viewerHandshake, code string, front viewerFront) bool {
	h := &peerHello{Code: code, Mode: agentlink.ModeAuthenticated, Version: int(hs.h.Version),
		Viewer: hs.conn.RemoteAddr().String(), Port: front.port, Security: front.security, Supporter: front.supporter}
	b.audit.Info("viewer forwarded", "code", code, "viewer", h.Viewer, "peer", hs.forwardTo, "port", front.port)
	si := b.forwardedInfo(code, front.port, h.Viewer, front.supporter)
	peer, err := b.forward(ctx, hs.forwardTo, h)
	hs.conn.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
	if err != nil {
		hs.fail(err.Error())
		return false
	}
	if err := hs.h.Accept(); err != nil {
		peer.Close()
		return false
	}
	hs.conn.SetDeadline(time.Time{})
	b.splice(ctx, hs.conn, peer, si)
	return true
}

// forwardRepeater takes a 5514 viewer whose ID is another node's code to
// that node, and reports whether the session ran (else c was refused).
func (b *Broker) forwardRepeater(ctx context.Context, c net.Conn, code, peerAddr string) bool {
	h := &peerHello{Code: code, Mode: agentlink.ModeRaw, Viewer: c.RemoteAddr().String(), Port: "repeater"}
	b.audit.Info("viewer forwarded", "code", code, "viewer", h.Viewer, "peer", peerAddr, "port", "repeater")
	si := b.forwardedInfo(code, "repeater", h.Viewer, Supporter{})
	peer, err := b.forward(ctx, peerAddr, h)
	if err != nil {
		c.SetDeadline(time.Now().Add(time.Duration(b.cfg.HandshakeTimeout)))
		rfb.RefuseConnection(c, capitalize(err.Error())+".")
		return false
	}
	b.splice(ctx, c, peer, si)
	return true
}
