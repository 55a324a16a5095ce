//go:build interop && linux

package winvnc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// Direct mode with a real second viewer (issue 12 item 12): control
// granted while one viewer is connected stays that viewer's when TigerVNC's
// vncviewer is accepted later "to see"; the customer is told who sees;
// what the supporter types into vncviewer (xdotool on the supporter's
// display) never reaches the customer's xterm; when the first viewer
// leaves, control ends and the customer is told that vncviewer still
// sees; granted again, it is vncviewer's and its typing arrives.
func TestInteropDirectModeControlPerViewer(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "xterm", "xdotool")
	customer := rfbtest.StartXvfb(t, 400, 300, 24)
	typed := filepath.Join(t.TempDir(), "typed.txt")
	startXterm(t, customer, "target", "40x10+0+0", typed)
	xrun(t, customer, "xdotool", "search", "--name", "^target$", "windowfocus", "--sync")
	a := startAgent(t, Config{Listen: "127.0.0.1:0", PasswordFile: writePassword(t, "pw"), Display: customer.Display})
	addr := a.expect(`^state waiting Listening on (\S+);`)[1]

	ch := dialViewer(t, addr, "pw")
	first := a.expect(`^prompt Allow (\S+) to see your screen\?`)[1]
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the screen", sameAsScreen(t, customer))
	a.send("control on")
	a.expect(`^say ` + regexp.QuoteMeta(first) + ` gets remote control`)
	a.expect(`^rights control=on `)

	_, port, _ := net.SplitHostPort(addr)
	passwd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(passwd, rfbtest.VNCPasswdFile("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	supporter := rfbtest.StartXvfb(t, 400, 300, 24)
	tiger := rfbtest.Start(t, supporter.Env(), "vncviewer", "-AutoSelect=0",
		"-SecurityTypes=VncAuth", "-passwd", passwd, "127.0.0.1::"+port)
	second := a.expect(`^prompt Allow (\S+) to see your screen\?`)[1]
	a.send("y")
	a.expect(`^say ` + regexp.QuoteMeta(second) + ` sees your screen too, without control: remote control stays with ` + regexp.QuoteMeta(first) + `\.$`)

	dropped := func() int {
		a.send("status")
		n, _ := strconv.Atoi(a.expect(`^rights control=\S+ files=\S+ dropped=(\d+)$`)[1])
		return n
	}
	// tigerType types s into vncviewer, focused, on the supporter's display.
	tigerType := func(s string) {
		t.Helper()
		if !eventually(10*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := rfbtest.Run(t, ctx, supporter.Env(), "xdotool", "search", "--onlyvisible", "--name", "TigerVNC", "windowfocus", "--sync")
			return err == nil
		}) {
			t.Fatalf("vncviewer has no window to focus:\n%s", tiger.Output())
		}
		xrun(t, supporter, "xdotool", "type", "--delay", "20", s)
		xrun(t, supporter, "xdotool", "key", "Return")
	}
	before := dropped()
	tigerType("leak")
	if !eventually(waitTimeout, func() bool { return dropped() >= before+10 }) { // 5 presses, 5 releases
		t.Fatalf("vncviewer's keys were not dropped (dropped=%d before)\n%s", before, tiger.Output())
	}
	for _, r := range "one" {
		v.c.KeyEvent(true, uint32(r))
		v.c.KeyEvent(false, uint32(r))
	}
	v.c.KeyEvent(true, 0xff0d)
	v.c.KeyEvent(false, 0xff0d)
	waitFor(t, "the first viewer's typing", func() bool {
		b, _ := os.ReadFile(typed)
		return strings.Contains(string(b), "one")
	})
	if b, _ := os.ReadFile(typed); strings.Contains(string(b), "leak") {
		t.Fatalf("the viewer without control typed into the customer's xterm: %q", b)
	}

	v.c.Close()
	a.expect(`^say ` + regexp.QuoteMeta(first) + ` left; remote control ended\.$`)
	a.expect(`^state sharing ` + regexp.QuoteMeta(first) + ` disconnected; ` + regexp.QuoteMeta(second) + ` still sees your screen\.$`)
	a.send("control on")
	a.expect(`^say ` + regexp.QuoteMeta(second) + ` gets remote control`)
	a.expect(`^rights control=on `)
	tigerType("two")
	waitFor(t, "vncviewer's typing, with control", func() bool {
		b, _ := os.ReadFile(typed)
		return strings.Contains(string(b), "two")
	})
	if b, _ := os.ReadFile(typed); string(b) != "one\ntwo\n" {
		t.Errorf("the customer's xterm got %q, want %q", b, "one\ntwo\n")
	}
}
