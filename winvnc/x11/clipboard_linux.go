//go:build linux

package x11

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// The X11 clipboard, on the Display's one connection (ICCCM §2):
//
//	copy elsewhere:  XFIXES SelectionNotify(CLIPBOARD, owner)
//	                 → ConvertSelection(CLIPBOARD, UTF8_STRING, prop, our window)
//	                 → SelectionNotify → GetProperty(prop, delete)
//	                   (type INCR: the owner sends chunks, one per
//	                   PropertyNotify(NewValue) we answer with a delete,
//	                   until an empty one)
//	paste from us:   SetSelectionOwner(CLIPBOARD and PRIMARY, our window)
//	                 SelectionRequest(target) → ChangeProperty(requestor,
//	                 prop) → SendEvent(SelectionNotify)
//	                   (more than a chunk: type INCR first, then a chunk
//	                   for each PropertyNotify(Deleted) of the requestor,
//	                   and an empty one at the end)
//	someone else copies: SelectionClear → we own nothing any more
//
// Everything runs on one goroutine that waits for events: the clipboard
// costs nothing while nobody copies.

// Clipboard owns the X selections for text that comes from elsewhere and
// follows the CLIPBOARD selection's changes. The zero value is not
// usable; see NewClipboard.
type Clipboard struct {
	d      *Display
	win    xproto.Window
	max    int
	remove func()

	mu     sync.Mutex
	queue  []xgb.Event
	wake   chan struct{} // buffered 1: queue has events
	set    chan string   // SetText's text for run
	setErr chan error
	text   chan string // changes by others, latest only (buffered 1)
	stop   context.CancelFunc
	done   chan struct{}

	atoms clipAtoms
}

type clipAtoms struct {
	clipboard, primary, targets, timestamp, utf8, text, textPlain, incr, atom, prop xproto.Atom
}

// Clipboard timing and sizes.
const (
	clipChunk       = 64 << 10        // bytes per ChangeProperty; above this a paste goes INCR
	clipStepTimeout = 5 * time.Second // a peer that stops answering in an exchange
	clipQueueMax    = 4096            // events kept for the clipboard's goroutine
)

// NewClipboard starts following the clipboard. Texts longer than max
// bytes are neither read nor served. It needs XFIXES to notice copies;
// without it ErrNoExtension.
func NewClipboard(d *Display, max int) (*Clipboard, error) {
	if !d.Has(ExtXFixes) {
		return nil, fmt.Errorf("x11: clipboard: XFIXES: %w", ErrNoExtension)
	}
	c := &Clipboard{d: d, max: max, wake: make(chan struct{}, 1), set: make(chan string),
		setErr: make(chan error), text: make(chan string, 1), done: make(chan struct{})}
	err := guard(func() error {
		for _, a := range []struct {
			dst  *xproto.Atom
			name string
		}{
			{&c.atoms.clipboard, "CLIPBOARD"}, {&c.atoms.primary, "PRIMARY"}, {&c.atoms.targets, "TARGETS"},
			{&c.atoms.timestamp, "TIMESTAMP"}, {&c.atoms.utf8, "UTF8_STRING"}, {&c.atoms.text, "TEXT"},
			{&c.atoms.textPlain, "text/plain;charset=utf-8"}, {&c.atoms.incr, "INCR"}, {&c.atoms.atom, "ATOM"},
			{&c.atoms.prop, "LIFEBUOY_CLIPBOARD"},
		} {
			var err error
			if *a.dst, err = d.atom(a.name); err != nil {
				return err
			}
		}
		wid, err := xproto.NewWindowId(d.conn)
		if err != nil {
			return err
		}
		// An unmapped InputOnly window that hears its own property changes.
		if err := xproto.CreateWindowChecked(d.conn, 0, wid, d.root, -1, -1, 1, 1, 0, xproto.WindowClassInputOnly,
			0, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange}).Check(); err != nil {
			return fmt.Errorf("x11: clipboard window: %w", err)
		}
		c.win = wid
		return xfixes.SelectSelectionInputChecked(d.conn, wid, c.atoms.clipboard,
			xfixes.SelectionEventMaskSetSelectionOwner).Check()
	})
	if err != nil {
		if c.win != 0 {
			xproto.DestroyWindow(d.conn, c.win)
		}
		return nil, fmt.Errorf("x11: clipboard: %w", err)
	}
	c.remove = d.handle(c.filter)
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go c.run(ctx)
	return c, nil
}

// Changes delivers the CLIPBOARD's text whenever another program puts
// text there (only the latest is kept for a slow reader).
func (c *Clipboard) Changes() <-chan string { return c.text }

// SetText makes text the CLIPBOARD and PRIMARY selections, as if the
// customer had copied it; it is served until someone else copies.
func (c *Clipboard) SetText(text string) error {
	if len(text) > c.max {
		return fmt.Errorf("x11: clipboard text of %d bytes exceeds %d", len(text), c.max)
	}
	select {
	case c.set <- text:
		return <-c.setErr
	case <-c.done:
		return errors.New("x11: clipboard closed")
	}
}

// Close stops following the clipboard and gives up the selections.
func (c *Clipboard) Close() error {
	c.stop()
	<-c.done
	c.remove()
	guard(func() error {
		xproto.DestroyWindow(c.d.conn, c.win) // gives up the selections it owns
		return c.d.sync()
	})
	return nil
}

// filter runs on the Display's reader: it queues the events the
// clipboard needs and never blocks.
func (c *Clipboard) filter(ev xgb.Event) {
	switch e := ev.(type) {
	case xfixes.SelectionNotifyEvent:
		if e.Window != c.win {
			return
		}
	case xproto.SelectionRequestEvent:
		if e.Owner != c.win {
			return
		}
	case xproto.SelectionClearEvent:
		if e.Owner != c.win {
			return
		}
	case xproto.SelectionNotifyEvent:
		if e.Requestor != c.win {
			return
		}
	case xproto.PropertyNotifyEvent:
		// Ours (a fetch), or a requestor's delete (a paste in chunks).
		if e.Window != c.win && e.State != xproto.PropertyDelete {
			return
		}
	default:
		return
	}
	c.mu.Lock()
	if len(c.queue) < clipQueueMax {
		c.queue = append(c.queue, ev)
	} else {
		c.d.log.Warn("x11: clipboard events dropped: the queue is full")
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// clipState is the run goroutine's state.
type clipState struct {
	owned    string // what we serve
	owning   bool
	fetching bool      // a ConvertSelection of ours is out
	fetchAt  time.Time // when it went out
	utf8Done bool      // the fetch asked for UTF8_STRING (else STRING)
	incr     []byte    // an INCR read under way (nil: none)
	sends    map[incrKey]*incrSend
}

// incrKey names a paste being sent in chunks: the requestor's window and
// property.
type incrKey struct {
	win  xproto.Window
	prop xproto.Atom
}

type incrSend struct {
	typ  xproto.Atom
	data []byte
	at   time.Time
}

func (c *Clipboard) run(ctx context.Context) {
	defer close(c.done)
	st := &clipState{sends: map[incrKey]*incrSend{}}
	var tick <-chan time.Time // only while an exchange is under way
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.d.Done():
			return
		case text := <-c.set:
			c.setErr <- guard(func() error { return c.own(st, text) })
		case <-c.wake:
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, ev := range q {
				if err := guard(func() error { return c.event(st, ev) }); err != nil {
					c.d.log.Debug("x11: clipboard", "err", err)
				}
			}
		case now := <-tick:
			c.expire(st, now)
		}
		busy := st.fetching || st.incr != nil || len(st.sends) > 0
		switch {
		case busy && ticker == nil:
			ticker = time.NewTicker(clipStepTimeout / 2)
			tick = ticker.C
		case !busy && ticker != nil:
			ticker.Stop()
			ticker, tick = nil, nil
		}
	}
}

// expire gives up exchanges whose peer went quiet.
func (c *Clipboard) expire(st *clipState, now time.Time) {
	if (st.fetching || st.incr != nil) && now.Sub(st.fetchAt) > clipStepTimeout {
		c.d.log.Info("x11: clipboard owner did not answer; text not taken")
		st.fetching, st.incr = false, nil
	}
	for k, s := range st.sends {
		if now.Sub(s.at) > clipStepTimeout {
			delete(st.sends, k)
		}
	}
}

func (c *Clipboard) own(st *clipState, text string) error {
	st.owned, st.owning = text, true
	for _, sel := range []xproto.Atom{c.atoms.clipboard, c.atoms.primary} {
		xproto.SetSelectionOwner(c.d.conn, c.win, sel, xproto.TimeCurrentTime)
	}
	r, err := xproto.GetSelectionOwner(c.d.conn, c.atoms.clipboard).Reply()
	if err != nil {
		return err
	}
	if r.Owner != c.win {
		st.owning = false
		return errors.New("x11: could not own the clipboard")
	}
	return nil
}

func (c *Clipboard) event(st *clipState, ev xgb.Event) error {
	switch e := ev.(type) {
	case xfixes.SelectionNotifyEvent:
		if e.Owner == c.win || e.Owner == 0 {
			return nil
		}
		// Someone else copied: fetch it, newest wins.
		st.fetching, st.fetchAt, st.utf8Done, st.incr = true, time.Now(), true, nil
		xproto.ConvertSelection(c.d.conn, c.win, c.atoms.clipboard, c.atoms.utf8, c.atoms.prop, e.SelectionTimestamp)
	case xproto.SelectionNotifyEvent:
		return c.fetched(st, e)
	case xproto.PropertyNotifyEvent:
		if e.Window == c.win && e.Atom == c.atoms.prop && e.State == xproto.PropertyNewValue && st.incr != nil {
			return c.incrChunk(st)
		}
		if e.State == xproto.PropertyDelete {
			if s := st.sends[incrKey{e.Window, e.Atom}]; s != nil {
				c.sendChunk(st, incrKey{e.Window, e.Atom}, s)
			}
		}
	case xproto.SelectionRequestEvent:
		c.serve(st, e)
	case xproto.SelectionClearEvent:
		if e.Selection == c.atoms.clipboard {
			st.owning, st.owned = false, ""
		}
	}
	return nil
}

// fetched reads the answer to our ConvertSelection.
func (c *Clipboard) fetched(st *clipState, e xproto.SelectionNotifyEvent) error {
	if !st.fetching || e.Selection != c.atoms.clipboard {
		return nil
	}
	if e.Property == xproto.AtomNone {
		if st.utf8Done {
			// The owner has no UTF8_STRING: ask for STRING (Latin-1).
			st.utf8Done = false
			xproto.ConvertSelection(c.d.conn, c.win, c.atoms.clipboard, xproto.AtomString, c.atoms.prop, e.Time)
			return nil
		}
		st.fetching = false
		return nil
	}
	r, err := c.readProp(true)
	if err != nil {
		st.fetching = false
		return err
	}
	if r.Type == c.atoms.incr {
		// Chunks follow, each announced by a NewValue on the property
		// (the delete above asked for the first).
		st.incr = []byte{}
		st.fetchAt = time.Now()
		return nil
	}
	st.fetching = false
	if r.BytesAfter > 0 {
		c.d.log.Info("x11: clipboard text too long; not taken", "limit", c.max)
		return nil
	}
	c.deliver(r.Type, r.Value)
	return nil
}

// incrChunk takes one chunk of an INCR transfer.
func (c *Clipboard) incrChunk(st *clipState) error {
	r, err := c.readProp(true)
	if err != nil {
		st.fetching, st.incr = false, nil
		return err
	}
	st.fetchAt = time.Now()
	if len(r.Value) == 0 {
		data := st.incr
		st.fetching, st.incr = false, nil
		c.deliver(r.Type, data)
		return nil
	}
	if len(st.incr)+len(r.Value) > c.max || r.BytesAfter > 0 {
		// Too long: stop listening; the owner times out on its side.
		c.d.log.Info("x11: clipboard text too long; not taken", "limit", c.max)
		st.fetching, st.incr = false, nil
		return nil
	}
	st.incr = append(st.incr, r.Value...)
	return nil
}

// readProp reads (and deletes) our property, at most max bytes.
func (c *Clipboard) readProp(del bool) (*xproto.GetPropertyReply, error) {
	return xproto.GetProperty(c.d.conn, del, c.win, c.atoms.prop, xproto.GetPropertyTypeAny, 0, uint32(c.max+3)/4).Reply()
}

// deliver hands new clipboard text to Changes, replacing an unread one.
func (c *Clipboard) deliver(typ xproto.Atom, b []byte) {
	var text string
	switch typ {
	case c.atoms.utf8, c.atoms.textPlain, c.atoms.text:
		text = string(b)
	case xproto.AtomString:
		text = latin1ToUTF8(b)
	default:
		return
	}
	if !utf8.ValidString(text) {
		text = string([]rune(text)) // replaces invalid bytes with U+FFFD
	}
	select {
	case <-c.text:
	default:
	}
	c.text <- text
}

func latin1ToUTF8(b []byte) string {
	r := make([]rune, len(b))
	for i, ch := range b {
		r[i] = rune(ch)
	}
	return string(r)
}

// serve answers another program's paste.
func (c *Clipboard) serve(st *clipState, e xproto.SelectionRequestEvent) {
	prop := e.Property
	if prop == xproto.AtomNone {
		prop = e.Target // an obsolete requestor
	}
	ok := st.owning && (e.Selection == c.atoms.clipboard || e.Selection == c.atoms.primary)
	if ok {
		switch e.Target {
		case c.atoms.targets:
			var b []byte
			for _, a := range []xproto.Atom{c.atoms.targets, c.atoms.timestamp, c.atoms.utf8, c.atoms.textPlain, c.atoms.text, xproto.AtomString} {
				b = binary.LittleEndian.AppendUint32(b, uint32(a))
			}
			// Format 32 data travels in the client's byte order; xgb
			// speaks little-endian.
			xproto.ChangeProperty(c.d.conn, xproto.PropModeReplace, e.Requestor, prop, c.atoms.atom, 32, uint32(len(b)/4), b)
		case c.atoms.timestamp:
			xproto.ChangeProperty(c.d.conn, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomInteger, 32, 1,
				binary.LittleEndian.AppendUint32(nil, uint32(xproto.TimeCurrentTime)))
		case c.atoms.utf8, c.atoms.textPlain, c.atoms.text:
			c.put(st, e.Requestor, prop, e.Target, []byte(st.owned))
		case xproto.AtomString:
			c.put(st, e.Requestor, prop, xproto.AtomString, utf8ToLatin1(st.owned))
		default:
			ok = false
		}
	}
	if !ok {
		prop = xproto.AtomNone
	}
	ev := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
	xproto.SendEvent(c.d.conn, false, e.Requestor, 0, string(ev.Bytes()))
}

// put stores data in the requestor's property, in one piece or, when it
// is larger than a chunk, through INCR.
func (c *Clipboard) put(st *clipState, win xproto.Window, prop, typ xproto.Atom, data []byte) {
	if len(data) <= clipChunk {
		xproto.ChangeProperty(c.d.conn, xproto.PropModeReplace, win, prop, typ, 8, uint32(len(data)), data)
		return
	}
	// Hear the requestor delete the property, which asks for the next
	// chunk. The event mask is per client: the requestor's own is not
	// touched.
	xproto.ChangeWindowAttributes(c.d.conn, win, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange})
	xproto.ChangeProperty(c.d.conn, xproto.PropModeReplace, win, prop, c.atoms.incr, 32, 1,
		binary.LittleEndian.AppendUint32(nil, uint32(len(data))))
	st.sends[incrKey{win, prop}] = &incrSend{typ: typ, data: data, at: time.Now()}
}

// sendChunk writes the next chunk of an INCR paste; the empty one ends it.
func (c *Clipboard) sendChunk(st *clipState, k incrKey, s *incrSend) {
	n := min(len(s.data), clipChunk)
	xproto.ChangeProperty(c.d.conn, xproto.PropModeReplace, k.win, k.prop, s.typ, 8, uint32(n), s.data[:n])
	s.at = time.Now()
	if n == 0 {
		delete(st.sends, k)
		xproto.ChangeWindowAttributes(c.d.conn, k.win, xproto.CwEventMask, []uint32{0})
		return
	}
	s.data = s.data[n:]
}

func utf8ToLatin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return b
}
