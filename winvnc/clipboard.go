package winvnc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"lifebuoy/rfb"
)

// The clipboard between the customer and the supporter, under the
// customer's rights (enforced here, whatever the viewer does):
//
//   - Control covers the supporter's clipboard pasted in: text a viewer
//     sends is put on the customer's clipboard only while Control is on,
//     and dropped (counted) otherwise.
//   - Files covers the customer's clipboard going out: only what the
//     customer copies while Files is on is offered to the viewers (the
//     clipboard held before is not), and turning Files off withdraws it
//     (viewers with Extended Clipboard are told it is empty; a request
//     after that gets nothing; text not yet sent is dropped).
//   - Both hold the rights' lock (Rights.WithControl, WithFiles,
//     OnFilesOff), so a change of a right is in force before the next
//     event: once F12 or F11 returns, no paste or offer of the old grant
//     is still under way.
//   - In direct mode every viewer's server shares the clipboard, and
//     only the viewer that holds control may paste.
//
// Only sizes are logged, never the text.

// clipboardMax bounds clipboard text both ways (UTF-8 bytes).
const clipboardMax = 1 << 20

// clipboard is the platform's clipboard.
type clipboard interface {
	// SetText puts text (LF line ends) on the clipboard as if the
	// customer had copied it; the platform does not report it back.
	SetText(text string) error
	// Changes delivers the text of each copy made by others.
	Changes() <-chan string
	Close() error
}

// clipboardPlatform is a platform that has a clipboard.
type clipboardPlatform interface {
	openClipboard(max int) (clipboard, error)
}

// agentClipboard is the agent's side of the clipboard.
type agentClipboard struct {
	cb      atomic.Pointer[clipboard] // nil until open, and without one
	dropped atomic.Int64              // pastes refused without Control

	mu      sync.Mutex
	servers map[*rfb.Server]struct{} // direct mode's servers, one a viewer, beside agent.srv
	offered string                   // the customer's copy the viewers are offered
	has     bool                     // offered holds one (only while Files is on)
}

// openClipboard opens the platform's clipboard, if it has one.
func (a *agent) openClipboard() clipboard {
	cp, ok := a.p.(clipboardPlatform)
	if !ok {
		return nil
	}
	cb, err := cp.openClipboard(clipboardMax)
	if err != nil {
		a.log.Warn("winvnc: no clipboard", "err", err)
		return nil
	}
	a.clip.cb.Store(&cb)
	return cb
}

// pasteFromSupporter is the RFB server's OnCutText: a viewer's clipboard
// text, put on the customer's clipboard while Control is on. The paste
// happens with the grant held, so none lands once F12 has returned.
func (a *agent) pasteFromSupporter(text string) {
	p := a.clip.cb.Load()
	var err error
	pasted := a.rights.WithControl(func() {
		if p != nil {
			err = (*p).SetText(text)
		}
	})
	switch {
	case !pasted:
		n := a.clip.dropped.Add(1)
		a.log.Info("winvnc: supporter's clipboard dropped (no control granted)", "bytes", len(text), "dropped", n)
		return
	case p == nil:
		return
	case err != nil:
		a.log.Warn("winvnc: pasting the supporter's clipboard", "bytes", len(text), "err", err)
		return
	}
	a.log.Info("winvnc: supporter's clipboard pasted", "bytes", len(text))
	select {
	case a.events <- EvMessage{fmt.Sprintf("The supporter put %d characters on your clipboard.", len([]rune(text)))}:
	default: // the UI is busy; the log has it
	}
}

// followClipboard offers what the customer copies to the viewers while
// Files is on, until ctx ends; it closes the clipboard then.
func (a *agent) followClipboard(ctx context.Context, cb clipboard) {
	defer cb.Close()
	for {
		select {
		case text := <-cb.Changes():
			if a.rights.WithFiles(func() { a.offerClipboard(text) }) {
				a.log.Info("winvnc: customer's clipboard offered to the supporter", "bytes", len(text))
			}
		case <-ctx.Done():
			return
		}
	}
}

// offerClipboard puts the customer's copy on every viewer's clipboard;
// under Rights.WithFiles.
func (a *agent) offerClipboard(text string) {
	c := &a.clip
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offered, c.has = text, true
	a.srv.SendCutText(text)
	for s := range c.servers {
		s.SendCutText(text)
	}
}

// withdrawClipboard takes the customer's copy back from every viewer;
// Rights calls it, under its lock, when Files goes off.
func (a *agent) withdrawClipboard() {
	c := &a.clip
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.has {
		return
	}
	c.offered, c.has = "", false
	a.srv.ClearCutText()
	for s := range c.servers {
		s.ClearCutText()
	}
	a.log.Info("winvnc: customer's clipboard withdrawn (file transfer forbidden)")
}

// addClipboardServer lets a direct-mode viewer's server share the
// clipboard (it gets the copy offered now); the returned func ends that.
func (a *agent) addClipboardServer(s *rfb.Server) (remove func()) {
	c := &a.clip
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.servers == nil {
		c.servers = map[*rfb.Server]struct{}{}
	}
	c.servers[s] = struct{}{}
	if c.has {
		s.SendCutText(c.offered)
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.servers, s)
	}
}
