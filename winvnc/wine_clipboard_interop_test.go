//go:build interop && linux

package winvnc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// The Windows agent's clipboard (user32: AddClipboardFormatListener,
// CF_UNICODETEXT) under Wine, with TigerVNC's vncviewer (Extended
// Clipboard) on a display of its own, in direct mode. Wine joins the
// Windows clipboard to its X display's CLIPBOARD, so xclip there stands
// for a Windows program that copies and pastes. Nothing crosses with the
// rights off; with Control the supporter's copy arrives, with Files the
// customer's goes out, non-ASCII and line ends intact; Files off keeps a
// new copy home.
func TestWineClipboard(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "xclip", "xdotool")
	x := rfbtest.StartXvfb(t, 800, 600, 24)
	w := rfbtest.StartWine(t, x)
	const password = "w1ne"
	a := startWineAgent(t, w, "-listen", "127.0.0.1:0", "-password-file", writePassword(t, password))
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	_, port, _ := strings.Cut(addr, ":")
	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(password), 0o600); err != nil {
		t.Fatal(err)
	}
	supporter := rfbtest.StartXvfb(t, 1024, 768, 24)
	viewer := rfbtest.Start(t, supporter.Env(), "vncviewer", "-AutoSelect=0", "-SecurityTypes=VncAuth", "-passwd", pw, "127.0.0.1::"+port)
	a.expect(`^prompt Allow .* to see your screen\? \[y/n\]$`)
	a.send("y")
	a.expect(`^state sharing `)
	// vncviewer announces its clipboard only while it has the focus.
	if !rfbtest.Eventually(wineWait, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := rfbtest.Run(t, ctx, supporter.Env(), "xdotool", "search", "--onlyvisible", "--name", "TigerVNC", "windowfocus", "--sync")
		return err == nil
	}) {
		t.Fatal("the viewer's window never appeared")
	}

	supporter.Copy(t, "vom Support, ohne Steuerung")
	x.Copy(t, "Geheimnis der Kundin")
	if rfbtest.Eventually(3*time.Second, func() bool { return x.Clipboard(t) == "vom Support, ohne Steuerung" }) {
		t.Error("the supporter's clipboard reached the customer without control")
	}
	if supporter.Clipboard(t) == "Geheimnis der Kundin" {
		t.Error("the customer's clipboard reached the supporter without Files")
	}

	a.send("control on")
	a.expect(`^rights control=on`)
	const toCustomer = "Grüße vom Support ✓ 日本\nzweite Zeile"
	supporter.Copy(t, toCustomer)
	if !rfbtest.Eventually(wineWait, func() bool { return x.Clipboard(t) == toCustomer }) {
		t.Fatalf("the customer's clipboard holds %q, want %q\nviewer:\n%s", x.Clipboard(t), toCustomer, viewer.Output())
	}
	a.expect(`^say The supporter put \d+ characters on your clipboard`)

	a.send("files on")
	a.expect(`files=on`)
	const toSupporter = "Kundendaten: äöü ß € ✓\nZeile 2"
	x.Copy(t, toSupporter)
	if !rfbtest.Eventually(wineWait, func() bool { return supporter.Clipboard(t) == toSupporter }) {
		t.Fatalf("the supporter's clipboard holds %q, want %q\nviewer:\n%s", supporter.Clipboard(t), toSupporter, viewer.Output())
	}

	a.send("files off")
	a.expect(`files=off`)
	x.Copy(t, "nach F11")
	if rfbtest.Eventually(3*time.Second, func() bool { return supporter.Clipboard(t) == "nach F11" }) {
		t.Error("the customer's clipboard reached the supporter after Files went off")
	}
}
