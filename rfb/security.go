package rfb

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
)

// SecurityType is an RFB security type number.
type SecurityType uint8

// Security types this module implements.
const (
	SecInvalid  SecurityType = 0
	SecNone     SecurityType = 1
	SecVNCAuth  SecurityType = 2
	SecVeNCrypt SecurityType = 19
)

func (t SecurityType) String() string {
	switch t {
	case SecInvalid:
		return "Invalid"
	case SecNone:
		return "None"
	case SecVNCAuth:
		return "VNCAuth"
	case SecVeNCrypt:
		return "VeNCrypt"
	}
	return fmt.Sprintf("SecurityType(%d)", uint8(t))
}

// VeNCryptSubtype is a VeNCrypt sub-authentication (a U32 on the wire).
type VeNCryptSubtype uint32

// VeNCrypt subtypes with a verified certificate, and VeNCryptVNCAuth,
// VNC Authentication inside VeNCrypt without TLS, for viewers that take
// VeNCrypt from a server's list but cannot do its TLS (noVNC picks the
// first type it knows in the server's order, and knows VeNCrypt but no
// TLS subtype). The anonymous "TLS*" subtypes need anonymous
// Diffie-Hellman, which crypto/tls lacks.
const (
	VeNCryptVNCAuth   VeNCryptSubtype = 2
	VeNCryptPlain     VeNCryptSubtype = 256
	VeNCryptX509None  VeNCryptSubtype = 260
	VeNCryptX509Vnc   VeNCryptSubtype = 261
	VeNCryptX509Plain VeNCryptSubtype = 262
)

func (s VeNCryptSubtype) String() string {
	switch s {
	case VeNCryptVNCAuth:
		return "VncAuth"
	case VeNCryptPlain:
		return "Plain"
	case VeNCryptX509None:
		return "X509None"
	case VeNCryptX509Vnc:
		return "X509Vnc"
	case VeNCryptX509Plain:
		return "X509Plain"
	}
	return fmt.Sprintf("VeNCryptSubtype(%d)", uint32(s))
}

// SecurityResult values.
const (
	resultOK     = 0
	resultFailed = 1
)

const vncAuthChallengeLen = 16

// VNCAuthResponse computes the 16-byte response to a VNC Authentication
// challenge: each half of the challenge DES-encrypted with the password,
// truncated or zero-padded to 8 bytes, as key. VNC feeds each key byte to
// DES with its bits reversed.
func VNCAuthResponse(challenge []byte, password string) []byte {
	block := NewVNCAuthKey(password).block
	out := make([]byte, vncAuthChallengeLen)
	block.Encrypt(out[:8], challenge[:8])
	block.Encrypt(out[8:], challenge[8:16])
	return out
}

// VNCAuthMatches reports, in constant time, whether response answers
// challenge for password.
func VNCAuthMatches(challenge, response []byte, password string) bool {
	return NewVNCAuthKey(password).Matches(challenge, response)
}

// VNCAuthKey is a password's DES key schedule, made once, for a server
// that checks many responses against it (a broker trying every live
// code): the schedule is most of the cost of one check.
type VNCAuthKey struct{ block cipher.Block }

// NewVNCAuthKey makes password's key (its first 8 bytes, as VNC
// Authentication uses).
func NewVNCAuthKey(password string) *VNCAuthKey {
	var key [8]byte
	copy(key[:], password)
	for i, b := range key {
		key[i] = reverseBits(b)
	}
	block, err := des.NewCipher(key[:])
	if err != nil {
		panic(err) // unreachable: the key is always 8 bytes
	}
	return &VNCAuthKey{block}
}

// Matches reports, in constant time, whether response is the password's
// answer to challenge.
func (k *VNCAuthKey) Matches(challenge, response []byte) bool {
	if len(challenge) != vncAuthChallengeLen || len(response) != vncAuthChallengeLen {
		return false
	}
	var want [vncAuthChallengeLen]byte
	k.block.Encrypt(want[:8], challenge[:8])
	k.block.Encrypt(want[8:], challenge[8:16])
	return subtle.ConstantTimeCompare(want[:], response) == 1
}

func reverseBits(b byte) byte {
	b = b>>4 | b<<4
	b = (b&0xcc)>>2 | (b&0x33)<<2
	return (b&0xaa)>>1 | (b&0x55)<<1
}
