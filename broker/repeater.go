package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"lifebuoy/broker/agentlink"
)

// The UltraVNC repeater front (5514), mode II:
//
//	B: "RFB 000.000\n" (at once; version 0.0 marks a repeater)
//	V: 250 bytes: "ID:<code>" padded with NULs
//	the code is spent and the agent asked for a data connection; then the
//	bytes are spliced and the whole RFB protocol, from the agent's own
//	"RFB 003.008\n" on, runs end to end (rfb.Server.ServeConn).
//
// A wrong code just closes the connection: the header has no answer.
// UltraVNC's "REP 000.000\n" keep-alive goes to servers that wait at a
// repeater; agents wait on the agent channel instead, which has its own
// Ping, and a viewer here never waits for an agent, so none is sent.

const (
	repeaterGreeting = "RFB 000.000\n"
	repeaterIDLen    = 250
)

// ServeRepeater serves one repeater-mode viewer. It closes c.
func (b *Broker) ServeRepeater(ctx context.Context, c net.Conn) {
	relaying := false
	defer func() {
		if !relaying {
			c.Close()
		}
	}()
	addr, g, ok := b.admit(ctx, c)
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
	code, err := parseRepeaterID(hdr, b.cfg.CodeDigits)
	if err != nil {
		b.metrics.HandshakeErrors.Add(1)
		b.guessFailed(ctx, c, addr, "repeater", "")
		return
	}
	a, err := b.codes.Spend(code)
	if err != nil {
		b.guessFailed(ctx, c, addr, "repeater", "")
		return
	}
	b.throttle.Success(addr)
	g.release()
	c.SetDeadline(time.Time{})
	data, sessionID, err := b.pair(ctx, a, code, agentlink.ModeRaw, 0, c.RemoteAddr().String())
	if err != nil {
		return
	}
	b.runSession(ctx, a, sessionID, c, data)
	relaying = true
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
		return "", fmt.Errorf("repeater header: not ID:<code> (mode I is not offered)")
	}
	code := NormalizeCode(strings.TrimSpace(s[3:]))
	if !ValidCode(code, digits) {
		return "", fmt.Errorf("repeater header: %q is not a %d-digit code", code, digits)
	}
	return code, nil
}
