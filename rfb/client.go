package rfb

import (
	"context"
	"crypto/tls"
	"fmt"
	"image"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// ClientConfig configures a Client. The zero value connects to a server
// without authentication.
type ClientConfig struct {
	// Password answers VNC Authentication, inside VeNCrypt X509Vnc too,
	// and is the password of VeNCrypt X509Plain. VNC Authentication uses
	// its first 8 bytes.
	Password string
	// Username is the VeNCrypt X509Plain user name.
	Username string
	// TLSConfig enables VeNCrypt's X509 subtypes. Verifying the server
	// (ServerName, RootCAs) is the caller's business; NewClient uses the
	// configuration as it is.
	TLSConfig *tls.Config

	// Security lists the security types the client accepts, most
	// preferred first. The client picks the first of its own list that the
	// server offers, not the server's favourite, so the caller's policy
	// decides (TigerVNC and noVNC take the server's order instead).
	//
	// Empty means VeNCrypt if TLSConfig is set, then VNCAuth if Password
	// is set, then None. That default lets a server (or whoever sits in
	// the path) choose None; a caller that requires TLS lists
	// []SecurityType{SecVeNCrypt} only.
	Security []SecurityType
	// VeNCryptSubtypes lists the accepted VeNCrypt subtypes, most
	// preferred first. Empty means X509Plain if Username is set, X509Vnc if
	// Password is set, then X509None. Only the X509 subtypes are
	// supported.
	VeNCryptSubtypes []VeNCryptSubtype

	// MaxVersion is the highest protocol version to speak; zero means
	// Version38.
	MaxVersion Version
	// Exclusive asks the server to disconnect its other clients
	// (ClientInit shared-flag 0).
	Exclusive bool

	Limits ClientLimits
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// ClientLimits bound what a server can make the client allocate. Zero
// fields take the default given with each.
type ClientLimits struct {
	// MaxWidth and MaxHeight bound the framebuffer (default 16384 each),
	// and MaxPixels its area (default 64 Mpx, 256 MiB in NativeFormat).
	MaxWidth, MaxHeight, MaxPixels int
	// MaxCutText is the longest ServerCutText kept (default 16 MiB).
	// Longer texts are read and dropped; see ServerCutText.Dropped.
	MaxCutText int
	// MaxReason bounds a server's failure reason (default 64 KiB).
	MaxReason int
	// MaxDesktopName bounds the desktop name (default 64 KiB).
	MaxDesktopName int
	// MaxCursor bounds the cursor's width and height (default 1024).
	MaxCursor int
	// MaxUpdateRects bounds the rectangles of one FramebufferUpdate
	// (default 131072). It matters for updates that end with LastRect;
	// others carry at most 65535.
	MaxUpdateRects int
}

var defaultClientLimits = ClientLimits{
	MaxWidth:       16384,
	MaxHeight:      16384,
	MaxPixels:      64 << 20,
	MaxCutText:     16 << 20,
	MaxReason:      64 << 10,
	MaxDesktopName: 64 << 10,
	MaxCursor:      1024,
	MaxUpdateRects: 1 << 17,
}

func (l ClientLimits) withDefaults() ClientLimits {
	d := defaultClientLimits
	for _, f := range []struct{ dst, src *int }{
		{&d.MaxWidth, &l.MaxWidth}, {&d.MaxHeight, &l.MaxHeight}, {&d.MaxPixels, &l.MaxPixels},
		{&d.MaxCutText, &l.MaxCutText}, {&d.MaxReason, &l.MaxReason},
		{&d.MaxDesktopName, &l.MaxDesktopName}, {&d.MaxCursor, &l.MaxCursor},
		{&d.MaxUpdateRects, &l.MaxUpdateRects},
	} {
		if *f.src > 0 {
			*f.dst = *f.src
		}
	}
	return d
}

// checkSize reports whether a w×h framebuffer is within the limits.
func (l *ClientLimits) checkSize(w, h int) error {
	if w > l.MaxWidth || h > l.MaxHeight || w*h > l.MaxPixels {
		return protoErrorf("framebuffer of %dx%d exceeds the client's limits (%dx%d, %d pixels)",
			w, h, l.MaxWidth, l.MaxHeight, l.MaxPixels)
	}
	return nil
}

// An AuthError is a failed SecurityResult: the server rejected the
// credentials. Reason is the server's text (RFB 3.8 only; empty for 3.3
// and 3.7). Tell the user; retrying with the same credentials will fail
// again.
type AuthError struct {
	Reason string
}

func (e *AuthError) Error() string {
	if e.Reason == "" {
		return "rfb: authentication failed"
	}
	return "rfb: authentication failed: " + e.Reason
}

// A RefusedError is a server's refusal before authentication (an empty
// security type list, or security type 0 in RFB 3.3), with the server's
// reason. Tell the user.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "rfb: server refused the connection: " + e.Reason }

// Client is the client side of one RFB connection, after the handshake.
//
// One goroutine reads: it calls ReadMessage in a loop, and it alone may
// touch the pixels of Framebuffer() and the messages ReadMessage returns.
// The sending methods and the other accessors are safe to call from any
// goroutine, also while ReadMessage blocks.
type Client struct {
	conn    net.Conn // inside TLS after VeNCrypt
	r       *wireReader
	limits  ClientLimits
	log     *slog.Logger
	version Version
	serverF PixelFormat

	wmu  sync.Mutex // one write at a time
	wbuf []byte

	// Shared between the reading goroutine and the rest.
	mu        sync.Mutex
	fb        *Image // swapped under mu on resize; pixels owned by the reader
	name      string
	pf        PixelFormat
	rev       *reverter
	allowed   map[Encoding]bool // the last SetEncodings list
	cursor    clientCursor
	confirmed map[Encoding]bool // extensions the server confirmed
	clip      clientClipboard   // client_clipboard.go

	// Owned by the reading goroutine.
	err      error // sticky: after any read error the stream is lost
	cur      updateState
	decoders map[Encoding]decoder
	update   FramebufferUpdate
}

// updateState is the pixel format and encodings in force for the update
// being read, taken once per FramebufferUpdate.
type updateState struct {
	pf      PixelFormat
	rev     *reverter
	bpp     int
	native  bool
	allowed map[Encoding]bool
}

type clientCursor struct {
	img     *Image
	mask    []byte
	alpha   []byte // nil for a 1-bit mask
	hotspot image.Point
	ok      bool
}

// NewClient runs the RFB handshake on conn, from the server's
// ProtocolVersion to ServerInit, and returns the connected client. ctx
// bounds the handshake only: when it is done, the handshake stops. On
// error NewClient closes conn; errors the user should see are *AuthError
// and *RefusedError.
func NewClient(ctx context.Context, conn net.Conn, cfg ClientConfig) (*Client, error) {
	hs, err := newClientHandshake(conn, &cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	// Deadlines are only touched when ctx ends, so the caller's own
	// deadlines on conn survive a successful handshake.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err = hs.run(ctx)
	if !stop() {
		// ctx ended, and conn's deadline is in the past.
		conn.Close()
		return nil, fmt.Errorf("rfb: handshake interrupted: %w", context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := newClient(hs.conn, hs.r, hs.limits, hs.log, hs.version, hs.width, hs.height, hs.pf, hs.name)
	c.log.Debug("rfb: connected", "version", c.version.String(), "security", hs.secType.String(),
		"size", fmt.Sprintf("%dx%d", hs.width, hs.height), "format", hs.pf.String(), "name", hs.name)
	return c, nil
}

// newClient makes a client in the state that follows ServerInit.
func newClient(conn net.Conn, r *wireReader, l ClientLimits, log *slog.Logger, v Version, w, h int, pf PixelFormat, name string) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		conn: conn, r: r, limits: l, log: log, version: v, serverF: pf,
		fb: NewImage(w, h), name: name, pf: pf, rev: newReverter(pf),
		allowed:   map[Encoding]bool{},
		confirmed: map[Encoding]bool{},
		decoders:  map[Encoding]decoder{},
	}
}

// Version returns the negotiated protocol version.
func (c *Client) Version() Version { return c.version }

// Name returns the desktop name, as of ServerInit or the last DesktopName
// rectangle. Names that are not valid UTF-8 were read as Latin-1.
func (c *Client) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// Size returns the framebuffer's size.
func (c *Client) Size() (w, h int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fb.W, c.fb.H
}

// ServerPixelFormat returns the pixel format from ServerInit.
func (c *Client) ServerPixelFormat() PixelFormat { return c.serverF }

// PixelFormat returns the pixel format the client asked for last (the
// server's until SetPixelFormat).
func (c *Client) PixelFormat() PixelFormat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pf
}

// Framebuffer returns the client's copy of the screen, always in
// NativeFormat whatever pixel format is in use. ReadMessage draws into it
// and replaces it by a new, black image when the desktop is resized, so
// call Framebuffer again after a DesktopSize or ExtendedDesktopSize
// rectangle, and read its pixels only on the goroutine that calls
// ReadMessage.
func (c *Client) Framebuffer() *Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fb
}

// Cursor returns the last cursor shape the server sent (any cursor
// pseudo-encoding; see CursorImage for its alpha): its pixels in
// NativeFormat, its mask (1 bit per pixel,
// rows padded to bytes, most significant bit leftmost, 1 = visible) and its
// hot spot. ok is false until the server sent one. A 0×0 image means the
// server hid the cursor. The returned values are never modified later.
func (c *Client) Cursor() (img *Image, mask []byte, hotspot image.Point, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.cursor
	return k.img, k.mask, k.hotspot, k.ok
}

// CursorImage returns the last cursor shape the server sent as colours
// with alpha (not premultiplied), from any of the cursor
// pseudo-encodings: Cursor gives alpha 0 or 255 from its mask,
// CursorWithAlpha and VMware's alpha cursor their own alpha. ok is false
// until the server sent one.
func (c *Client) CursorImage() (img *image.NRGBA, hotspot image.Point, ok bool) {
	c.mu.Lock()
	k := c.cursor
	c.mu.Unlock()
	if !k.ok {
		return nil, image.Point{}, false
	}
	w, h := k.img.W, k.img.H
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := byte(0)
			switch {
			case k.alpha != nil:
				a = k.alpha[y*w+x]
			case k.mask[y*((w+7)/8)+x/8]&(0x80>>(x%8)) != 0:
				a = 0xff
			}
			i, o := y*k.img.Stride+x*4, y*m.Stride+x*4
			m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = k.img.Pix[i+2], k.img.Pix[i+1], k.img.Pix[i], a
		}
	}
	return m, k.hotspot, true
}

// ServerSupports reports whether the server has confirmed an extension
// the client asked for, which allows the matching client message:
// EncContinuousUpdates (EnableContinuousUpdates), EncFence (ClientFence),
// EncExtendedDesktopSize (SetDesktopSize) and EncQEMUExtendedKey
// (QEMUExtendedKeyEvent).
func (c *Client) ServerSupports(e Encoding) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.confirmed[e]
}

func (c *Client) confirm(e Encoding) {
	c.mu.Lock()
	c.confirmed[e] = true
	c.mu.Unlock()
}

// Send sends any client message. SetPixelFormat and SetEncodings go
// through the methods of the same name, so the client decodes what it
// asked for.
func (c *Client) Send(m ClientMessage) error {
	switch m := m.(type) {
	case *SetPixelFormat:
		return c.SetPixelFormat(m.Format)
	case *SetEncodings:
		return c.SetEncodings(m.Encodings...)
	}
	return c.write(m)
}

func (c *Client) write(m ClientMessage) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = m.appendTo(c.wbuf[:0])
	_, err := c.conn.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // do not keep a large clipboard text around
	}
	if err != nil {
		return fmt.Errorf("rfb: sending %T: %w", m, err)
	}
	return nil
}

// SetPixelFormat asks the server for pixels in pf, which must be a true
// colour format the server can produce. Decoding switches to pf at once,
// so, as the protocol requires, no FramebufferUpdateRequest may be
// outstanding when it is called.
func (c *Client) SetPixelFormat(pf PixelFormat) error {
	if err := pf.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	c.pf, c.rev = pf, newReverter(pf)
	c.mu.Unlock()
	return c.write(&SetPixelFormat{Format: pf})
}

// SetEncodings sends the encodings the client accepts, most preferred
// first. Raw is always accepted. Only encodings this client can decode are
// allowed: data encodings with a decoder, the pseudo-encodings Cursor,
// CursorWithAlpha, VMwareCursor, DesktopSize, ExtendedDesktopSize,
// LastRect, DesktopName, QEMUExtendedKeyEvent, Fence, ContinuousUpdates
// and ExtendedClipboard, the quality and compression levels and
// TurboVNC's fine quality and subsampling levels. A rectangle in any other encoding is a protocol
// error, so the list takes effect at once: updates already under way must
// not use encodings it drops.
func (c *Client) SetEncodings(encs ...Encoding) error {
	if len(encs) > 0xffff {
		return fmt.Errorf("rfb: %d encodings do not fit in SetEncodings", len(encs))
	}
	allowed := make(map[Encoding]bool, len(encs))
	for _, e := range encs {
		if !canAccept(e) {
			return fmt.Errorf("rfb: the client cannot accept encoding %v", e)
		}
		allowed[e] = true
	}
	c.mu.Lock()
	c.allowed = allowed
	c.mu.Unlock()
	return c.write(&SetEncodings{Encodings: slices.Clone(encs)})
}

// canAccept reports whether the client can handle what a server does
// after being sent e.
func canAccept(e Encoding) bool {
	if _, ok := decoderFactories[e]; ok {
		return true
	}
	switch {
	case e == EncLastRect, e == EncFence, e == EncContinuousUpdates, e == EncExtendedClipboard:
		return true
	case e >= EncCompressLevel0 && e <= EncCompressLevel0+9, e >= EncQualityLevel0 && e <= EncQualityLevel0+9:
		return true
	case e >= EncFineQualityLevel0 && e <= EncFineQualityLevel0+100, e >= EncSubsamp1X && e <= EncSubsamp1X+5:
		return true
	}
	return false
}

// RequestUpdate asks for the pixels of r (clipped to what the wire can
// carry); incremental asks only for changes since the last update.
func (c *Client) RequestUpdate(incremental bool, r image.Rectangle) error {
	r = r.Intersect(image.Rect(0, 0, 0xffff, 0xffff))
	return c.write(&FramebufferUpdateRequest{Incremental: incremental, Rect: r})
}

// RequestFull asks for the whole framebuffer, non-incrementally.
func (c *Client) RequestFull() error {
	w, h := c.Size()
	return c.RequestUpdate(false, image.Rect(0, 0, w, h))
}

// KeyEvent sends a key press or release of an X11 keysym.
func (c *Client) KeyEvent(down bool, keysym uint32) error {
	return c.write(&KeyEvent{Down: down, Keysym: keysym})
}

// PointerEvent sends the pointer position and the buttons held (bit 0
// left, 1 middle, 2 right, 3/4 wheel up/down). Coordinates are clamped to
// 0..65535.
func (c *Client) PointerEvent(buttons uint8, x, y int) error {
	return c.write(&PointerEvent{Buttons: buttons, X: uint16(min(max(x, 0), 0xffff)), Y: uint16(min(max(y, 0), 0xffff))})
}

// ReadMessage reads one server message and applies it: a
// FramebufferUpdate is decoded into Framebuffer(), a cursor, name or size
// change is recorded, and a ServerFence request is answered. It returns
// the message for the caller to act on (ring the bell, take the clipboard
// text, request the next update).
//
// The returned *FramebufferUpdate, and its Rects, are reused by the next
// call; copy what you keep. After an error the connection is unusable and
// every later call returns the same error.
func (c *Client) ReadMessage() (ServerMessage, error) {
	if c.err != nil {
		return nil, c.err
	}
	m, err := readServerMessage(c)
	if err != nil {
		c.err = err
		return nil, err
	}
	return m, nil
}

// Close closes the connection; a blocked ReadMessage returns.
func (c *Client) Close() error { return c.conn.Close() }

// decodeText turns a name or reason into UTF-8: servers should send
// UTF-8, but older ones send Latin-1.
func decodeText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendLatin1(nil, b))
}

// appendLatin1 appends Latin-1 text b as UTF-8.
func appendLatin1(dst, b []byte) []byte {
	for _, ch := range b {
		if ch < utf8.RuneSelf {
			dst = append(dst, ch)
		} else {
			dst = append(dst, 0xc0|ch>>6, 0x80|ch&0x3f)
		}
	}
	return dst
}
