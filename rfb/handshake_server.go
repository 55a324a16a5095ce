package rfb

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
)

// The handshake, as the server runs it:
//
//	S: ProtocolVersion "RFB 003.008\n" (at once on accept)
//	C: ProtocolVersion (3.3, 3.7, 3.8; other 3.x fall back to 3.3)
//	3.7+: S: U8 n, n × U8 security types   C: U8 chosen type
//	3.3:  S: U32 security type (0 = failure + reason, 1 None, 2 VNCAuth)
//	      [security-type specific exchange, see below]
//	S: U32 SecurityResult (0 OK, 1 failed; 3.8 adds U32 length + reason;
//	   3.3 and 3.7 skip it after None)
//	C: ClientInit: U8 shared-flag
//	S: ServerInit: U16 width, U16 height, PIXEL_FORMAT, U32 length, name
//
// VNC Authentication: S: 16-byte challenge, C: 16-byte DES response.
//
// VeNCrypt (type 19):
//
//	S: U8 0, U8 2 (version 0.2)     C: U8 0, U8 2
//	S: U8 0 (version accepted)
//	S: U8 n, n × U32 subtypes       C: U32 subtype
//	S: U8 1 (go on), then a TLS handshake; everything after is inside TLS:
//	   X509Vnc: VNC Authentication; X509Plain: C: U32 ulen, U32 plen,
//	   username, password; X509None: nothing.

// serverHandshake runs one connection's handshake, straight through.
type serverHandshake struct {
	s       *Server
	conn    net.Conn
	r       *wireReader
	version Version
	secType SecurityType
	// what the client authenticated as, for logs
	user string
}

// errAuthFailed is returned when a client's credentials are wrong.
var errAuthFailed = errors.New("rfb: authentication failed")

func (hs *serverHandshake) run() error {
	if _, err := hs.conn.Write(Version38.message()); err != nil {
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
	if hs.version, err = serverVersionFor(major, minor); err != nil {
		return err
	}
	if err := hs.negotiateSecurity(); err != nil {
		return err
	}
	return nil
}

// offered is the list of security types this connection may choose from.
func (hs *serverHandshake) offered() []SecurityType {
	o := hs.s.securityTypes()
	if hs.version == Version33 {
		// 3.3 can only be given None or VNCAuth.
		o = slices.DeleteFunc(slices.Clone(o), func(t SecurityType) bool { return t != SecNone && t != SecVNCAuth })
	}
	return o
}

func (hs *serverHandshake) negotiateSecurity() error {
	offered := hs.offered()
	if hs.version == Version33 {
		if len(offered) == 0 {
			return hs.failEarly("this server requires a security type that RFB 3.3 lacks; use a newer viewer")
		}
		hs.secType = offered[0]
		if err := hs.write(binary.BigEndian.AppendUint32(nil, uint32(hs.secType))); err != nil {
			return err
		}
	} else {
		msg := []byte{byte(len(offered))}
		for _, t := range offered {
			msg = append(msg, byte(t))
		}
		if err := hs.write(msg); err != nil {
			return err
		}
		t, err := hs.r.u8()
		if err != nil {
			return fmt.Errorf("rfb: reading security type: %w", err)
		}
		hs.secType = SecurityType(t)
		if !slices.Contains(offered, hs.secType) {
			return hs.fail(fmt.Sprintf("security type %d was not offered", t))
		}
	}
	switch hs.secType {
	case SecNone:
		if hs.version != Version38 {
			return nil // 3.3 and 3.7 send no SecurityResult after None
		}
	case SecVNCAuth:
		if err := hs.vncAuth(); err != nil {
			return err
		}
	case SecVeNCrypt:
		if err := hs.veNCrypt(); err != nil {
			return err
		}
	}
	return hs.write(binary.BigEndian.AppendUint32(nil, resultOK))
}

func (hs *serverHandshake) vncAuth() error {
	challenge := make([]byte, vncAuthChallengeLen)
	rand.Read(challenge)
	if err := hs.write(challenge); err != nil {
		return err
	}
	resp, err := hs.r.full(vncAuthChallengeLen)
	if err != nil {
		return fmt.Errorf("rfb: reading VNC authentication response: %w", err)
	}
	if !VNCAuthMatches(challenge, resp, hs.s.opts.Password) {
		return hs.fail("authentication failed")
	}
	return nil
}

func (hs *serverHandshake) veNCrypt() error {
	if err := hs.write([]byte{0, 2}); err != nil {
		return err
	}
	v, err := hs.r.full(2)
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt version: %w", err)
	}
	if v[0] != 0 || v[1] != 2 {
		hs.write([]byte{1})
		return fmt.Errorf("rfb: unsupported VeNCrypt version %d.%d", v[0], v[1])
	}
	subtypes := hs.s.veNCryptSubtypes()
	msg := []byte{0, byte(len(subtypes))}
	for _, st := range subtypes {
		msg = binary.BigEndian.AppendUint32(msg, uint32(st))
	}
	if err := hs.write(msg); err != nil {
		return err
	}
	u, err := hs.r.u32()
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt subtype: %w", err)
	}
	sub := VeNCryptSubtype(u)
	if !slices.Contains(subtypes, sub) {
		// The VeNCrypt ack byte: 0 refuses the subtype.
		hs.write([]byte{0})
		return fmt.Errorf("rfb: VeNCrypt subtype %d was not offered", u)
	}
	if err := hs.write([]byte{1}); err != nil {
		return err
	}
	tc := tls.Server(hs.conn, hs.s.opts.TLSConfig)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("rfb: VeNCrypt TLS handshake: %w", err)
	}
	hs.conn = tc
	hs.r = newWireReader(tc)
	switch sub {
	case VeNCryptX509Vnc:
		return hs.vncAuth()
	case VeNCryptX509Plain:
		return hs.plainAuth()
	}
	return nil
}

// maxPlainField bounds VeNCrypt Plain user names and passwords.
const maxPlainField = 1024

func (hs *serverHandshake) plainAuth() error {
	b, err := hs.r.full(8)
	if err != nil {
		return fmt.Errorf("rfb: reading Plain credentials: %w", err)
	}
	ulen, plen := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if ulen > maxPlainField || plen > maxPlainField {
		return hs.fail("credentials too long")
	}
	b, err = hs.r.full(int(ulen + plen))
	if err != nil {
		return fmt.Errorf("rfb: reading Plain credentials: %w", err)
	}
	user, pass := string(b[:ulen]), string(b[ulen:])
	if hs.s.opts.PlainAuth == nil || !hs.s.opts.PlainAuth(user, pass) {
		return hs.fail("authentication failed")
	}
	hs.user = user
	return nil
}

// fail sends a failed SecurityResult, with the reason where the version
// has room for one, and returns an error to close the connection.
func (hs *serverHandshake) fail(reason string) error {
	msg := binary.BigEndian.AppendUint32(nil, resultFailed)
	if hs.version == Version38 {
		msg = appendString(msg, reason)
	}
	hs.write(msg)
	if reason == "authentication failed" {
		return errAuthFailed
	}
	return fmt.Errorf("rfb: handshake failed: %s", reason)
}

// failEarly refuses the connection in the security-type message, the one
// place where 3.3 (U32 0) and 3.7+ (count 0) carry a reason.
func (hs *serverHandshake) failEarly(reason string) error {
	var msg []byte
	if hs.version == Version33 {
		msg = binary.BigEndian.AppendUint32(nil, 0)
	} else {
		msg = []byte{0}
	}
	hs.write(appendString(msg, reason))
	return fmt.Errorf("rfb: handshake refused: %s", reason)
}

func (hs *serverHandshake) write(b []byte) error {
	_, err := hs.conn.Write(b)
	return err
}

// appendString appends a U32 length and s.
func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}
