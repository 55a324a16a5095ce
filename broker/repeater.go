package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
)

// The UltraVNC repeater front (5514), mode II:
//
//	B: "RFB 000.000\n" (at once; version 0.0 marks a repeater)
//	V: 250 bytes: "ID:<code>" padded with NULs
//	the code is spent and the agent asked for a data connection; then the
//	bytes are spliced and the whole RFB protocol, from the agent's own
//	"RFB 003.008\n" on, runs end to end (rfb.Server.ServeConn).
//
// The header has no answer of its own, so a wrong code, a header that is
// not "ID:<code>" (Remmina reads "ID:<code>" as a host and port and sends
// no code: it is pointed to 5511) and a throttled address are refused as
// an RFB server would refuse: "RFB 003.008\n", the viewer's version, and
// no security types with the reason, which every viewer shows. A viewer
// with a supporter-first code whose agent has not come yet waits for it,
// as at UltraVNC's repeater, until the code expires (awaitAgent).
// It gets no in-band keep-alive while it waits: UltraVNC's repeater sends
// "REP 000.000\n" only to waiting servers (winvnc skips it), and the
// UltraVNC viewer, noVNC and libvncclient would all take it for a bad
// server version. The operating system's TCP keep-alives hold the
// waiting connection instead. Agents wait on the agent channel, which
// has its own Ping.

const (
	repeaterGreeting = "RFB 000.000\n"
	repeaterIDLen    = 250
)

// ServeRepeater serves one repeater-mode viewer. It closes c unless a
// session took it.
func (b *Broker) ServeRepeater(ctx context.Context, c net.Conn) {
	addr, g, ok := b.admit(ctx, c, viewerFront{port: "repeater", refuse: refuseRepeater})
	if !ok {
		return
	}
	defer g.done()
	if _, err := io.WriteString(c, repeaterGreeting); err != nil {
		return
	}
	hdr := make([]byte, repeaterIDLen)
	if _, err := io.ReadFull(c, hdr); err != nil {
		b.metrics.HandshakeErrors.Add(1)
		return
	}
	if !b.plainAllowed(addr) {
		// The repeater path is cleartext end to end: the code and the
		// whole session. Like plain VNC Authentication on 5511, it is for
		// the networks the administrator trusts.
		b.audit.Info("repeater viewer refused", "remote", c.RemoteAddr().String(), "reason", "network")
		rfb.RefuseConnection(c, "The repeater port carries the session unencrypted and is open to the help desk's "+
			"own networks only. Connect to port 5511 (with TLS), use the web console, or \"lifebuoy connect\".")
		return
	}
	if !b.cfg.AnonymousViewers {
		// A repeater viewer has no account to show.
		b.audit.Info("anonymous viewer refused", "remote", c.RemoteAddr().String(), "port", "repeater")
		rfb.RefuseConnection(c, capitalize(errSignInFirst.Error())+".")
		return
	}
	code, err := parseRepeaterID(hdr, b.cfg.CodeDigits)
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.guessFailed(ctx, c, addr, "repeater", "")
		rfb.RefuseConnection(c, capitalize(err.Error())+".")
		return
	}
	a, w, err := b.codes.Spend(code)
	if err != nil && b.cluster != nil {
		var peer string
		if b.cluster.dir.Await(ctx, replicaWait, func() (ok bool) {
			_, peer, ok = b.cluster.dir.Home(code, time.Now())
			return ok
		}) {
			// Another node's code: spliced there (peer.go).
			b.throttle.Success(addr)
			g.release()
			c.SetDeadline(time.Time{})
			if b.forwardRepeater(ctx, c, code, peer) {
				g.keep()
			}
			return
		}
	}
	if err != nil {
		b.guessFailed(ctx, c, addr, "repeater", "")
		rfb.RefuseConnection(c, "Wrong, expired or used session code.")
		return
	}
	b.throttle.Success(addr)
	g.release()
	c.SetDeadline(time.Time{})
	if w != nil {
		// The header has no answer: a viewer whose agent does not come
		// sees the connection close.
		if a, err = b.awaitAgent(ctx, c, code, w); err != nil {
			return
		}
	}
	front := viewerFront{port: "repeater"}
	data, sessionID, err := b.pair(ctx, a, code, agentlink.ModeRaw, 0, c.RemoteAddr().String(), front)
	if err != nil {
		return
	}
	b.runSession(ctx, a, sessionID, c, data, front.supporter)
	g.keep()
}

// parseRepeaterID reads "ID:<code>" from the NUL-padded header.
func parseRepeaterID(hdr []byte, digits int) (string, error) {
	if i := bytes.IndexByte(hdr, 0); i >= 0 {
		if bytes.ContainsFunc(hdr[i:], func(r rune) bool { return r != 0 }) {
			return "", fmt.Errorf("repeater header: bytes after the NUL padding")
		}
		hdr = hdr[:i]
	}
	s := string(hdr)
	if len(s) < 3 || !strings.EqualFold(s[:3], "ID:") {
		return "", errors.New("this repeater port takes ID:<session code> (repeater mode II) only; " +
			"with Remmina, or to give the code as a password, connect to port 5511 instead")
	}
	code := NormalizeCode(strings.TrimSpace(s[3:]))
	if !ValidCode(code, digits) {
		return "", fmt.Errorf("the repeater ID must be the %d-digit session code (ID:%s); "+
			"Remmina cannot send one: connect to port 5511 with the code as the password", digits, strings.Repeat("1", digits))
	}
	return code, nil
}

// refuseRepeater refuses a repeater viewer turned away before its
// header: it reads the header first, as the viewer sends it anyway.
func refuseRepeater(c net.Conn, reason string) {
	if _, err := io.WriteString(c, repeaterGreeting); err != nil {
		return
	}
	if _, err := io.ReadFull(c, make([]byte, repeaterIDLen)); err != nil {
		return
	}
	rfb.RefuseConnection(c, reason)
}
