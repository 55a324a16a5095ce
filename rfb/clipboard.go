package rfb

import (
	"slices"
)

// The server's clipboard. The embedding program says what the clipboard
// holds (SendCutText) and when it holds nothing it may give (ClearCutText);
// text from clients arrives at Options.OnCutText. A client that speaks
// Extended Clipboard is told that text is there (notify) and gets it only
// when it asks (request → provide); a client without it gets the text at
// once, in Latin-1, as ServerCutText. See msg_extclipboard.go for the
// wire.

// serverClipboard is what the server's clipboard holds; under Server.mu.
type serverClipboard struct {
	text string
	has  bool
}

// connClipboard is a connection's Extended Clipboard state, owned by its
// run goroutine.
type connClipboard struct {
	ext       bool           // the client listed EncExtendedClipboard
	announced bool           // the current clipboard was announced to it
	peer      ClipboardFlags // the client's caps: formats and actions it takes
	peerText  uint32         // the largest text it takes unasked
}

// serverClipboardCaps is what the server takes: text, through every
// action, and nothing unasked (size 0), as the protocol recommends.
var serverClipboardCaps = &ExtendedClipboard{
	Flags: ClipCaps | ClipText | ClipRequest | ClipPeek | ClipNotify | ClipProvide,
	Sizes: []uint32{0},
}

// defaultPeerCaps is what the protocol says a client takes that sent no
// caps of its own: text, rtf and html with request, notify and provide,
// and 20 MiB of text unasked.
const (
	defaultPeerCaps = ClipText | ClipRTF | ClipHTML | ClipRequest | ClipNotify | ClipProvide
	defaultPeerText = 20 << 20
)

// SendCutText puts text on the clipboard that clients see. Clients with
// Extended Clipboard are told it is there and fetch it (in UTF-8) if
// they want it; others get it at once, with '?' for what Latin-1 cannot
// hold.
func (s *Server) SendCutText(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clip = serverClipboard{text: text, has: true}
	for c := range s.conns {
		c.post(func(c *serverConn) { c.announceClipboard(text, true) })
	}
}

// ClearCutText withdraws the clipboard: clients with Extended Clipboard
// are told it holds nothing, a request that comes later gets nothing,
// and text not yet written to a client (ServerCutText or a provide) is
// dropped. Text a client already got cannot be taken back.
func (s *Server) ClearCutText() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clip = serverClipboard{}
	for c := range s.conns {
		c.post(func(c *serverConn) { c.announceClipboard("", false) })
	}
}

// clipboard returns what the server's clipboard holds.
func (s *Server) clipboard() serverClipboard {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clip
}

// announceClipboard tells the client of a change of the server's
// clipboard.
func (c *serverConn) announceClipboard(text string, has bool) {
	cl := &c.clip
	if !has {
		c.cutText = nil // withdrawn text not yet sent never goes out
	}
	if !cl.ext {
		if has {
			c.cutText = appendServerCutText(nil, latin1(text))
		}
		return
	}
	cl.announced = true
	switch {
	case !has:
		c.queueClipboard(&ExtendedClipboard{Flags: ClipNotify})
	case cl.peer&ClipText == 0:
		// The client takes no text.
	case cl.peer&ClipNotify != 0:
		c.queueClipboard(&ExtendedClipboard{Flags: ClipNotify | ClipText})
	case cl.peer&ClipProvide != 0 && int64(len(text))+1 <= int64(cl.peerText):
		c.cutText = (&ExtendedClipboard{Flags: ClipProvide, Text: text, HasText: true}).appendAs(nil, byte(msgServerCutText))
	}
}

// queueClipboard queues a small extended clipboard message.
func (c *serverConn) queueClipboard(m *ExtendedClipboard) {
	c.control = m.appendAs(c.control, byte(msgServerCutText))
}

// clipboardEncodings follows a SetEncodings: a list with Extended
// Clipboard gets the server's caps every time, as the protocol requires.
func (c *serverConn) clipboardEncodings(list []Encoding) {
	cl := &c.clip
	if !slices.Contains(list, EncExtendedClipboard) {
		cl.ext = false
		return
	}
	if !cl.ext {
		cl.ext, cl.peer, cl.peerText = true, defaultPeerCaps, defaultPeerText
	}
	c.queueClipboard(serverClipboardCaps)
	if clip := c.s.clipboard(); clip.has && !cl.announced {
		c.announceClipboard(clip.text, true)
	}
}

// clipboardFromClient handles an extended clipboard message on the
// reader goroutine: provided text goes to OnCutText at once, in order
// with the client's input; the rest is for the run goroutine.
func (c *serverConn) clipboardFromClient(m *ExtendedClipboard) {
	f := m.Flags
	switch {
	case f&ClipCaps != 0:
		c.post(func(c *serverConn) {
			c.clip.peer, c.clip.peerText = f, 0
			if f&ClipText != 0 && len(m.Sizes) > 0 {
				c.clip.peerText = m.Sizes[0]
			}
		})
	case f&ClipProvide != 0:
		switch {
		case m.Dropped > 0:
			c.log.Info("rfb: clipboard text too long, dropped", "bytes", m.Dropped, "limit", c.s.limits.MaxCutText)
		case m.HasText && c.s.opts.OnCutText != nil:
			c.s.opts.OnCutText(m.Text)
		}
	case f&ClipNotify != 0:
		if f&ClipText != 0 && c.s.opts.OnCutText != nil {
			c.post(func(c *serverConn) {
				if c.clip.peer&ClipProvide != 0 {
					c.queueClipboard(&ExtendedClipboard{Flags: ClipRequest | ClipText})
				}
			})
		}
	case f&ClipRequest != 0:
		if f&ClipText == 0 {
			return
		}
		c.post(func(c *serverConn) {
			clip := c.s.clipboard()
			c.cutText = (&ExtendedClipboard{Flags: ClipProvide, Text: clip.text, HasText: clip.has}).appendAs(nil, byte(msgServerCutText))
		})
	case f&ClipPeek != 0:
		c.post(func(c *serverConn) {
			clip := c.s.clipboard()
			c.clip.announced = true
			if clip.has {
				c.queueClipboard(&ExtendedClipboard{Flags: ClipNotify | ClipText})
			} else {
				c.queueClipboard(&ExtendedClipboard{Flags: ClipNotify})
			}
		})
	}
}
