//go:build linux || windows

package main

import (
	"context"

	"fyne.io/systray"

	"lifebuoy/winvnc"
)

// The tray's file items: "Send files…" opens the desktop's own file
// chooser (pickFiles) and offers the chosen files to the supporter, as
// "send FILE" does; below it, the latest transfer's line with its
// progress (all of them are in the terminal UI).

func (t *tray) addFileItems() {
	t.mSend = systray.AddMenuItem("Send files…", "Offer files to the supporter (they fetch them while file transfer is allowed)")
	t.mTransfer = systray.AddMenuItem("", "")
	t.mTransfer.Disable()
	t.mTransfer.Hide()
	t.mCancel = systray.AddMenuItem("Cancel file transfers", "Stop every file transfer now")
	t.mCancel.Hide()
}

// sendFiles asks the customer for files and offers each.
func (t *tray) sendFiles(ctx context.Context, cmds chan<- winvnc.Command) {
	paths, err := pickFiles(ctx, "Send files to the supporter")
	if err != nil {
		t.mu.Lock()
		t.mTransfer.SetTitle("Cannot choose files: " + err.Error())
		t.mTransfer.Show()
		t.mu.Unlock()
		return
	}
	for _, p := range paths {
		select {
		case cmds <- winvnc.CmdSend{Path: p}:
		case <-ctx.Done():
			return
		}
	}
}

// showTransfer shows a transfer's line, and "Cancel file transfers"
// while any runs; t.mu is held.
func (t *tray) showTransfer(ev winvnc.EvTransfer) {
	t.mTransfer.SetTitle(ev.Line())
	t.mTransfer.Show()
	if t.running == nil {
		t.running = map[int]bool{}
	}
	if ev.State == winvnc.TransferRunning {
		t.running[ev.ID] = true
	} else {
		delete(t.running, ev.ID)
	}
	if len(t.running) > 0 {
		t.mCancel.Show()
	} else {
		t.mCancel.Hide()
	}
}
