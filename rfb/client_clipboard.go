package rfb

import "sync"

// The client's clipboard. With EncExtendedClipboard in SetEncodings,
// ReadMessage speaks the protocol by itself: it answers the server's caps
// with the client's, fetches text the server announces (request), and
// provides the client's own text when the server asks; the text that
// arrives is returned as *ServerCutText, as plain ServerCutText is.
// CutText announces the client's text (notify) to a server that sent
// caps, and sends Latin-1 ClientCutText to one that did not.

// clientClipboard is the client's Extended Clipboard state.
type clientClipboard struct {
	mu       sync.Mutex
	text     string // the client's clipboard, for the server's requests
	has      bool
	ext      bool           // the server sent caps
	peer     ClipboardFlags // the server's caps
	peerText uint32
}

// clientClipboardCaps: text, every action, nothing unasked.
var clientClipboardCaps = &ExtendedClipboard{
	Flags: ClipCaps | ClipText | ClipRequest | ClipPeek | ClipNotify | ClipProvide,
	Sizes: []uint32{0},
}

// CutText sends clipboard text. A server that speaks Extended Clipboard
// is told that text is there and fetches it in UTF-8; otherwise it goes
// as ClientCutText in Latin-1, where characters beyond it become '?'.
func (c *Client) CutText(text string) error {
	cl := &c.clip
	cl.mu.Lock()
	ext, peer, peerText := cl.ext, cl.peer, cl.peerText
	if ext {
		cl.text, cl.has = text, true
	}
	cl.mu.Unlock()
	switch {
	case !ext:
		return c.write(&ClientCutText{Text: latin1(text)})
	case peer&ClipNotify != 0:
		return c.write(&ExtendedClipboard{Flags: ClipNotify | ClipText})
	case peer&ClipProvide != 0 && int64(len(text))+1 <= int64(peerText):
		return c.write(&ExtendedClipboard{Flags: ClipProvide, Text: text, HasText: true})
	}
	return nil // the server takes no text from clients
}

// ExtendedClipboard reports whether the server sent its Extended
// Clipboard caps, so that CutText goes in UTF-8.
func (c *Client) ExtendedClipboard() bool {
	c.clip.mu.Lock()
	defer c.clip.mu.Unlock()
	return c.clip.ext
}

// readExtendedCutText reads a ServerCutText in the extended form (n bytes
// after the length) and answers it as the protocol asks.
func (c *Client) readExtendedCutText(n int64) (ServerMessage, error) {
	if err := c.expect(EncExtendedClipboard, "extended ServerCutText"); err != nil {
		return nil, err
	}
	m, err := readExtendedClipboard(c.r, n, c.limits.MaxCutText, 1<<31-1)
	if err != nil {
		return nil, err
	}
	cl := &c.clip
	f := m.Flags
	var reply *ExtendedClipboard
	cl.mu.Lock()
	switch {
	case f&ClipCaps != 0:
		first := !cl.ext
		cl.ext, cl.peer, cl.peerText = true, f, 0
		if f&ClipText != 0 && len(m.Sizes) > 0 {
			cl.peerText = m.Sizes[0]
		}
		if first {
			reply = clientClipboardCaps
		}
	case f&ClipProvide != 0:
		cl.mu.Unlock()
		if m.Dropped > 0 {
			c.log.Debug("rfb: clipboard text too long, dropped", "bytes", m.Dropped, "limit", c.limits.MaxCutText)
			return &ServerCutText{Dropped: m.Dropped}, nil
		}
		if m.HasText {
			return &ServerCutText{Text: m.Text}, nil
		}
		return m, nil
	case f&ClipNotify != 0:
		if f&ClipText != 0 && cl.peer&ClipProvide != 0 {
			reply = &ExtendedClipboard{Flags: ClipRequest | ClipText}
		}
	case f&ClipRequest != 0:
		if f&ClipText != 0 {
			reply = &ExtendedClipboard{Flags: ClipProvide, Text: cl.text, HasText: cl.has}
		}
	case f&ClipPeek != 0:
		reply = &ExtendedClipboard{Flags: ClipNotify}
		if cl.has {
			reply.Flags |= ClipText
		}
	}
	cl.mu.Unlock()
	if reply != nil {
		if err := c.write(reply); err != nil {
			return nil, err
		}
	}
	return m, nil
}
