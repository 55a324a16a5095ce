//go:build linux || windows

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/systray"

	"lifebuoy/winvnc"
)

// tray is the agent's tray icon (fyne.io/systray): the session code, the
// connection state, the rights as checkable items, the consent question
// and "End session". Choosing windows is left to the terminal UI.
//
// systray is one per process and runs its own loop; Show may come before
// the menu exists, so events wait in pending until onReady has built it.
type tray struct {
	ready chan struct{}

	mu      sync.Mutex
	built   bool
	pending []winvnc.Event
	code    string
	state   string
	control bool

	mCode, mState, mAllow, mDecline *systray.MenuItem
	mControl, mFiles, mShareAll     *systray.MenuItem
	mSend, mTransfer, mCancel       *systray.MenuItem // tray_files.go
	running                         map[int]bool      // transfers under way
	mEnd                            *systray.MenuItem
}

func newTray() *tray { return &tray{ready: make(chan struct{})} }

// onReady builds the menu; systray calls it once its loop runs.
func (t *tray) onReady() {
	systray.SetIcon(trayIcon())
	systray.SetTitle(brand())
	systray.SetTooltip(brand() + " remote support")
	t.mCode = systray.AddMenuItem("Session code: …", "Read this code to your supporter")
	t.mCode.Disable()
	t.mState = systray.AddMenuItem("Connecting…", "")
	t.mState.Disable()
	systray.AddSeparator()
	t.mAllow = systray.AddMenuItem("Allow the supporter to see my screen", "")
	t.mDecline = systray.AddMenuItem("Decline", "Do not show my screen")
	t.mAllow.Hide()
	t.mDecline.Hide()
	t.mControl = systray.AddMenuItemCheckbox("Allow remote control (F12 takes it back)", "", false)
	t.mFiles = systray.AddMenuItemCheckbox("Allow file transfer (F11)", "", false)
	t.mShareAll = systray.AddMenuItem("Share the whole screen", "Undo a choice of windows")
	t.addFileItems()
	systray.AddSeparator()
	t.mEnd = systray.AddMenuItem("End session", "Stop sharing and quit")

	t.mu.Lock()
	defer t.mu.Unlock()
	t.built = true
	for _, ev := range t.pending {
		t.apply(ev)
	}
	t.pending = nil
	close(t.ready)
}

// Run implements winvnc.UI: menu clicks become commands.
func (t *tray) Run(ctx context.Context, cmds chan<- winvnc.Command) error {
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil
	}
	for {
		var c winvnc.Command
		select {
		case <-ctx.Done():
			return nil
		case <-t.mAllow.ClickedCh:
			c = winvnc.CmdAnswer{Yes: true}
		case <-t.mDecline.ClickedCh:
			c = winvnc.CmdAnswer{Yes: false}
		case <-t.mControl.ClickedCh:
			// The item is checked when the agent reports the new rights.
			c = winvnc.CmdControl{On: !t.mControl.Checked()}
		case <-t.mFiles.ClickedCh:
			c = winvnc.CmdFiles{On: !t.mFiles.Checked()}
		case <-t.mShareAll.ClickedCh:
			c = winvnc.CmdShareAll{}
		case <-t.mEnd.ClickedCh:
			c = winvnc.CmdEnd{}
		case <-t.mCancel.ClickedCh:
			c = winvnc.CmdCancel{}
		case <-t.mSend.ClickedCh:
			go t.sendFiles(ctx, cmds) // the dialog waits for the customer
			continue
		}
		select {
		case cmds <- c:
		case <-ctx.Done():
			return nil
		}
	}
}

// Show implements winvnc.UI.
func (t *tray) Show(ev winvnc.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.built {
		t.pending = append(t.pending, ev)
		return
	}
	t.apply(ev)
}

// apply shows ev in the menu; t.mu is held.
func (t *tray) apply(ev winvnc.Event) {
	switch ev := ev.(type) {
	case winvnc.EvCode:
		t.code = winvnc.GroupCode(ev.Code)
		t.mCode.SetTitle("Session code: " + t.code)
	case winvnc.EvState:
		t.state = ev.State.String()
		t.mState.SetTitle(ev.Detail)
	case winvnc.EvPrompt:
		t.mAllow.SetTitle(ev.Question + " Yes")
		t.mAllow.Show()
		t.mDecline.Show()
	case winvnc.EvPromptClosed:
		t.mAllow.Hide()
		t.mDecline.Hide()
	case winvnc.EvRights:
		t.control = ev.Control
		check(t.mControl, ev.Control)
		check(t.mFiles, ev.Files)
	case winvnc.EvTransfer:
		t.showTransfer(ev)
		return
	case winvnc.EvMessage, winvnc.EvWindows:
		return
	}
	tip := "Lifebuoy remote support"
	if t.code != "" {
		tip += ", code " + t.code
	}
	rights := "view only"
	if t.control {
		rights = "remote control allowed"
	}
	systray.SetTooltip(fmt.Sprintf("%s: %s, %s", tip, t.state, rights))
}

func check(m *systray.MenuItem, on bool) {
	if on {
		m.Check()
	} else {
		m.Uncheck()
	}
}

// runWithTray runs the agent with the tray beside the terminal. systray's
// loop must own the main thread (systray locks it in its init), so the
// agent runs on another goroutine and stops the loop when it ends.
func runWithTray(agent func(ui winvnc.UI) int, term winvnc.UI) int {
	t := newTray()
	code := make(chan int, 1)
	go func() {
		code <- agent(winvnc.MultiUI(t, term))
		// Quitting while onReady still builds the menu would have it
		// write to a closed bus connection, which panics.
		select {
		case <-t.ready:
		case <-time.After(5 * time.Second):
		}
		systray.Quit()
	}()
	systray.Run(t.onReady, nil)
	return <-code
}

var _ winvnc.UI = (*tray)(nil)
