package rfb

import (
	"bufio"
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

// SecurityConfig is what a server offers in the security handshake.
type SecurityConfig struct {
	// Types lists the security types offered, most preferred first. RFB
	// 3.3 clients are offered the first of None and VNCAuth in the list,
	// or refused with a reason when there is neither.
	Types []SecurityType
	// VeNCryptSubtypes lists what is offered inside VeNCrypt.
	VeNCryptSubtypes []VeNCryptSubtype
	// TLSConfig holds the certificate for the X509 subtypes.
	TLSConfig *tls.Config
}

// Handshake is a connection whose ProtocolVersion and security exchange
// are done, waiting for the server's verdict: the caller checks the
// credentials and answers with Accept or Refuse. Until then the client
// waits for its SecurityResult.
type Handshake struct {
	// Conn carries the rest of the session: the TLS connection after
	// VeNCrypt. Bytes read ahead by the handshake are not lost.
	Conn     net.Conn
	Version  Version
	Security SecurityType
	Subtype  VeNCryptSubtype // for VeNCrypt
	// Challenge and Response of VNC Authentication (also inside X509Vnc).
	Challenge, Response []byte
	// Username and Password of VeNCrypt Plain.
	Username, Password string

	r *wireReader
}

// AcceptSecurity runs the server side of the handshake on conn from the
// greeting through the authentication exchange, stopping before the
// SecurityResult. A broker uses it to check a VNC Authentication response
// against many passwords before it decides; Server.ServeConn uses it with
// its own Options.
//
// It does not set deadlines; the caller bounds the time.
func AcceptSecurity(conn net.Conn, cfg SecurityConfig) (*Handshake, error) {
	hs := &Handshake{Conn: conn, r: newHandshakeReader(conn)}
	if err := hs.run(&cfg); err != nil {
		return hs, err
	}
	hs.Conn = &bufferedConn{Conn: hs.Conn, r: hs.r.r}
	return hs, nil
}

// Accept tells the client it is in. RFB 3.3 and 3.7 send no
// SecurityResult after None.
func (hs *Handshake) Accept() error {
	if hs.Security == SecNone && hs.Version != Version38 {
		return nil
	}
	return hs.write(binary.BigEndian.AppendUint32(nil, resultOK))
}

// Refuse sends a failed SecurityResult, with the reason where the
// version has room for one (3.8). The caller closes the connection.
func (hs *Handshake) Refuse(reason string) error {
	msg := binary.BigEndian.AppendUint32(nil, resultFailed)
	if hs.Version == Version38 {
		msg = appendString(msg, reason)
	}
	return hs.write(msg)
}

// CheckVNCAuth reports whether the VNC Authentication response answers
// the challenge for password.
func (hs *Handshake) CheckVNCAuth(password string) bool {
	return hs.Challenge != nil && VNCAuthMatches(hs.Challenge, hs.Response, password)
}

func (hs *Handshake) run(cfg *SecurityConfig) error {
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
	offered := cfg.Types
	if hs.Version == Version33 {
		// 3.3 can only be given None or VNCAuth.
		offered = slices.DeleteFunc(slices.Clone(offered), func(t SecurityType) bool { return t != SecNone && t != SecVNCAuth })
		if len(offered) == 0 {
			return hs.failEarly("this server requires a security type that RFB 3.3 lacks; use a newer viewer")
		}
		hs.Security = offered[0]
		if err := hs.write(binary.BigEndian.AppendUint32(nil, uint32(hs.Security))); err != nil {
			return err
		}
	} else {
		if len(offered) == 0 {
			return hs.failEarly("no security type is available")
		}
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
		hs.Security = SecurityType(t)
		if !slices.Contains(offered, hs.Security) {
			return hs.fail(fmt.Sprintf("security type %d was not offered", t))
		}
	}
	switch hs.Security {
	case SecVNCAuth:
		return hs.vncAuth()
	case SecVeNCrypt:
		return hs.veNCrypt(cfg)
	}
	return nil
}

func (hs *Handshake) vncAuth() error {
	hs.Challenge = make([]byte, vncAuthChallengeLen)
	rand.Read(hs.Challenge)
	if err := hs.write(hs.Challenge); err != nil {
		return err
	}
	resp, err := hs.r.full(vncAuthChallengeLen)
	if err != nil {
		return fmt.Errorf("rfb: reading VNC authentication response: %w", err)
	}
	hs.Response = slices.Clone(resp)
	return nil
}

func (hs *Handshake) veNCrypt(cfg *SecurityConfig) error {
	needTLS := slices.ContainsFunc(cfg.VeNCryptSubtypes, func(st VeNCryptSubtype) bool { return st != VeNCryptVNCAuth })
	if (needTLS && cfg.TLSConfig == nil) || len(cfg.VeNCryptSubtypes) == 0 {
		return errors.New("rfb: VeNCrypt offered without a TLS configuration and subtypes")
	}
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
	msg := []byte{0, byte(len(cfg.VeNCryptSubtypes))}
	for _, st := range cfg.VeNCryptSubtypes {
		msg = binary.BigEndian.AppendUint32(msg, uint32(st))
	}
	if err := hs.write(msg); err != nil {
		return err
	}
	u, err := hs.r.u32()
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt subtype: %w", err)
	}
	hs.Subtype = VeNCryptSubtype(u)
	if !slices.Contains(cfg.VeNCryptSubtypes, hs.Subtype) {
		// The VeNCrypt ack byte: 0 refuses the subtype.
		hs.write([]byte{0})
		return fmt.Errorf("rfb: VeNCrypt subtype %d was not offered", u)
	}
	if hs.Subtype == VeNCryptVNCAuth {
		// No TLS, and so no ack (it follows TLS and X509 subtypes only):
		// the caller offers this only where plain VNC Authentication is
		// allowed.
		return hs.vncAuth()
	}
	if err := hs.write([]byte{1}); err != nil {
		return err
	}
	// Bytes the client sent after the subtype belong to the TLS handshake.
	tc := tls.Server(&bufferedConn{Conn: hs.Conn, r: hs.r.r}, cfg.TLSConfig)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("rfb: VeNCrypt TLS handshake: %w", err)
	}
	hs.Conn = tc
	hs.r = newHandshakeReader(tc)
	switch hs.Subtype {
	case VeNCryptX509Vnc:
		return hs.vncAuth()
	case VeNCryptX509Plain:
		return hs.plainAuth()
	}
	return nil
}

// maxPlainField bounds VeNCrypt Plain user names and passwords.
const maxPlainField = 1024

func (hs *Handshake) plainAuth() error {
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
	hs.Username, hs.Password = string(b[:ulen]), string(b[ulen:])
	return nil
}

// fail refuses the client and returns an error for the caller.
func (hs *Handshake) fail(reason string) error {
	hs.Refuse(reason)
	return fmt.Errorf("rfb: handshake failed: %s", reason)
}

// failEarly refuses the connection in the security-type message, the one
// place where 3.3 (U32 0) and 3.7+ (count 0) carry a reason.
func (hs *Handshake) failEarly(reason string) error {
	var msg []byte
	if hs.Version == Version33 {
		msg = binary.BigEndian.AppendUint32(nil, 0)
	} else {
		msg = []byte{0}
	}
	hs.write(appendString(msg, reason))
	return fmt.Errorf("rfb: handshake refused: %s", reason)
}

func (hs *Handshake) write(b []byte) error {
	_, err := hs.Conn.Write(b)
	return err
}

// bufferedConn is a net.Conn whose reads drain a bufio.Reader first, so
// bytes read ahead during the handshake reach whoever reads next.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil // drained: a relaying broker need not keep it
	}
	return c.Conn.Read(p)
}

// NetConn is the connection under the buffer, for a caller that waits on
// its socket (a relay parking an idle connection). Bytes still buffered
// are not in it: such a caller reads until a read would block first.
func (c *bufferedConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection when it can (TCP, TLS), so a
// relay can pass a half-close on.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// newHandshakeReader buffers little: handshake messages are a few bytes,
// larger reads bypass the buffer, and a broker keeps the connection (and
// so the buffer) for the whole session.
func newHandshakeReader(c net.Conn) *wireReader {
	return &wireReader{r: bufio.NewReaderSize(c, 256)}
}

// appendString appends a U32 length and s.
func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}
