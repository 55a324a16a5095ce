package rfb

import (
	"encoding/binary"
	"fmt"
	"image"
	"io"
)

// The client's side of the server-to-client messages listed in
// msg_server.go. A message has no length field, so the client must parse
// every type it can receive; it accepts 150 and 248 only after asking for
// them (ContinuousUpdates and Fence in SetEncodings).

// ServerMessage is one message from the server, as ReadMessage returns it.
// The set is closed: *FramebufferUpdate, *SetColourMapEntries, *Bell,
// *ServerCutText, *ExtendedClipboard, *EndOfContinuousUpdates and
// *ServerFence.
type ServerMessage interface {
	serverMessage()
}

// FramebufferUpdate (type 0): 1 padding byte, U16 number of rectangles,
// then per rectangle U16 x, y, w, h, S32 encoding and the encoding's
// data. A count of 65535 from a client that accepts LastRect means "until
// a LastRect rectangle", which is not listed in Rects.
type FramebufferUpdate struct {
	Rects []UpdateRect
}

// UpdateRect is one rectangle of a FramebufferUpdate, already applied to
// the client.
type UpdateRect struct {
	// Rect is the rectangle as sent. For a data encoding it is the area
	// that changed; for Cursor, Min is the hot spot and the size the
	// cursor's; for DesktopSize and ExtendedDesktopSize it is (0, 0) and
	// the new size (ExtendedDesktopSize's x and y are Reason and Status).
	Rect     image.Rectangle
	Encoding Encoding

	// Src is where a CopyRect rectangle was copied from.
	Src image.Point

	// ExtendedDesktopSize: why the size changed, whether a SetDesktopSize
	// succeeded, and the server's screen layout.
	Reason  DesktopSizeReason
	Status  DesktopSizeStatus
	Screens []Screen
}

// DesktopSizeReason says why an ExtendedDesktopSize rectangle was sent.
type DesktopSizeReason uint16

// ExtendedDesktopSize reasons.
const (
	DesktopSizeByServer DesktopSizeReason = 0 // the server changed it, or it is the initial layout
	DesktopSizeByClient DesktopSizeReason = 1 // answer to this client's SetDesktopSize
	DesktopSizeByOther  DesktopSizeReason = 2 // another client's SetDesktopSize
)

func (r DesktopSizeReason) String() string {
	switch r {
	case DesktopSizeByServer:
		return "server"
	case DesktopSizeByClient:
		return "this client"
	case DesktopSizeByOther:
		return "another client"
	}
	return fmt.Sprintf("DesktopSizeReason(%d)", uint16(r))
}

// SetColourMapEntries (type 1): 1 padding byte, U16 first colour, U16
// number of colours, then U16 red, green, blue for each. This client only
// uses true-colour formats, so it returns the message without using it.
type SetColourMapEntries struct {
	First   uint16
	Colours []Colour
}

// Colour is a colour-map entry, 16 bits per channel.
type Colour struct {
	R, G, B uint16
}

// Bell (type 2) has no body.
type Bell struct{}

// ServerCutText (type 3): 3 padding bytes, U32 length, Latin-1 text.
type ServerCutText struct {
	// Text is the clipboard text, converted to UTF-8.
	Text string
	// Dropped is the length of a text longer than ClientLimits.MaxCutText,
	// which was read and thrown away; Text is then empty.
	Dropped int
}

// EndOfContinuousUpdates (type 150) has no body. The first one confirms
// that the server supports continuous updates; later ones answer
// EnableContinuousUpdates with enable 0.
type EndOfContinuousUpdates struct{}

// ServerFence (type 248): 3 padding bytes, U32 flags, U8 length (<= 64),
// payload. ReadMessage answers a request (FenceRequest set) itself, with
// the request bit and unknown flags cleared and the payload echoed.
type ServerFence struct {
	Flags   uint32
	Payload []byte
}

func (*FramebufferUpdate) serverMessage()      {}
func (*SetColourMapEntries) serverMessage()    {}
func (*Bell) serverMessage()                   {}
func (*ServerCutText) serverMessage()          {}
func (*EndOfContinuousUpdates) serverMessage() {}
func (*ServerFence) serverMessage()            {}

type serverParser func(c *Client) (ServerMessage, error)

// serverParsers is indexed by message type; nil entries are unknown types.
var serverParsers = [256]serverParser{
	msgFramebufferUpdate:      (*Client).readFramebufferUpdate,
	msgSetColourMapEntries:    (*Client).readSetColourMapEntries,
	msgBell:                   (*Client).readBell,
	msgServerCutText:          (*Client).readServerCutText,
	msgEndOfContinuousUpdates: (*Client).readEndOfContinuousUpdates,
	msgServerFence:            (*Client).readServerFence,
}

// readServerMessage reads and applies one server message.
func readServerMessage(c *Client) (ServerMessage, error) {
	t, err := c.r.r.ReadByte()
	if err != nil {
		return nil, err // a clean EOF between messages is a normal close
	}
	p := serverParsers[t]
	if p == nil {
		return nil, protoErrorf("unknown server message type %d", t)
	}
	return p(c)
}

// readFramebufferUpdate decodes every rectangle into the framebuffer.
func (c *Client) readFramebufferUpdate() (ServerMessage, error) {
	b, err := c.r.full(3)
	if err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	c.beginUpdate()
	untilLastRect := n == 0xffff && c.cur.allowed[EncLastRect]
	clear(c.update.Rects) // drop the last update's screen lists
	rects := c.update.Rects[:0]
	for i := 0; untilLastRect || i < n; i++ {
		h, err := c.r.full(12)
		if err != nil {
			return nil, err
		}
		r, e := wireRect(h), Encoding(binary.BigEndian.Uint32(h[8:]))
		if e == EncLastRect {
			if !c.cur.allowed[EncLastRect] {
				return nil, protoErrorf("LastRect rectangle, which the client did not ask for")
			}
			break
		}
		if len(rects) >= c.limits.MaxUpdateRects {
			return nil, protoErrorf("FramebufferUpdate has more than %d rectangles", c.limits.MaxUpdateRects)
		}
		// Decoded in place: a local would escape through the decoder
		// interface and cost an allocation per rectangle.
		rects = append(rects, UpdateRect{Rect: r, Encoding: e})
		if err := c.decodeRect(&rects[len(rects)-1]); err != nil {
			return nil, err
		}
	}
	c.update.Rects = rects
	return &c.update, nil
}

func (c *Client) readSetColourMapEntries() (ServerMessage, error) {
	b, err := c.r.full(5)
	if err != nil {
		return nil, err
	}
	m := &SetColourMapEntries{First: binary.BigEndian.Uint16(b[1:])}
	n := int(binary.BigEndian.Uint16(b[3:])) // at most 65535 × 6 bytes
	b, err = c.r.full(6 * n)
	if err != nil {
		return nil, err
	}
	m.Colours = make([]Colour, n)
	for i := range m.Colours {
		e := b[6*i:]
		m.Colours[i] = Colour{binary.BigEndian.Uint16(e), binary.BigEndian.Uint16(e[2:]), binary.BigEndian.Uint16(e[4:])}
	}
	return m, nil
}

func (c *Client) readBell() (ServerMessage, error) { return &Bell{}, nil }

// cutTextChunk is how much clipboard text is read at a time.
const cutTextChunk = 32 << 10

func (c *Client) readServerCutText() (ServerMessage, error) {
	b, err := c.r.full(7)
	if err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(b[3:]))
	if n >= 1<<31 {
		// A negative S32 is the Extended Clipboard form.
		return c.readExtendedCutText(1<<32 - n)
	}
	if n > int64(c.limits.MaxCutText) {
		if _, err := io.CopyN(io.Discard, c.r.r, n); err != nil {
			return nil, noEOF(err)
		}
		c.log.Debug("rfb: clipboard text too long, dropped", "bytes", n, "limit", c.limits.MaxCutText)
		return &ServerCutText{Dropped: int(n)}, nil
	}
	// Read in chunks, so a lying length costs no more memory than the
	// bytes that really arrive.
	text := make([]byte, 0, min(n, cutTextChunk))
	for left := int(n); left > 0; {
		b, err := c.r.full(min(left, cutTextChunk))
		if err != nil {
			return nil, err
		}
		text = appendLatin1(text, b)
		left -= len(b)
	}
	return &ServerCutText{Text: string(text)}, nil
}

func (c *Client) readEndOfContinuousUpdates() (ServerMessage, error) {
	if err := c.expect(EncContinuousUpdates, "EndOfContinuousUpdates"); err != nil {
		return nil, err
	}
	c.confirm(EncContinuousUpdates)
	return &EndOfContinuousUpdates{}, nil
}

func (c *Client) readServerFence() (ServerMessage, error) {
	if err := c.expect(EncFence, "ServerFence"); err != nil {
		return nil, err
	}
	flags, payload, err := readFence(c.r)
	if err != nil {
		return nil, err
	}
	c.confirm(EncFence)
	if flags&FenceRequest != 0 {
		// Every earlier message has been applied, which is all that
		// BlockBefore asks; the reply goes out before the next read, which
		// covers BlockAfter and SyncNext.
		if err := c.write(&ClientFence{Flags: flags & fenceKnown &^ FenceRequest, Payload: payload}); err != nil {
			return nil, err
		}
	}
	return &ServerFence{Flags: flags, Payload: payload}, nil
}

// expect fails a message the server may only send to a client that asked
// for e.
func (c *Client) expect(e Encoding, msg string) error {
	c.mu.Lock()
	ok := c.allowed[e]
	c.mu.Unlock()
	if !ok {
		return protoErrorf("%s, but the client did not ask for %v", msg, e)
	}
	return nil
}
