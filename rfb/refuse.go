package rfb

import (
	"fmt"
	"net"
)

// RefuseConnection greets conn as an RFB server and refuses it at the
// security step with reason, the one step where every protocol version
// has room for one (3.3: U32 0 and a reason; 3.7 and 3.8: no security
// types and a reason). A broker uses it to turn a viewer away in words
// the viewer shows: an address that tried too many codes, or a wrong code
// on a port whose own protocol has no answer. It reads only the client's
// 12-byte version; the caller bounds the time and closes conn.
func RefuseConnection(conn net.Conn, reason string) error {
	hs := &Handshake{Conn: conn, r: newHandshakeReader(conn)}
	if err := hs.write(Version38.message()); err != nil {
		return err
	}
	b, err := hs.r.full(versionMsgLen)
	if err != nil {
		return fmt.Errorf("rfb: reading client version: %w", err)
	}
	major, minor, err := parseVersion(b)
	if err != nil {
		return err
	}
	if hs.Version, err = serverVersionFor(major, minor); err != nil {
		return err
	}
	return hs.failEarly(reason)
}
