package rfb

import (
	"fmt"
	"time"
)

// Client-to-server messages. After ServerInit the client sends these at any
// time; each starts with a U8 type and has no generic length, so every type
// the server accepts is parsed in full (see msg_*.go for each layout):
//
//	  0 SetPixelFormat            20 bytes
//	  2 SetEncodings              4 + 4n bytes
//	  3 FramebufferUpdateRequest  10 bytes
//	  4 KeyEvent                  8 bytes
//	  5 PointerEvent              6 bytes
//	  6 ClientCutText             8 + n bytes
//	150 EnableContinuousUpdates   10 bytes
//	248 ClientFence               9 + n bytes (n <= 64)
//	251 SetDesktopSize            8 + 16n bytes
//	255 QEMU (subtype 0 ExtendedKeyEvent) 12 bytes
//
// UltraVNC viewers also send SetScale (8), SetServerInput (9), SetSW (10)
// and KeepAlive (13) unasked; they are read by size and ignored.

// ClientMessageType is the first byte of a client-to-server message.
type ClientMessageType uint8

// Client message types.
const (
	MsgSetPixelFormat           ClientMessageType = 0
	MsgSetEncodings             ClientMessageType = 2
	MsgFramebufferUpdateRequest ClientMessageType = 3
	MsgKeyEvent                 ClientMessageType = 4
	MsgPointerEvent             ClientMessageType = 5
	MsgClientCutText            ClientMessageType = 6
	MsgEnableContinuousUpdates  ClientMessageType = 150
	MsgClientFence              ClientMessageType = 248
	MsgSetDesktopSize           ClientMessageType = 251
	MsgQEMU                     ClientMessageType = 255
)

func (t ClientMessageType) String() string {
	switch t {
	case MsgSetPixelFormat:
		return "SetPixelFormat"
	case MsgSetEncodings:
		return "SetEncodings"
	case MsgFramebufferUpdateRequest:
		return "FramebufferUpdateRequest"
	case MsgKeyEvent:
		return "KeyEvent"
	case MsgPointerEvent:
		return "PointerEvent"
	case MsgClientCutText:
		return "ClientCutText"
	case MsgEnableContinuousUpdates:
		return "EnableContinuousUpdates"
	case MsgClientFence:
		return "ClientFence"
	case MsgSetDesktopSize:
		return "SetDesktopSize"
	case MsgQEMU:
		return "QEMU"
	}
	return fmt.Sprintf("ClientMessageType(%d)", uint8(t))
}

// ClientMessage is one of the messages a client sends after initialisation.
// The set is closed: *SetPixelFormat, *SetEncodings,
// *FramebufferUpdateRequest, *KeyEvent, *PointerEvent, *ClientCutText,
// *ExtendedClipboard (ClientCutText's extended form),
// *EnableContinuousUpdates, *ClientFence, *SetDesktopSize,
// *QEMUExtendedKeyEvent and *ignoredMessage.
type ClientMessage interface {
	// appendTo appends the message's wire form.
	appendTo(b []byte) []byte
}

// Limits bound what a peer can make the server read, hold or wait for.
// Zero fields take the defaults in DefaultLimits.
type Limits struct {
	// MaxCutText is the longest clipboard text accepted: a ClientCutText's
	// length, and an Extended Clipboard text's size once decompressed
	// (TigerVNC takes 256 KiB). Longer texts are read and dropped up to
	// MaxCutTextDiscard; beyond that the connection is closed.
	MaxCutText        int
	MaxCutTextDiscard int
	// MaxEncodings is the largest SetEncodings count accepted.
	MaxEncodings int
	// HandshakeTimeout bounds everything up to and including ClientInit.
	HandshakeTimeout time.Duration
	// WriteTimeout is how long a write may make no progress; a client
	// that stops reading is dropped after it.
	WriteTimeout time.Duration
}

// DefaultLimits are used for zero Limits fields.
var DefaultLimits = Limits{
	MaxCutText:        1 << 20,
	MaxCutTextDiscard: 64 << 20,
	MaxEncodings:      1024,
	HandshakeTimeout:  10 * time.Second,
	WriteTimeout:      30 * time.Second,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxCutText > 0 {
		d.MaxCutText = l.MaxCutText
	}
	if l.MaxCutTextDiscard > 0 {
		d.MaxCutTextDiscard = l.MaxCutTextDiscard
	}
	if l.MaxEncodings > 0 {
		d.MaxEncodings = l.MaxEncodings
	}
	if l.HandshakeTimeout > 0 {
		d.HandshakeTimeout = l.HandshakeTimeout
	}
	if l.WriteTimeout > 0 {
		d.WriteTimeout = l.WriteTimeout
	}
	return d
}

// A ProtocolError is a peer's violation of the protocol. The connection it
// came on must be closed.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "rfb: protocol error: " + e.Msg }

func protoErrorf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

type clientParser func(r *wireReader, l *Limits) (ClientMessage, error)

// clientParsers is indexed by message type; nil entries are unknown types.
var clientParsers = [256]clientParser{
	MsgSetPixelFormat:           parseSetPixelFormat,
	MsgSetEncodings:             parseSetEncodings,
	MsgFramebufferUpdateRequest: parseFramebufferUpdateRequest,
	MsgKeyEvent:                 parseKeyEvent,
	MsgPointerEvent:             parsePointerEvent,
	MsgClientCutText:            parseClientCutText,
	MsgEnableContinuousUpdates:  parseEnableContinuousUpdates,
	MsgClientFence:              parseClientFence,
	MsgSetDesktopSize:           parseSetDesktopSize,
	MsgQEMU:                     parseQEMU,
	8:                           ignoreFixed(8, 3),  // UltraVNC SetScale
	9:                           ignoreFixed(9, 3),  // UltraVNC SetServerInput
	10:                          ignoreFixed(10, 5), // UltraVNC SetSW
	13:                          ignoreFixed(13, 0), // UltraVNC KeepAlive
}

// readClientMessage reads one client message.
func readClientMessage(r *wireReader, l *Limits) (ClientMessage, error) {
	t, err := r.r.ReadByte()
	if err != nil {
		return nil, err // a clean EOF between messages is a normal close
	}
	p := clientParsers[t]
	if p == nil {
		return nil, protoErrorf("unknown client message type %d", t)
	}
	return p(r, l)
}

// ignoredMessage is a message that is parsed by size and dropped.
type ignoredMessage struct {
	Type ClientMessageType
	body []byte
}

func (m *ignoredMessage) appendTo(b []byte) []byte {
	return append(append(b, byte(m.Type)), m.body...)
}

func ignoreFixed(t ClientMessageType, n int) clientParser {
	return func(r *wireReader, _ *Limits) (ClientMessage, error) {
		b, err := r.full(n)
		if err != nil {
			return nil, err
		}
		return &ignoredMessage{Type: t, body: append([]byte(nil), b...)}, nil
	}
}
