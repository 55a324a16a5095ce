package rfb

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// serverConn is one client after ServerInit.
//
// Three goroutines serve it. The reader parses client messages: input goes
// straight to the input sinks, everything that touches update state goes
// to run over a channel. The writer performs one network write at a time.
// run owns all mutable state: requests, pixel format, encodings and what
// is queued; it builds an update only when the writer is idle, so a slow
// client gets fewer, larger (coalesced) updates and never holds up the
// framebuffer or other clients.
type serverConn struct {
	s       *Server
	conn    net.Conn
	r       *wireReader
	version Version
	log     *slog.Logger
	sub     *subscriber

	postMu sync.Mutex
	posted []func(*serverConn)

	// Owned by run.
	pf           PixelFormat
	conv         *converter
	encs         clientEncodings
	encoders     map[Encoding]encoder
	clientW      int // the framebuffer size the client knows
	clientH      int
	reqPending   bool
	reqArea      image.Rectangle
	noCopy       bool // a non-incremental request is being answered
	cu           bool // continuous updates on
	cuArea       image.Rectangle
	extDSReply   *extDSReply
	qemuKeyAck   bool
	nameChanged  bool
	cutText      []byte // the latest clipboard message for the client
	clip         connClipboard
	control      []byte // small messages queued ahead of the next update
	out          []byte // the last write's buffer, for the next (keptOut)
	writing      bool
	fenceStarted bool
	cuStarted    bool

	// Lossless refresh (refresh.go).
	lossy, recent, due region
	refreshing         bool
	refreshTimer       *time.Timer
	refreshTick        <-chan time.Time
	throughput         float64 // bytes a second the client has been reading, 0 if unknown
	refreshDelay       time.Duration
	refreshed          region    // sent by the last refreshes
	refreshedAt        time.Time // when the last refresh was sent
	lossyAt            time.Time // when an update last sent lossy pixels
	refreshedSince     time.Time // lossyAt when the last refresh was sent

	pace pacer // fences in flight (pace.go)
	// The update being made is a burst's (pace.go): changes only.
	burst bool
	// What the last update changed, for its pacing fence: nil when not
	// known; and whether it was a lossless refresh.
	sentRects   []image.Rectangle
	sentRefresh bool
}

// extDSReply is an ExtendedDesktopSize rectangle owed to the client.
type extDSReply struct {
	reason int
	status DesktopSizeStatus
}

// maxControl bounds queued small messages (fence replies and the like) for
// a client that sends but does not read.
const maxControl = 1 << 20

func newServerConn(s *Server, c net.Conn, r *wireReader, v Version) *serverConn {
	w, h := s.fb.Size()
	sc := &serverConn{
		s: s, conn: c, r: r, version: v,
		log:      s.log.With("remote", c.RemoteAddr().String()),
		pf:       NativeFormat,
		conv:     newConverter(NativeFormat),
		encoders: map[Encoding]encoder{},
		clientW:  w, clientH: h,
	}
	sc.encs.reset()
	sc.sub = s.fb.subscribe()
	return sc
}

// post runs f on the connection's own goroutine.
func (c *serverConn) post(f func(*serverConn)) {
	c.postMu.Lock()
	c.posted = append(c.posted, f)
	c.postMu.Unlock()
	c.sub.poke()
}

func (c *serverConn) drainPosts() {
	c.postMu.Lock()
	p := c.posted
	c.posted = nil
	c.postMu.Unlock()
	for _, f := range p {
		f(c)
	}
}

func (c *serverConn) run(ctx context.Context) (err error) {
	defer c.s.fb.unsubscribe(c.sub)
	msgs := make(chan ClientMessage)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	writes := make(chan []byte)
	written := make(chan writeResult, 1)
	var wg sync.WaitGroup
	defer func() {
		close(done)
		close(writes)
		c.conn.Close()
		wg.Wait()
		var pe *ProtocolError
		if errors.As(err, &pe) {
			c.log.Warn("rfb: closing connection", "err", err)
		}
	}()
	wg.Go(func() { readErr <- c.readLoop(msgs, done) })
	wg.Go(func() {
		for b := range writes {
			t0 := time.Now()
			err := c.write(b)
			written <- writeResult{err: err, n: len(b), d: time.Since(t0)}
		}
	})
	defer c.stopRefreshTimer()
	defer c.stopPaceTimer()
	for {
		if !c.writing {
			b, err := c.nextWrite()
			if err != nil {
				return err
			}
			if len(b) > 0 {
				c.writing = true
				writes <- b
			}
		}
		select {
		case m := <-msgs:
			if err := c.handle(m); err != nil {
				return err
			}
		case err := <-readErr:
			return err
		case <-c.sub.notify:
			c.drainPosts()
		case w := <-written:
			c.writing = false
			if w.err != nil {
				return fmt.Errorf("rfb: writing to client: %w", w.err)
			}
			c.wrote(w)
		case <-c.refreshTick:
			c.refreshTicked()
		case <-c.pace.tick:
			c.pace.tick = nil
		case <-ctx.Done():
			return ctx.Err()
		}
		if len(c.control) > maxControl {
			return errors.New("rfb: client does not read its messages")
		}
	}
}

// writeResult is what the writer reports after a write.
type writeResult struct {
	err error
	n   int
	d   time.Duration
}

// writeChunk is how much is written under one deadline: WriteTimeout
// bounds a stall, not the time a large update takes on a slow link.
const writeChunk = 64 << 10

func (c *serverConn) write(b []byte) error {
	for len(b) > 0 {
		c.conn.SetWriteDeadline(time.Now().Add(c.s.limits.WriteTimeout))
		n, err := c.conn.Write(b[:min(len(b), writeChunk)])
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// readLoop parses messages until an error. Input is delivered here, in
// order, without waiting for run.
func (c *serverConn) readLoop(msgs chan<- ClientMessage, done <-chan struct{}) error {
	o := &c.s.opts
	for {
		m, err := readClientMessage(c.r, &c.s.limits)
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *KeyEvent:
			if o.OnKey != nil {
				o.OnKey(*m)
			}
			continue
		case *QEMUExtendedKeyEvent:
			if o.OnKey != nil {
				o.OnKey(KeyEvent{Down: m.Down, Keysym: m.Keysym, Keycode: m.Keycode})
			}
			continue
		case *PointerEvent:
			if o.OnPointer != nil {
				w, h := c.s.fb.Size()
				ev := *m
				ev.X = uint16(min(int(ev.X), max(w-1, 0)))
				ev.Y = uint16(min(int(ev.Y), max(h-1, 0)))
				o.OnPointer(ev)
			}
			continue
		case *ClientCutText:
			if m.Dropped > 0 {
				c.log.Info("rfb: clipboard text too long, dropped", "bytes", m.Dropped, "limit", c.s.limits.MaxCutText)
			} else if o.OnCutText != nil {
				o.OnCutText(fromLatin1(m.Text))
			}
			continue
		case *ExtendedClipboard:
			c.clipboardFromClient(m)
			continue
		case *ignoredMessage:
			continue
		}
		select {
		case msgs <- m:
		case <-done:
			return nil
		}
	}
}

func (c *serverConn) handle(m ClientMessage) error {
	switch m := m.(type) {
	case *SetPixelFormat:
		if err := m.Format.Validate(); err != nil {
			return protoErrorf("SetPixelFormat %v: %v", m.Format, err)
		}
		c.pf = m.Format
		c.conv = newConverter(m.Format)
		c.log.Debug("rfb: client pixel format", "format", m.Format.String())
	case *SetEncodings:
		c.setEncodings(m.Encodings)
		c.clipboardEncodings(m.Encodings)
		c.log.Debug("rfb: client encodings", "encodings", fmt.Sprint(m.Encodings), "using", c.encs.preferred.String())
	case *FramebufferUpdateRequest:
		c.request(m)
	case *EnableContinuousUpdates:
		if !c.encs.continuousUpdates {
			return protoErrorf("EnableContinuousUpdates before the server offered it")
		}
		c.cu = m.Enable
		c.cuArea = m.Rect
		if !m.Enable {
			c.control = append(c.control, byte(msgEndOfContinuousUpdates))
		}
	case *ClientFence:
		if m.Flags&FenceRequest == 0 && c.paceAnswer(m) {
			break
		}
		if m.Flags&FenceRequest != 0 {
			c.control = appendFence(c.control, byte(msgServerFence), m.Flags&fenceKnown&^FenceRequest, m.Payload)
		}
	case *SetDesktopSize:
		c.setDesktopSize(m)
	}
	return nil
}

func (c *serverConn) setEncodings(list []Encoding) {
	old := c.encs
	c.encs.set(list, c.encoderAvailable)
	e := c.encs
	if e.cursorKind != 0 && e.cursorKind != old.cursorKind {
		c.sub.mu.Lock()
		c.sub.cursorChanged = true
		c.sub.mu.Unlock()
	}
	if e.qemuKey && !old.qemuKey {
		c.qemuKeyAck = true
	}
	if e.fence && !c.fenceStarted {
		// Announce fence support with a request the client must echo.
		c.fenceStarted = true
		c.control = appendFence(c.control, byte(msgServerFence), fenceKnown, nil)
	}
	if e.continuousUpdates && !c.cuStarted {
		c.cuStarted = true
		c.control = append(c.control, byte(msgEndOfContinuousUpdates))
	}
}

func (c *serverConn) encoderAvailable(e Encoding) bool {
	if _, ok := encoderFactories[e]; !ok {
		return false
	}
	return len(c.s.opts.Encodings) == 0 || e == EncRaw || slices.Contains(c.s.opts.Encodings, e)
}

func (c *serverConn) request(m *FramebufferUpdateRequest) {
	if !m.Incremental {
		// The client lost this area: send all of it, without CopyRect.
		c.s.fb.refresh(c.sub, m.Rect)
		c.noCopy = true
		if c.encs.extendedDesktopSize && !c.encs.ultra && c.extDSReply == nil {
			c.extDSReply = &extDSReply{reason: extDSServer}
		}
	} else if c.cu {
		return // continuous updates replace incremental requests
	}
	if c.reqPending {
		c.reqArea = c.reqArea.Union(m.Rect)
	} else {
		c.reqArea = m.Rect
	}
	c.reqPending = true
}

func (c *serverConn) setDesktopSize(m *SetDesktopSize) {
	status := DesktopSizeProhibited
	if f := c.s.opts.OnDesktopSize; f != nil {
		status = f(int(m.Width), int(m.Height), m.Screens)
	}
	if status == DesktopSizeOK {
		c.clientW, c.clientH = c.s.fb.Size()
	}
	if c.encs.extendedDesktopSize {
		c.extDSReply = &extDSReply{reason: extDSClient, status: status}
	}
}

// keptOut bounds the write buffer a connection keeps between writes: a
// lossless refresh of a photo is megabytes, and a buffer kept at that
// size would stay for the connection's life (the photo workload's busy
// memory, issue 17); an update of text or a cursor fits.
const keptOut = 256 << 10

// wrote takes a finished write: it measures the client's reading, and
// lets go of a write buffer larger than keptOut.
func (c *serverConn) wrote(w writeResult) {
	c.measure(w)
	if cap(c.out) > keptOut {
		c.out = nil
	}
}

// nextWrite returns the bytes to write next, or nothing.
func (c *serverConn) nextWrite() ([]byte, error) {
	out := append(c.out[:0], c.control...)
	c.control = c.control[:0]
	if c.cutText != nil {
		out = append(out, c.cutText...)
		c.cutText = nil
	}
	allowed := c.reqPending || (c.cu && c.paceAllows())
	c.burst = !allowed && c.cu && c.paceBurst()
	if allowed || c.burst {
		var ok bool
		var err error
		n := len(out)
		// With nothing in flight, a fence ahead of the update measures
		// the link's latency (pace.go).
		out = c.appendPaceProbe(out)
		m := len(out)
		out, ok, err = c.appendUpdate(out)
		if err != nil {
			return nil, err
		}
		if ok {
			c.reqPending = false
			if c.pacing() {
				out = c.appendPaceFence(out, len(out)-m, c.sentRects, c.sentRefresh)
			}
		} else {
			out = c.dropPaceProbe(out, n)
		}
	}
	c.out = out
	return out, nil
}

// area is what the client asked to be kept up to date.
func (c *serverConn) area() image.Rectangle {
	a := image.Rectangle{}
	if c.reqPending {
		a = c.reqArea
	}
	if c.cu {
		a = a.Union(c.cuArea)
	}
	return a
}

// appendUpdate appends a FramebufferUpdate if there is anything to send.
func (c *serverConn) appendUpdate(out []byte) ([]byte, bool, error) {
	u := updateWriter{conv: c.conv, jpeg: c.s.opts.JPEG, quality: c.pace.quality(c.encs.quality), compress: c.encs.compress,
		noGradient: c.encs.noGradient}
	if q := c.encs.fineQuality; q >= 0 {
		u.fineQuality = max(q, 1)
	}
	if s := c.encs.subsampling; s >= 0 {
		u.subsampling, u.subsamplingSet = turboSubsampling[s], true
	}
	u.begin(out)
	area := c.area()
	c.sentRects, c.sentRefresh = nil, false
	if r := c.extDSReply; r != nil {
		// ExtendedDesktopSize goes alone, without pixel data.
		c.extDSReply = nil
		u.appendExtendedDesktopSize(r.reason, r.status, c.clientW, c.clientH)
		b, ok := u.finish(false)
		return b, ok, nil
	}
	if !c.qemuKeyAck && !c.nameChanged && !c.sub.pending(area) && (c.burst || !c.startRefresh(area)) {
		// A burst carries changes only, never a refresh.
		return out, false, nil
	}
	u.lossless = c.refreshing
	c.sentRefresh = c.refreshing
	c.refreshing = false
	var (
		b   []byte
		ok  bool
		err error
	)
	// The pixels are encoded from the framebuffer itself, under its read
	// lock (a capture waits meanwhile); the connection keeps no copy of
	// the screen.
	c.s.fb.readLocked(func(img *Image) { b, ok, err = c.appendFrame(&u, area, img) })
	return b, ok, err
}

// appendFrame takes the pending changes inside area and appends them to u,
// encoded from img. The caller holds the framebuffer's read lock.
func (c *serverConn) appendFrame(u *updateWriter, area image.Rectangle, img *Image) ([]byte, bool, error) {
	f := c.s.fb.take(c.sub, area, c.encs.copyRect && !c.noCopy)
	for f.resized && f.w == c.clientW && f.h == c.clientH {
		// Resized and back before this client saw it: only the pixels
		// changed, and they are pending now.
		f = c.s.fb.take(c.sub, area, false)
	}
	if f.resized {
		c.clientW, c.clientH = f.w, f.h
		c.forgetLossy()
		switch {
		case c.encs.extendedDesktopSize && !c.encs.ultra:
			u.appendExtendedDesktopSize(extDSServer, DesktopSizeOK, f.w, f.h)
		case c.encs.desktopSize:
			u.appendDesktopSize(f.w, f.h)
		default:
			return nil, false, fmt.Errorf("rfb: the desktop was resized to %dx%d and the client cannot follow", f.w, f.h)
		}
		b, ok := u.finish(false)
		return b, ok, nil
	}
	if c.qemuKeyAck {
		c.qemuKeyAck = false
		u.appendQEMUKeyAck()
	}
	if c.nameChanged {
		c.nameChanged = false
		if c.encs.desktopName {
			c.s.mu.Lock()
			name := c.s.name
			c.s.mu.Unlock()
			u.appendDesktopName(name)
		}
	}
	if f.cursorChanged && c.encs.cursorKind != 0 && f.cursor != nil {
		u.appendCursor(f.cursor, c.encs.cursorKind)
	}
	if f.copy != nil {
		u.appendCopyRect(f.copy.dst, f.copy.dst.Min.Sub(f.copy.delta))
	}
	enc := c.encoder()
	dirty := f.dirty.sorted()
	if c.encs.preferred == EncTight && u.quality >= 0 && !u.lossless {
		dirty = joinRuns(dirty)
	}
	for _, r := range dirty {
		if err := enc.encode(u, img, r); err != nil {
			return nil, false, err
		}
	}
	c.sent(f.copy, dirty, u.lossy)
	c.sentRects = append(make([]image.Rectangle, 0, len(dirty)+1), dirty...)
	if f.copy != nil {
		c.sentRects = append(c.sentRects, f.copy.dst)
	}
	b, ok := u.finish(c.encs.lastRect)
	if ok && !f.dirty.empty() {
		c.noCopy = false
	}
	return b, ok, nil
}

// joinRuns joins rectangles (not overlapping) that abut along a whole
// side into one, first along rows, then along columns, where the run
// they make covers at least joinMinArea pixels, and returns them in the
// order of region.sorted. A joined run covers the same pixels in fewer,
// larger rectangles: the comparison with the client's picture hands back
// a band of a new photo that does not start on its tile grid as a row of
// 64-pixel pieces, each its own JPEG with its own tables, and such a band
// cost twice the bytes of the band whole (the photo workload on the slow
// link, issue 17). Smaller runs stay apart: there joining gains little, and
// a lossless rectangle that joins pieces of different colours can lose
// its palette (a desktop band 16 rows high took 1.85 times the bytes
// joined, lossless); so the caller joins only for JPEG.
func joinRuns(rs []image.Rectangle) []image.Rectangle {
	if len(rs) < 2 {
		return rs
	}
	join := func(key func(r image.Rectangle) [3]int, abut func(a, b image.Rectangle) bool) {
		slices.SortFunc(rs, func(a, b image.Rectangle) int {
			ka, kb := key(a), key(b)
			for i := range ka {
				if ka[i] != kb[i] {
					return ka[i] - kb[i]
				}
			}
			return 0
		})
		out := rs[:0:0]
		for i := 0; i < len(rs); {
			j, u := i+1, rs[i]
			for j < len(rs) && abut(rs[j-1], rs[j]) {
				u = u.Union(rs[j])
				j++
			}
			if j-i > 1 && u.Dx()*u.Dy() >= joinMinArea {
				out = append(out, u)
			} else {
				out = append(out, rs[i:j]...)
			}
			i = j
		}
		rs = out
	}
	join(func(r image.Rectangle) [3]int { return [3]int{r.Min.Y, r.Max.Y, r.Min.X} },
		func(a, b image.Rectangle) bool { return a.Min.Y == b.Min.Y && a.Max.Y == b.Max.Y && a.Max.X == b.Min.X })
	join(func(r image.Rectangle) [3]int { return [3]int{r.Min.X, r.Max.X, r.Min.Y} },
		func(a, b image.Rectangle) bool { return a.Min.X == b.Min.X && a.Max.X == b.Max.X && a.Max.Y == b.Min.Y })
	slices.SortFunc(rs, func(a, b image.Rectangle) int {
		if a.Max.Y != b.Max.Y {
			return a.Max.Y - b.Max.Y
		}
		return a.Max.X - b.Max.X
	})
	return rs
}

// joinMinArea is the least run joinRuns joins: the 65,536 pixels
// TigerVNC's server puts in one Tight subrectangle. With a quarter of it,
// the scrolling terminal's new lines were joined too, and its lag on the
// slow link went from 32 to 45 ms (median of 5 runs).
const joinMinArea = 65536

// encoder returns the connection's encoder for its preferred encoding.
func (c *serverConn) encoder() encoder {
	e := c.encs.preferred
	if enc, ok := c.encoders[e]; ok {
		return enc
	}
	enc := encoderFactories[e]()
	c.encoders[e] = enc
	return enc
}

// clientEncodings is what a client's SetEncodings allows.
type clientEncodings struct {
	preferred                     Encoding
	cursorKind                    Encoding // the cursor pseudo-encoding to send, 0 for none
	copyRect, cursor, desktopSize bool
	extendedDesktopSize, lastRect bool
	desktopName, fence, qemuKey   bool
	continuousUpdates             bool
	ultra                         bool // UltraVNC viewer (private pseudo-encodings)
	quality, compress             int
	fineQuality, subsampling      int  // TurboVNC's JPEG settings, -1 when not sent
	noGradient                    bool // the client may not decode Tight's gradient filter
	list                          []Encoding
}

// turboSubsampling maps TurboVNC's subsampling pseudo-encodings (1X, 4X,
// 2X, grey, 8X, 16X) to what the JPEG encoder makes; 8X and 16X get the
// strongest it has.
var turboSubsampling = [6]Subsampling{Subsample444, Subsample420, Subsample422, SubsampleGray, Subsample420, Subsample420}

func (e *clientEncodings) reset() {
	*e = clientEncodings{preferred: EncRaw, quality: -1, compress: -1, fineQuality: -1, subsampling: -1}
}

// set reads a SetEncodings list. The first data encoding the server has
// is the one used; CopyRect and pseudo-encodings are flags; unknown values
// are ignored as the protocol requires.
func (e *clientEncodings) set(list []Encoding, available func(Encoding) bool) {
	e.reset()
	e.list = slices.Clone(list)
	chosen := false
	var rich, alpha, vmware, xvp, led bool
	for _, enc := range list {
		switch {
		case enc == EncCopyRect:
			e.copyRect = true
		case enc == EncCursor:
			rich = true
		case enc == EncCursorWithAlpha:
			alpha = true
		case enc == EncVMwareCursor:
			vmware = true
		case enc == EncXvp:
			xvp = true
		case enc == EncQEMULEDState:
			led = true
		case enc >= EncFineQualityLevel0 && enc <= EncFineQualityLevel0+100:
			if e.fineQuality < 0 {
				e.fineQuality = int(enc - EncFineQualityLevel0)
			}
		case enc >= EncSubsamp1X && enc <= EncSubsamp1X+5:
			if e.subsampling < 0 {
				e.subsampling = int(enc - EncSubsamp1X)
			}
		case enc == EncDesktopSize:
			e.desktopSize = true
		case enc == EncExtendedDesktopSize:
			e.extendedDesktopSize = true
		case enc == EncLastRect:
			e.lastRect = true
		case enc == EncDesktopName:
			e.desktopName = true
		case enc == EncFence:
			e.fence = true
		case enc == EncContinuousUpdates:
			e.continuousUpdates = true
		case enc == EncQEMUExtendedKey:
			e.qemuKey = true
		case enc >= EncQualityLevel0 && enc <= EncQualityLevel0+9:
			if e.quality < 0 {
				e.quality = int(enc - EncQualityLevel0)
			}
		case enc >= EncCompressLevel0 && enc <= EncCompressLevel0+9:
			if e.compress < 0 {
				e.compress = int(enc - EncCompressLevel0)
			}
		case enc.isUltraPrivate():
			e.ultra = true
		case !chosen && !enc.IsPseudo() && available(enc):
			e.preferred = enc
			chosen = true
		}
	}
	// The cursor: the pseudo-encoding every viewer that asks for it
	// reads right, whatever the order of the list. The Cursor
	// pseudo-encoding carries pixels in the client's pixel format; noVNC
	// reads them as B, G, R, X although it asks for R, G, B, X, and
	// gtk-vnc stores them in its RGBA picture in the host's byte order,
	// so both show red and blue swapped. Both ask for a better one.
	switch {
	case alpha:
		e.cursorKind = EncCursorWithAlpha // TigerVNC, gtk-vnc ≥ 1.2
	case vmware:
		e.cursorKind = EncVMwareCursor // noVNC ≥ 1.2
	case rich:
		e.cursorKind = EncCursor // libvncclient, TightVNC, UltraVNC
	}
	e.cursor = e.cursorKind != 0
	// Tight's gradient filter: noVNC decodes it only since 1.5.0 and
	// before that drops the connection ("Gradient filter not
	// implemented"). noVNC is the viewer that asks for Xvp without QEMU
	// LED state; 1.5.0 added LED state together with the gradient filter.
	// gtk-vnc asks for both and decodes the filter; TigerVNC, TightVNC
	// and libvncclient do not ask for Xvp.
	e.noGradient = xvp && !led
}
