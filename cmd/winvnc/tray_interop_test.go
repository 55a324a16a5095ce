//go:build interop && linux

package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/winvnc"
)

// fakeWatcher stands in for the desktop's StatusNotifierWatcher and
// reports the bus name of each item that registers.
type fakeWatcher struct{ items chan string }

func (w *fakeWatcher) RegisterStatusNotifierItem(service string, sender dbus.Sender) *dbus.Error {
	w.items <- string(sender)
	return nil
}

// startBus runs a private session bus for the test and points
// DBUS_SESSION_BUS_ADDRESS at it.
func startBus(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dbus-daemon did not start")
		}
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
}

// The tray appears only with a watcher, registers its item, shows the
// code and the rights, and its "End session" item ends the agent.
func TestInteropTray(t *testing.T) {
	if trayTested.Swap(true) {
		t.Skip("systray runs once per process (go test -count)")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if trayAvailable() {
		t.Fatal("a tray without a session bus")
	}
	// The desktop's file chooser (the portal's GTK dialog, which the bus
	// starts) shows on this display.
	rfbtest.LookPath(t, "xdotool", "/usr/libexec/xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal-gtk")
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	t.Setenv("DISPLAY", x.Display)
	startBus(t)
	if trayAvailable() {
		t.Fatal("a tray without a StatusNotifierWatcher")
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &fakeWatcher{items: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", watcherName); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", reply, err)
	}
	if !trayAvailable() {
		t.Fatal("no tray although a watcher is there")
	}

	ended := make(chan int, 1)
	fileCmds := make(chan winvnc.Command, 4)
	agent := func(ui winvnc.UI) int {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ui.Show(winvnc.EvCode{Code: "482913", Expires: time.Now().Add(time.Minute)})
		ui.Show(winvnc.EvRights{Control: true})
		cmds := make(chan winvnc.Command)
		go ui.Run(ctx, cmds)
		for {
			select {
			case c := <-cmds:
				switch c := c.(type) {
				case winvnc.CmdEnd:
					return 7
				case winvnc.CmdSend, winvnc.CmdCancel:
					fileCmds <- c
					if _, ok := c.(winvnc.CmdSend); ok {
						ui.Show(winvnc.EvTransfer{ID: 1, Sending: true, Name: "report.txt", Size: 100, Done: 40})
					}
				}
			case <-ctx.Done():
				return 1
			}
		}
	}
	go func() { ended <- runWithTray(agent, winvnc.NewTerminal(eofReader{}, io.Discard)) }()

	var item string
	select {
	case item = <-w.items:
	case <-time.After(10 * time.Second):
		t.Fatal("the tray item never registered")
	}
	menu := conn.Object(item, "/StatusNotifierItem/menu")
	// The items' properties, polled until the menu is built. GetLayout
	// would do, but systray v1.12.2 bumps its menu version without a lock
	// 150 ms after the first GetLayout, which -race reports.
	ids := make([]int32, 64)
	for i := range ids {
		ids[i] = int32(i)
	}
	labels := map[string]int32{}
	checked := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var props []struct {
			ID    int32
			Props map[string]dbus.Variant
		}
		err := menu.Call("com.canonical.dbusmenu.GetGroupProperties", 0, ids, []string{}).Store(&props)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range props {
			label, _ := p.Props["label"].Value().(string)
			labels[label] = p.ID
			state, _ := p.Props["toggle-state"].Value().(int32)
			checked[label] = state == 1
		}
		// The code's line and the rights' checks come in separate menu
		// updates: wait for both.
		_, shown := labels["Session code: 482 913"]
		if shown && checked["Allow remote control (F12 takes it back)"] {
			break
		}
		if time.Now().After(deadline) {
			if !shown {
				t.Fatalf("the menu never showed the code: %v", labels)
			}
			break
		}
	}
	if !checked["Allow remote control (F12 takes it back)"] {
		t.Errorf("remote control is not shown as allowed: %v", checked)
	}
	// "Send files…": the customer picks a file in the desktop's dialog,
	// and the agent is asked to offer it; the transfer's line shows, with
	// "Cancel file transfers", which cancels.
	click := func(label string) {
		t.Helper()
		id, ok := labels[label]
		if !ok {
			t.Fatalf("no %q item: %v", label, labels)
		}
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "report.txt")
	os.WriteFile(file, []byte("x"), 0o600)
	click("Send files…")
	chooseFile(t, x, "Send files to the supporter", file)
	select {
	case c := <-fileCmds:
		if c != (winvnc.CmdSend{Path: file}) {
			t.Fatalf("the tray sent %#v", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the chosen file never reached the agent")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var props []struct {
			ID    int32
			Props map[string]dbus.Variant
		}
		if err := menu.Call("com.canonical.dbusmenu.GetGroupProperties", 0, ids, []string{}).Store(&props); err != nil {
			t.Fatal(err)
		}
		visible := map[string]bool{}
		for _, p := range props {
			label, _ := p.Props["label"].Value().(string)
			labels[label] = p.ID
			v, ok := p.Props["visible"].Value().(bool)
			visible[label] = !ok || v
		}
		if visible[`file 1 sending "report.txt" 40% (40 bytes of 100 bytes)`] && visible["Cancel file transfers"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transfer line and cancel item: %v", visible)
		}
	}
	click("Cancel file transfers")
	select {
	case c := <-fileCmds:
		if c != (winvnc.CmdCancel{}) {
			t.Fatalf("the tray sent %#v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel file transfers did nothing")
	}

	end, ok := labels["End session"]
	if !ok {
		t.Fatalf("no End session item: %v", labels)
	}
	// No reply expected: the tray quits as a result of the click, and may
	// be gone before its reply is written.
	if err := menu.Call("com.canonical.dbusmenu.Event", dbus.FlagNoReplyExpected, end, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-ended:
		if code != 7 {
			t.Fatalf("agent returned %d, want 7 (ended from the tray)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("End session did not end the agent")
	}
}

// trayTested: systray is a process-wide singleton whose bus connection
// is gone after its first run.
var trayTested atomic.Bool

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
