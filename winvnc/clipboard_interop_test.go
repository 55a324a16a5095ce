//go:build interop && linux

package winvnc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// TigerVNC's vncviewer (Extended Clipboard) on a display of its own,
// through the broker: with the rights off nothing crosses either way;
// with Control on the supporter's copy reaches the customer's
// clipboard, with Files on the customer's copy reaches the supporter's;
// non-ASCII text survives; Files off withdraws the customer's clipboard.
func TestInteropClipboardTigerVNC(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "xclip")
	customer := rfbtest.StartXvfb(t, 320, 200, 24)
	tb := startBroker(t)
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", Display: customer.Display})
	code := a.expect(`^code (\d{6})$`)[1]
	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(code), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(tb.viewerAddr)
	supporter := rfbtest.StartXvfb(t, 320, 200, 24)
	viewer := rfbtest.Start(t, supporter.Env(), "vncviewer", "-AutoSelect=0", "-SecurityTypes=VncAuth",
		"-passwd", pw, "127.0.0.1::"+port)
	a.expect(`^prompt `)
	a.send("y")
	a.expect(`^state sharing `)
	// vncviewer announces its clipboard only while it has the focus.
	if !rfbtest.Eventually(10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := rfbtest.Run(t, ctx, supporter.Env(), "xdotool", "search", "--onlyvisible", "--name", "TigerVNC", "windowfocus", "--sync")
		return err == nil
	}) {
		t.Fatal("the viewer's window never appeared")
	}

	// Rights off: the supporter's copy does not reach the customer, and
	// the customer's does not reach the supporter.
	supporter.Copy(t, "from the supporter, no control")
	customer.Copy(t, "secret of the customer")
	if rfbtest.Eventually(2*time.Second, func() bool { return customer.Clipboard(t) == "from the supporter, no control" }) {
		t.Error("the supporter's clipboard reached the customer without control")
	}
	if got := supporter.Clipboard(t); got == "secret of the customer" {
		t.Error("the customer's clipboard reached the supporter without Files")
	}

	// Control on: the supporter's next copy is pasted into the
	// customer's session.
	a.send("control on")
	a.expect(`^rights control=on`)
	const toCustomer = "Grüße vom Support ✓ 日本"
	supporter.Copy(t, toCustomer)
	if !rfbtest.Eventually(10*time.Second, func() bool { return customer.Clipboard(t) == toCustomer }) {
		t.Fatalf("the customer's clipboard holds %q, want %q\nviewer:\n%s", customer.Clipboard(t), toCustomer, viewer.Output())
	}
	a.expect(`^say The supporter put \d+ characters on your clipboard`)

	// Files on: the customer's next copy reaches the supporter's
	// clipboard, through vncviewer's request.
	a.send("files on")
	a.expect(`^rights control=on files=on`)
	const toSupporter = "Kundendaten: äöü ß € ✓"
	customer.Copy(t, toSupporter)
	if !rfbtest.Eventually(10*time.Second, func() bool { return supporter.Clipboard(t) == toSupporter }) {
		t.Fatalf("the supporter's clipboard holds %q, want %q\nviewer:\n%s", supporter.Clipboard(t), toSupporter, viewer.Output())
	}

	// Files off: a new copy of the customer's stays home.
	a.send("files off")
	a.expect(`files=off`)
	customer.Copy(t, "after files off")
	if rfbtest.Eventually(2*time.Second, func() bool { return supporter.Clipboard(t) == "after files off" }) {
		t.Error("the customer's clipboard reached the supporter after Files went off")
	}
}
