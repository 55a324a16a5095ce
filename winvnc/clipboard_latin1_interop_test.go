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

// latin1Bytes is text as an X STRING (ISO 8859-1) holds it, '?' for
// what it cannot.
func latin1Bytes(text string) string {
	var b []byte
	for _, r := range text {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// cutBufferCopy puts Latin-1 bytes in CUT_BUFFER0 of x, where a viewer
// of the classic X Toolkit looks when no PRIMARY owner tells the time of
// its selection (xclip does not).
func cutBufferCopy(t *testing.T, x *rfbtest.Xvfb, latin1 string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cut.txt")
	if err := os.WriteFile(f, []byte(latin1), 0o600); err != nil {
		t.Fatal(err)
	}
	xrun(t, x, "xclip", "-selection", "buffer-cut", "-i", f)
}

// primaryPaste reads PRIMARY of x as STRING; "" when nobody holds it.
func primaryPaste(t *testing.T, x *rfbtest.Xvfb) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), "xclip", "-o", "-selection", "primary", "-target", "STRING")
	if err != nil {
		return ""
	}
	return out
}

// A stock viewer without Extended Clipboard: TightVNC's xtightvncviewer
// (classic ClientCutText and ServerCutText, Latin-1), on a display of its
// own, connected straight to the agent (direct mode). It sends a new
// PRIMARY selection or CUT_BUFFER0 when the pointer enters its window,
// and takes the server's text as PRIMARY when the pointer leaves. Nothing crosses with
// the rights off; with Control the supporter's Latin-1 text arrives in
// the customer's CLIPBOARD as UTF-8; with Files the customer's copy
// reaches the viewer in Latin-1 ('?' for what Latin-1 cannot hold);
// a second viewer without the grant cannot paste; Files off keeps a new
// copy home.
func TestInteropClipboardLatin1Viewer(t *testing.T) {
	rfbtest.LookPath(t, "xtightvncviewer", "xclip", "xdotool")
	customer := rfbtest.StartXvfb(t, 320, 200, 24)
	const password = "c1ipb0ar"
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, password), Display: customer.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]
	_, port, _ := strings.Cut(addr, ":")
	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, rfbtest.VNCPasswdFile(password), 0o600); err != nil {
		t.Fatal(err)
	}
	supporter := rfbtest.StartXvfb(t, 640, 480, 24)
	// The viewer's window is centred (320x200 at 160,140).
	outside := func() { xrun(t, supporter, "xdotool", "mousemove", "630", "470") } // Leave: takes the server's text
	inside := func() { xrun(t, supporter, "xdotool", "mousemove", "320", "240") }  // Enter: sends its selection
	outside()
	viewer := rfbtest.Start(t, supporter.Env(), "xtightvncviewer", "-passwd", pw, "127.0.0.1::"+port)
	a.expect(`^prompt `)
	a.send("y")
	a.expect(`^state sharing `)
	waitFor(t, "the viewer's window", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := rfbtest.Run(t, ctx, supporter.Env(), "xdotool", "search", "--onlyvisible", "--name", ".")
		return err == nil && strings.TrimSpace(out) != ""
	})
	// The supporter's text goes over when the pointer enters the viewer.
	supporterCopies := func(text string) {
		outside()
		cutBufferCopy(t, supporter, latin1Bytes(text))
		inside()
	}
	// The customer's text shows on the supporter's side after the
	// pointer leaves the viewer.
	supporterHas := func(text string, within time.Duration) bool {
		return rfbtest.Eventually(within, func() bool {
			inside()
			outside()
			return primaryPaste(t, supporter) == latin1Bytes(text)
		})
	}

	// Rights off.
	supporterCopies("vom Support, ohne Steuerung")
	customer.Copy(t, "Geheimnis der Kundin")
	if rfbtest.Eventually(2*time.Second, func() bool { return customer.Clipboard(t) == "vom Support, ohne Steuerung" }) {
		t.Error("the supporter's clipboard reached the customer without control")
	}
	if supporterHas("Geheimnis der Kundin", 2*time.Second) {
		t.Error("the customer's clipboard reached the supporter without Files")
	}

	// Control on (it goes to this viewer, the newest): Latin-1 text from
	// the viewer lands as UTF-8.
	a.send("control on")
	a.expect(`^rights control=on`)
	const toCustomer = "Grüße vom Support: ½ × ÿ"
	supporterCopies(toCustomer)
	if !rfbtest.Eventually(10*time.Second, func() bool { return customer.Clipboard(t) == toCustomer }) {
		t.Fatalf("the customer's clipboard holds %q, want %q\nviewer:\n%s", customer.Clipboard(t), toCustomer, viewer.Output())
	}
	a.expect(`^say The supporter put \d+ characters on your clipboard`)

	// A second viewer, without the grant, cannot paste.
	dialed := dialViewer(t, addr, password)
	a.expect(`^prompt `)
	a.send("y")
	second := mustViewer(t, dialed)
	if err := second.c.CutText("from a viewer without control"); err != nil {
		t.Fatal(err)
	}
	if rfbtest.Eventually(2*time.Second, func() bool { return customer.Clipboard(t) == "from a viewer without control" }) {
		t.Error("a viewer without the grant pasted into the customer's clipboard")
	}

	// Files on: the customer's copy reaches the Latin-1 viewer.
	a.send("files on")
	a.expect(`files=on`)
	const toSupporter = "Kundendaten: äöü ß € ✓"
	customer.Copy(t, toSupporter)
	if !supporterHas(toSupporter, 10*time.Second) {
		t.Fatalf("the supporter's PRIMARY holds %q, want %q\nviewer:\n%s", primaryPaste(t, supporter), latin1Bytes(toSupporter), viewer.Output())
	}

	// Files off: a new copy stays home.
	a.send("files off")
	a.expect(`files=off`)
	customer.Copy(t, "nach F11")
	if supporterHas("nach F11", 2*time.Second) {
		t.Error("the customer's clipboard reached the supporter after Files went off")
	}
}
