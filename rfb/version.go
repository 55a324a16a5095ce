package rfb

import (
	"errors"
	"fmt"
)

// Version is a negotiated RFB protocol version.
type Version uint8

// The published protocol versions.
const (
	Version33 Version = 33
	Version37 Version = 37
	Version38 Version = 38
)

const versionMsgLen = 12

func (v Version) String() string { return fmt.Sprintf("3.%d", v%10) }

// message is the 12-byte ProtocolVersion message "RFB 003.00x\n".
func (v Version) message() []byte { return fmt.Appendf(nil, "RFB 003.%03d\n", v%10) }

var errVersion = errors.New("rfb: bad ProtocolVersion message")

// parseVersion reads "RFB xxx.yyy\n". It returns the raw numbers so callers
// can apply their own fallback rules.
func parseVersion(b []byte) (major, minor int, err error) {
	if len(b) != versionMsgLen || string(b[:4]) != "RFB " || b[7] != '.' || b[11] != '\n' {
		return 0, 0, fmt.Errorf("%w %q", errVersion, b)
	}
	for _, c := range b[4:7] {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("%w %q", errVersion, b)
		}
		major = major*10 + int(c-'0')
	}
	for _, c := range b[8:11] {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("%w %q", errVersion, b)
		}
		minor = minor*10 + int(c-'0')
	}
	return major, minor, nil
}

// serverVersionFor maps a client's answer to the version a 3.8 server
// speaks with it: 3.8 and later minors are 3.8, 3.7 is 3.7, and every other
// 3.x (3.3, the unofficial 3.5, 3.4/3.6 of UltraVNC, ...) is 3.3, as the
// protocol requires.
func serverVersionFor(major, minor int) (Version, error) {
	if major != 3 {
		return 0, fmt.Errorf("rfb: unsupported protocol version %d.%d", major, minor)
	}
	switch {
	case minor >= 8:
		return Version38, nil
	case minor == 7:
		return Version37, nil
	default:
		return Version33, nil
	}
}
