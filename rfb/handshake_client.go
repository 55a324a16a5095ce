package rfb

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
)

// The handshake, as the client runs it (the server's view is in
// handshake_server.go):
//
//	S: ProtocolVersion "RFB 003.xxx\n". 3.8 and later (3.889 from Apple,
//	   4.x from RealVNC) mean 3.8, 3.7 means 3.7, other 3.x mean 3.3;
//	   anything before 3.3 is refused.
//	C: ProtocolVersion: the lower of the server's and MaxVersion
//	3.7+: S: U8 n, n × U8 types (n = 0: U32 length + reason, then close)
//	      C: U8 type: the first of the client's preference the server has
//	3.3:  S: U32 type, chosen by the server (0: U32 length + reason)
//	      [the type's exchange:]
//	      None: nothing
//	      VNCAuth: S: 16-byte challenge, C: 16-byte DES response
//	      VeNCrypt: S: U8 0, U8 2   C: U8 0, U8 2   S: U8 0 (accepted)
//	                S: U8 n, n × U32 subtypes       C: U32 subtype
//	                S: U8 1 (go on); a TLS handshake; then, inside TLS,
//	                X509None: nothing; X509Vnc: VNCAuth as above;
//	                X509Plain: C: U32 ulen, U32 plen, username, password
//	S: U32 SecurityResult: 0 OK, else failed (3.8: U32 length + reason).
//	   3.3 and 3.7 send none after None.
//	C: ClientInit: U8 shared-flag
//	S: ServerInit: U16 width, U16 height, PIXEL_FORMAT, U32 length, name

// clientHandshake runs one handshake, straight through.
type clientHandshake struct {
	cfg      *ClientConfig
	limits   ClientLimits
	log      *slog.Logger
	conn     net.Conn // becomes the TLS connection inside VeNCrypt
	r        *wireReader
	security []SecurityType
	subtypes []VeNCryptSubtype
	maxV     Version

	version Version
	secType SecurityType

	// ServerInit
	width, height int
	pf            PixelFormat
	name          string
}

// newClientHandshake checks cfg and resolves its defaults.
func newClientHandshake(conn net.Conn, cfg *ClientConfig) (*clientHandshake, error) {
	hs := &clientHandshake{cfg: cfg, limits: cfg.Limits.withDefaults(), log: cfg.Logger,
		conn: conn, r: newWireReader(conn), maxV: cfg.MaxVersion}
	if hs.log == nil {
		hs.log = slog.New(slog.DiscardHandler)
	}
	switch hs.maxV {
	case 0:
		hs.maxV = Version38
	case Version33, Version37, Version38:
	default:
		return nil, fmt.Errorf("rfb: ClientConfig.MaxVersion %d is not 33, 37 or 38", cfg.MaxVersion)
	}
	hs.security = cfg.Security
	if len(hs.security) == 0 {
		if cfg.TLSConfig != nil {
			hs.security = append(hs.security, SecVeNCrypt)
		}
		if cfg.Password != "" {
			hs.security = append(hs.security, SecVNCAuth)
		}
		hs.security = append(hs.security, SecNone)
	}
	for _, t := range hs.security {
		switch t {
		case SecNone, SecVNCAuth:
		case SecVeNCrypt:
			if cfg.TLSConfig == nil && !slices.Equal(cfg.VeNCryptSubtypes, []VeNCryptSubtype{VeNCryptVNCAuth}) {
				return nil, fmt.Errorf("rfb: ClientConfig lists VeNCrypt without a TLSConfig")
			}
		default:
			return nil, fmt.Errorf("rfb: ClientConfig lists security type %v, which the client lacks", t)
		}
	}
	hs.subtypes = cfg.VeNCryptSubtypes
	if len(hs.subtypes) == 0 {
		if cfg.Username != "" {
			hs.subtypes = append(hs.subtypes, VeNCryptX509Plain)
		}
		if cfg.Password != "" {
			hs.subtypes = append(hs.subtypes, VeNCryptX509Vnc)
		}
		hs.subtypes = append(hs.subtypes, VeNCryptX509None)
	}
	for _, st := range hs.subtypes {
		switch st {
		case VeNCryptX509None, VeNCryptX509Vnc, VeNCryptX509Plain, VeNCryptVNCAuth:
		default:
			return nil, fmt.Errorf("rfb: ClientConfig lists VeNCrypt subtype %v, which the client lacks", st)
		}
	}
	return hs, nil
}

func (hs *clientHandshake) run(ctx context.Context) error {
	b, err := hs.r.full(versionMsgLen)
	if err != nil {
		return fmt.Errorf("rfb: reading server version: %w", err)
	}
	major, minor, err := parseVersion(b)
	if err != nil {
		return err
	}
	sv, err := clientVersionFor(major, minor)
	if err != nil {
		return err
	}
	hs.version = min(sv, hs.maxV)
	if err := hs.write(hs.version.message()); err != nil {
		return err
	}
	if err := hs.negotiateSecurity(ctx); err != nil {
		return err
	}
	if err := hs.securityResult(); err != nil {
		return err
	}
	if err := hs.write([]byte{boolByte(!hs.cfg.Exclusive)}); err != nil {
		return err
	}
	return hs.serverInit()
}

// clientVersionFor maps the server's version to the one the client
// speaks with it, as viewers do.
func clientVersionFor(major, minor int) (Version, error) {
	switch {
	case major < 3 || major == 3 && minor < 3:
		return 0, fmt.Errorf("rfb: server speaks protocol version %d.%d, older than 3.3", major, minor)
	case major > 3 || minor >= 8:
		return Version38, nil
	case minor == 7:
		return Version37, nil
	}
	return Version33, nil
}

func (hs *clientHandshake) negotiateSecurity(ctx context.Context) error {
	if hs.version == Version33 {
		t, err := hs.r.u32()
		if err != nil {
			return fmt.Errorf("rfb: reading security type: %w", err)
		}
		if t == uint32(SecInvalid) {
			return hs.refused()
		}
		if t != uint32(SecNone) && t != uint32(SecVNCAuth) {
			return protoErrorf("security type %d is not valid in RFB 3.3", t)
		}
		if !slices.Contains(hs.security, SecurityType(t)) {
			return fmt.Errorf("rfb: server requires security type %v, which the client does not accept", SecurityType(t))
		}
		hs.secType = SecurityType(t)
	} else {
		n, err := hs.r.u8()
		if err != nil {
			return fmt.Errorf("rfb: reading security types: %w", err)
		}
		if n == 0 {
			return hs.refused()
		}
		b, err := hs.r.full(int(n))
		if err != nil {
			return fmt.Errorf("rfb: reading security types: %w", err)
		}
		i := slices.IndexFunc(hs.security, func(t SecurityType) bool { return slices.Contains(b, byte(t)) })
		if i < 0 {
			return fmt.Errorf("rfb: no common security type: server offers %v, client accepts %v", securityTypes(b), hs.security)
		}
		hs.secType = hs.security[i]
		if err := hs.write([]byte{byte(hs.secType)}); err != nil {
			return err
		}
	}
	switch hs.secType {
	case SecVNCAuth:
		return hs.vncAuth()
	case SecVeNCrypt:
		return hs.veNCrypt(ctx)
	}
	return nil
}

func securityTypes(b []byte) []SecurityType {
	t := make([]SecurityType, len(b))
	for i, v := range b {
		t[i] = SecurityType(v)
	}
	return t
}

// refused reads the reason that follows a refusal in the security step.
func (hs *clientHandshake) refused() error {
	reason, err := hs.reason()
	if err != nil {
		return fmt.Errorf("rfb: server refused the connection; reading its reason: %w", err)
	}
	return &RefusedError{Reason: reason}
}

// reason reads a U32 length and a failure reason.
func (hs *clientHandshake) reason() (string, error) {
	n, err := hs.r.u32()
	if err != nil {
		return "", err
	}
	if int64(n) > int64(hs.limits.MaxReason) {
		return "", protoErrorf("reason of %d bytes exceeds limit %d", n, hs.limits.MaxReason)
	}
	b, err := hs.r.full(int(n))
	if err != nil {
		return "", err
	}
	return decodeText(b), nil
}

func (hs *clientHandshake) vncAuth() error {
	challenge, err := hs.r.full(vncAuthChallengeLen)
	if err != nil {
		return fmt.Errorf("rfb: reading VNC authentication challenge: %w", err)
	}
	return hs.write(VNCAuthResponse(challenge, hs.cfg.Password))
}

func (hs *clientHandshake) veNCrypt(ctx context.Context) error {
	v, err := hs.r.full(2)
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt version: %w", err)
	}
	if v[0] != 0 || v[1] < 2 {
		return fmt.Errorf("rfb: server speaks VeNCrypt %d.%d, the client needs 0.2", v[0], v[1])
	}
	if err := hs.write([]byte{0, 2}); err != nil {
		return err
	}
	ack, err := hs.r.u8()
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt version ack: %w", err)
	}
	if ack != 0 {
		return fmt.Errorf("rfb: server refused VeNCrypt 0.2")
	}
	n, err := hs.r.u8()
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt subtypes: %w", err)
	}
	b, err := hs.r.full(4 * int(n))
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt subtypes: %w", err)
	}
	offered := make([]VeNCryptSubtype, n)
	for i := range offered {
		offered[i] = VeNCryptSubtype(binary.BigEndian.Uint32(b[4*i:]))
	}
	i := slices.IndexFunc(hs.subtypes, func(st VeNCryptSubtype) bool { return slices.Contains(offered, st) })
	if i < 0 {
		return fmt.Errorf("rfb: no common VeNCrypt subtype: server offers %v, client accepts %v", offered, hs.subtypes)
	}
	sub := hs.subtypes[i]
	if err := hs.write(binary.BigEndian.AppendUint32(nil, uint32(sub))); err != nil {
		return err
	}
	if sub == VeNCryptVNCAuth {
		return hs.vncAuth() // not a TLS subtype: no ack
	}
	ack, err = hs.r.u8()
	if err != nil {
		return fmt.Errorf("rfb: reading VeNCrypt subtype ack: %w", err)
	}
	if ack != 1 {
		return fmt.Errorf("rfb: server refused VeNCrypt subtype %v", sub)
	}
	if hs.r.r.Buffered() > 0 {
		return protoErrorf("server sent data before the TLS handshake")
	}
	tc := tls.Client(hs.conn, hs.cfg.TLSConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("rfb: VeNCrypt TLS handshake: %w", err)
	}
	hs.conn = tc
	hs.r = newWireReader(tc)
	switch sub {
	case VeNCryptX509Vnc:
		return hs.vncAuth()
	case VeNCryptX509Plain:
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(hs.cfg.Username)))
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(hs.cfg.Password)))
		msg = append(append(msg, hs.cfg.Username...), hs.cfg.Password...)
		return hs.write(msg)
	}
	return nil
}

func (hs *clientHandshake) securityResult() error {
	if hs.secType == SecNone && hs.version != Version38 {
		return nil
	}
	res, err := hs.r.u32()
	if err != nil {
		return fmt.Errorf("rfb: reading SecurityResult: %w", err)
	}
	if res == resultOK {
		return nil
	}
	if hs.version != Version38 {
		return &AuthError{}
	}
	reason, err := hs.reason()
	if err != nil {
		return fmt.Errorf("rfb: authentication failed; reading the reason: %w", err)
	}
	return &AuthError{Reason: reason}
}

func (hs *clientHandshake) serverInit() error {
	b, err := hs.r.full(24)
	if err != nil {
		return fmt.Errorf("rfb: reading ServerInit: %w", err)
	}
	hs.width, hs.height = int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	hs.pf = parsePixelFormat(b[4:])
	n := binary.BigEndian.Uint32(b[20:])
	if err := hs.limits.checkSize(hs.width, hs.height); err != nil {
		return err
	}
	if err := hs.pf.Validate(); err != nil {
		return protoErrorf("ServerInit pixel format %v: %v", hs.pf, err)
	}
	if int64(n) > int64(hs.limits.MaxDesktopName) {
		return protoErrorf("desktop name of %d bytes exceeds limit %d", n, hs.limits.MaxDesktopName)
	}
	b, err = hs.r.full(int(n))
	if err != nil {
		return fmt.Errorf("rfb: reading desktop name: %w", err)
	}
	hs.name = decodeText(b)
	return nil
}

func (hs *clientHandshake) write(b []byte) error {
	if _, err := hs.conn.Write(b); err != nil {
		return fmt.Errorf("rfb: handshake: %w", err)
	}
	return nil
}
