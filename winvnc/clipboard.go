package winvnc

import (
	"context"
	"fmt"
	"sync/atomic"
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
//     after that gets nothing).
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
	files   bool                      // Files as last shown; the agent's loop's
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
// text, put on the customer's clipboard while Control is on.
func (a *agent) pasteFromSupporter(text string) {
	if !a.rights.Control() {
		n := a.clip.dropped.Add(1)
		a.log.Info("winvnc: supporter's clipboard dropped (no control granted)", "bytes", len(text), "dropped", n)
		return
	}
	p := a.clip.cb.Load()
	if p == nil {
		return
	}
	if err := (*p).SetText(text); err != nil {
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
			if !a.rights.Files() {
				continue
			}
			a.srv.SendCutText(text)
			a.log.Info("winvnc: customer's clipboard offered to the supporter", "bytes", len(text))
		case <-ctx.Done():
			return
		}
	}
}

// clipboardRights follows a change of the rights: without Files the
// customer's clipboard is withdrawn from the viewers.
func (a *agent) clipboardRights(ev EvRights) {
	was := a.clip.files
	a.clip.files = ev.Files
	if was && !ev.Files && a.srv != nil {
		a.srv.ClearCutText()
		a.log.Info("winvnc: customer's clipboard withdrawn (file transfer forbidden)")
	}
}
