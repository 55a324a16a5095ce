package agentlink

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The agent channel on the broker's agent port (5510), inside TLS 1.3.
//
// Every message is one frame:
//
//	U8  type
//	U32 length of the payload (at most MaxPayload; checked before reading)
//	    payload: a JSON object, the message's fields
//
// The control connection, one per agent:
//
//	A: Hello{version, want_code | join_code, name, features}
//	B: Welcome{code, expires_at, resume, broker}  or  Error{reason} and close,
//	   or Redirect{broker} and close: in a cluster of brokers, the code
//	   presented lives on another node, which takes agents at broker
//	   (host:port of its agent port); the agent says the same Hello there.
//	   A Hello with join_code and resume (the token of an earlier Welcome)
//	   takes the agent's code along after its link or its node was lost.
//	either side, when it has sent nothing for KeepAlive: Ping; the other
//	answers Pong. A side that hears nothing for Timeout closes.
//	B: OpenData{session_id, token, mode, version, viewer, supporter}
//	   (a viewer paired; supporter names them if the desk knows them)
//	A: Decline{session_id, reason}  (the customer refused), or dials a new
//	   data connection (below)
//	either side, before the session runs: End{session_id, reason}; the
//	broker then closes the link: the code was spent, and a link carries
//	one session.
//	B: Spliced{session_id} once the data connection is spliced with the
//	   viewer's, and the broker closes the link: from here the session is
//	   its data connection alone, framed (mux.go), which carries beside
//	   the RFB stream what is said about the session:
//	A: Rights{session_id, control, files} at the start and whenever the
//	   customer changes them, for the supporter's console
//	B: Request{session_id, right, supporter} the supporter asks for a
//	   right; the agent asks its customer, who may grant it (Rights)
//	either side: End{session_id, reason} the session was ended (from the
//	   console, or by the customer); closing the data connection ends it
//	   too. (An idle session costs the broker one TLS connection for its
//	   agent, not two.)
//	B: OpenFiles{session_id, files_id, token, supporter} (only to an
//	   agent whose Hello listed the feature "files"): the desk wants a
//	   files connection; the agent dials one as a data connection, with
//	   DataHello{files_id, token}, and it is not framed: it carries what
//	   filewire.go says
//
// A data connection, one per session, is a new TLS connection:
//
//	A: DataHello{session_id, token}
//	then mux frames (mux.go): the RFB stream, which the broker splices
//	with the viewer's connection, and the session's control messages.

// Type is a frame's message type.
type Type uint8

// Message types.
const (
	TypeHello     Type = 1
	TypeWelcome   Type = 2
	TypeError     Type = 3
	TypePing      Type = 4
	TypePong      Type = 5
	TypeOpenData  Type = 6
	TypeDataHello Type = 7
	TypeDecline   Type = 8
	TypeEnd       Type = 9
	TypeSpliced   Type = 10
	TypeRights    Type = 11
	TypeRequest   Type = 12
	TypeOpenFiles Type = 13
	TypeRedirect  Type = 14
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "Hello"
	case TypeWelcome:
		return "Welcome"
	case TypeError:
		return "Error"
	case TypePing:
		return "Ping"
	case TypePong:
		return "Pong"
	case TypeOpenData:
		return "OpenData"
	case TypeDataHello:
		return "DataHello"
	case TypeDecline:
		return "Decline"
	case TypeEnd:
		return "End"
	case TypeSpliced:
		return "Spliced"
	case TypeRights:
		return "Rights"
	case TypeRequest:
		return "Request"
	case TypeOpenFiles:
		return "OpenFiles"
	case TypeRedirect:
		return "Redirect"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ProtocolVersion is the agent channel's version, sent in Hello. Version
// 3 frames a session's data connection (Mux) and carries the control
// messages of a running session there (Rights, Request, End).
const ProtocolVersion = 3

// MaxPayload bounds a frame's payload; a longer frame is a protocol error.
const MaxPayload = 64 << 10

const headerLen = 5

// Message is one of the agent channel's messages: *Hello, *Welcome,
// *Error, *Ping, *Pong, *OpenData, *DataHello, *Decline, *End or
// *Spliced, *Rights, *Request, *OpenFiles or *Redirect.
type Message interface {
	Type() Type
}

// Hello opens a control connection. Exactly one of WantCode and JoinCode
// is set: WantCode asks for a new code (customer first), JoinCode presents
// a code a supporter got (supporter first).
type Hello struct {
	Version  int    `json:"version"`
	WantCode bool   `json:"want_code,omitempty"`
	JoinCode string `json:"join_code,omitempty"`
	Name     string `json:"name,omitempty"`
	// Features lists what the agent can do beyond the version's
	// messages: FeatureFiles.
	Features []string `json:"features,omitempty"`
	// Resume, with JoinCode, is the token of the Welcome that gave the
	// agent JoinCode: the agent lost its link (or its broker) while it
	// waited, and asks to keep its code.
	Resume string `json:"resume,omitempty"`
}

// FeatureFiles: the agent serves files connections (OpenFiles).
const FeatureFiles = "files"

// OpenFiles asks the agent for a files connection for its running
// session: a new data connection whose DataHello carries FilesID as its
// session ID and Token.
type OpenFiles struct {
	SessionID string    `json:"session_id"`
	FilesID   string    `json:"files_id"`
	Token     string    `json:"token"`
	Supporter Supporter `json:"supporter,omitzero"`
}

// Welcome accepts a control connection.
type Welcome struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	// Resume is a secret that lets the agent keep its code on another
	// broker of a cluster should this one go while the agent waits (Hello's
	// Resume); empty where the broker is not in a cluster.
	Resume string `json:"resume,omitempty"`
	// Broker is, in a cluster, this broker's own agent address (host:port):
	// the agent dials its data connections there, not through the name
	// it reached the cluster by, which a load balancer may send to
	// another broker.
	Broker string `json:"broker,omitempty"`
}

// Redirect sends the agent to the broker of the cluster that holds the
// code it presented; the broker closes the connection after it.
type Redirect struct {
	Broker string `json:"broker"` // host:port of that broker's agent port
}

// Error refuses a control connection or tells why the broker closes it.
type Error struct {
	Reason string `json:"reason"`
}

// Ping asks for a Pong; it keeps an idle link alive through middleboxes.
type Ping struct{}

// Pong answers Ping.
type Pong struct{}

// Mode says what a data connection carries.
type Mode string

// Modes of a session.
const (
	// ModeAuthenticated: the broker did the viewer's ProtocolVersion and
	// security steps; the next bytes from the viewer are its ClientInit.
	ModeAuthenticated Mode = "rfb-authenticated"
	// ModeRaw: the whole RFB protocol runs end to end, from the agent's
	// greeting on (the UltraVNC repeater front).
	ModeRaw Mode = "rfb-raw"
)

// OpenData tells the agent that a viewer paired with its code.
type OpenData struct {
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
	Mode      Mode   `json:"mode"`
	// Version is the RFB version negotiated with the viewer (33, 37 or
	// 38) in ModeAuthenticated.
	Version int `json:"version,omitempty"`
	// Viewer is the viewer's address.
	Viewer string `json:"viewer"`
	// Supporter is who the broker's desk says the viewer is; empty for a
	// viewer without an account.
	Supporter Supporter `json:"supporter,omitzero"`
}

// Supporter names a supporter, as the broker's desk knows them.
type Supporter struct {
	Account string `json:"account,omitempty"` // the desk's account (login name); "" for an unidentified viewer
	Name    string `json:"name,omitempty"`    // display name: "Anna Berger"
	Team    string `json:"team,omitempty"`    // "Acme Support"
}

// Known reports whether the desk named this supporter.
func (s Supporter) Known() bool { return s.Account != "" }

// Label is how the customer is told who watches: "Anna Berger (Acme
// Support)", or "an unidentified viewer at ADDRESS" when the desk does
// not know them.
func (s Supporter) Label(addr string) string {
	name := s.Name
	if name == "" {
		name = s.Account
	}
	switch {
	case name == "":
		return "an unidentified viewer at " + addr
	case s.Team == "":
		return name
	}
	return name + " (" + s.Team + ")"
}

// Rights are the customer's rights over a running session, reported by
// the agent at the start and on every change.
type Rights struct {
	SessionID string `json:"session_id"`
	Control   bool   `json:"control"`
	Files     bool   `json:"files"`
}

// Request asks the agent's customer for a right on the supporter's
// behalf; the customer decides.
type Request struct {
	SessionID string    `json:"session_id"`
	Right     string    `json:"right"` // "control"
	Supporter Supporter `json:"supporter,omitzero"`
}

// RightControl is the Request for remote control.
const RightControl = "control"

// DataHello is the first and only frame on a data connection.
type DataHello struct {
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
}

// Decline refuses a session: the customer did not consent.
type Decline struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}

// Spliced hands the session over to its data connection; the broker
// closes the control link after it.
type Spliced struct {
	SessionID string `json:"session_id"`
}

// End ends a session.
type End struct {
	SessionID string `json:"session_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func (*Hello) Type() Type     { return TypeHello }
func (*Welcome) Type() Type   { return TypeWelcome }
func (*Error) Type() Type     { return TypeError }
func (*Ping) Type() Type      { return TypePing }
func (*Pong) Type() Type      { return TypePong }
func (*OpenData) Type() Type  { return TypeOpenData }
func (*DataHello) Type() Type { return TypeDataHello }
func (*Decline) Type() Type   { return TypeDecline }
func (*End) Type() Type       { return TypeEnd }
func (*Spliced) Type() Type   { return TypeSpliced }
func (*Rights) Type() Type    { return TypeRights }
func (*Request) Type() Type   { return TypeRequest }
func (*OpenFiles) Type() Type { return TypeOpenFiles }
func (*Redirect) Type() Type  { return TypeRedirect }

// ErrFrameTooLarge is returned for a frame longer than MaxPayload.
var ErrFrameTooLarge = errors.New("agentlink: frame too large")

// ProtocolError is a malformed frame: the connection must be closed.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "agentlink: protocol error: " + e.Msg }

// parsers maps a type to a fresh message to decode into, the dispatch
// table of ReadMessage.
var parsers = [...]func() Message{
	TypeHello:     func() Message { return new(Hello) },
	TypeWelcome:   func() Message { return new(Welcome) },
	TypeError:     func() Message { return new(Error) },
	TypePing:      func() Message { return new(Ping) },
	TypePong:      func() Message { return new(Pong) },
	TypeOpenData:  func() Message { return new(OpenData) },
	TypeDataHello: func() Message { return new(DataHello) },
	TypeDecline:   func() Message { return new(Decline) },
	TypeEnd:       func() Message { return new(End) },
	TypeSpliced:   func() Message { return new(Spliced) },
	TypeRights:    func() Message { return new(Rights) },
	TypeRequest:   func() Message { return new(Request) },
	TypeOpenFiles: func() Message { return new(OpenFiles) },
	TypeRedirect:  func() Message { return new(Redirect) },
}

// AppendFrame appends m's frame to b.
func AppendFrame(b []byte, m Message) ([]byte, error) {
	p, err := json.Marshal(m)
	if err != nil {
		return b, err
	}
	if len(p) > MaxPayload {
		return b, ErrFrameTooLarge
	}
	b = append(b, byte(m.Type()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...), nil
}

// WriteMessage writes m as one frame, in one Write.
func WriteMessage(w io.Writer, m Message) error {
	b, err := AppendFrame(nil, m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadMessage reads one frame. It reads nothing beyond the frame, so the
// caller may hand r on as a raw stream after a DataHello.
func ReadMessage(r io.Reader) (Message, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxPayload {
		return nil, ErrFrameTooLarge
	}
	t := Type(h[0])
	if int(t) >= len(parsers) || parsers[t] == nil {
		return nil, &ProtocolError{fmt.Sprintf("unknown message type %d", h[0])}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return DecodeMessage(t, p)
}

// DecodeMessage decodes one frame's payload.
func DecodeMessage(t Type, p []byte) (Message, error) {
	if int(t) >= len(parsers) || parsers[t] == nil {
		return nil, &ProtocolError{fmt.Sprintf("unknown message type %d", uint8(t))}
	}
	m := parsers[t]()
	if err := json.Unmarshal(p, m); err != nil {
		return nil, &ProtocolError{fmt.Sprintf("%v payload: %v", t, err)}
	}
	return m, nil
}

var (
	_ Message = (*Hello)(nil)
	_ Message = (*Welcome)(nil)
	_ Message = (*Error)(nil)
	_ Message = (*Ping)(nil)
	_ Message = (*Pong)(nil)
	_ Message = (*OpenData)(nil)
	_ Message = (*DataHello)(nil)
	_ Message = (*Decline)(nil)
	_ Message = (*End)(nil)
	_ Message = (*Spliced)(nil)
	_ Message = (*Rights)(nil)
	_ Message = (*Request)(nil)
	_ Message = (*OpenFiles)(nil)
	_ Message = (*Redirect)(nil)
)

// FrameReader reads frames from a connection whose reads may time out in
// the middle of a frame: the bytes of a partial frame are kept for the
// next call, so a reader can poll with short deadlines. It holds no
// buffer between frames.
type FrameReader struct {
	r   io.Reader
	buf []byte
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: r} }

// Read returns the next message. After an error that is not a timeout
// the reader is unusable.
func (f *FrameReader) Read() (Message, error) {
	for {
		need := headerLen
		if len(f.buf) >= headerLen {
			n := binary.BigEndian.Uint32(f.buf[1:])
			if n > MaxPayload {
				return nil, ErrFrameTooLarge
			}
			if t := Type(f.buf[0]); int(t) >= len(parsers) || parsers[t] == nil {
				return nil, &ProtocolError{fmt.Sprintf("unknown message type %d", f.buf[0])}
			}
			need = headerLen + int(n)
			if len(f.buf) == need {
				t, p := Type(f.buf[0]), f.buf[headerLen:]
				f.buf = nil
				return DecodeMessage(t, p)
			}
		}
		if cap(f.buf) < need {
			nb := make([]byte, len(f.buf), need)
			copy(nb, f.buf)
			f.buf = nb
		}
		// Read no further than this frame.
		k, err := f.r.Read(f.buf[len(f.buf):need])
		f.buf = f.buf[:len(f.buf)+k]
		if err != nil && len(f.buf) < need {
			if err == io.EOF && len(f.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
