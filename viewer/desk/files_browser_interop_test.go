//go:build interop && linux

package desk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
	"lifebuoy/viewer/web"
)

// dropFile drops a file made in the page, with any name (a browser's
// own files cannot be named "../../etc/passwd"), as a drag and drop from
// the desktop does.
func dropFile(t *testing.T, p *rfbtest.Page, name, content string) {
	t.Helper()
	must(t, p.Eval(`([name, content]) => {
		const dt = new DataTransfer();
		dt.items.add(new File([content], name));
		document.getElementById('screen').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
	}`, []string{name, content}, nil))
}

// The console's file panel in Chromium with the real agent on Xvfb:
// uploads (the file input, and a drop) refused with a message while
// Files is off; with Files on a 5 MB file lands intact and
// "../../etc/passwd" lands as "passwd" in Downloads/Lifebuoy; F11 on the
// customer's screen during a 500 MB upload aborts it and leaves no
// partial file; a file the customer offered and one picked in the home
// folder download intact.
func TestConsoleFiles(t *testing.T) {
	if !web.NoVNCBuilt() {
		t.Fatal("the browser viewer was not built: run make web")
	}
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	cust := desktest.NewCustomer(t, 320, 200)
	b := rfbtest.StartBrowser(t, rfbtest.BrowserOptions{TrustSPKI: []string{env.SPKIHash()}})
	p := signIn(t, b, env, "anna")
	logsOnFailure(t, p)
	must(t, p.Click("button", "New session code"))
	var code string
	must(t, p.WaitFunction(`() => document.body.dataset.code`, nil, &code, waitTimeout))
	agent := cust.Agent(env, code)
	agent.Expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\?`, waitTimeout)
	agent.Send("y")
	must(t, p.WaitText("Connected", waitTimeout))
	landed := filepath.Join(cust.Home, "Downloads", "Lifebuoy")
	folder := func() string {
		des, _ := os.ReadDir(landed)
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return strings.Join(names, "|")
	}

	five, fiveSum := randomFile(t, "five.bin", 5<<20)
	// Files off: both refused, with the reason in the page.
	must(t, p.SetInputFiles("Send files to the customer", five))
	must(t, p.WaitText("five.bin: Not sent: the customer has not allowed file transfer (F11)", waitTimeout))
	dropFile(t, p, "../../etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	must(t, p.WaitText("../../etc/passwd: Not sent: the customer has not allowed file transfer (F11)", waitTimeout))
	if f := folder(); f != "" {
		t.Fatalf("files arrived with Files off: %s", f)
	}

	// Files on.
	agent.Send("files on")
	agent.Expect(`files=on`, waitTimeout)
	must(t, p.SetInputFiles("Send files to the customer", five))
	must(t, p.WaitText("five.bin: Sent to the customer as Downloads/Lifebuoy/five.bin.", waitTimeout))
	if got := fileSum(t, filepath.Join(landed, "five.bin")); got != fiveSum {
		t.Fatalf("five.bin landed with SHA-256 %s, want %s", got, fiveSum)
	}
	dropFile(t, p, "../../etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	must(t, p.WaitText("../../etc/passwd: Sent to the customer as Downloads/Lifebuoy/passwd.", waitTimeout))
	if b, err := os.ReadFile(filepath.Join(landed, "passwd")); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Fatalf("passwd landed as %q, %v", b, err)
	}

	// F11 during a 500 MB upload.
	big := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 500<<20); err != nil { // zeros, without writing them
		t.Fatal(err)
	}
	must(t, p.SetInputFiles("Send files to the customer", big))
	id := agent.Expect(`^file (\d+) receiving "big.bin" ([1-9]\d*)%`, waitTimeout)[1]
	cust.Run("xdotool", "key", "F11")
	agent.Expect(`^rights control=off files=off`, waitTimeout)
	agent.Expect(`^file `+id+` aborted "big.bin": the customer turned file transfer off`, waitTimeout)
	must(t, p.WaitText("big.bin: Not sent: the customer turned file transfer off", waitTimeout))
	if f := folder(); f != "five.bin|passwd" {
		t.Fatalf("after the abort Downloads/Lifebuoy holds %s", f)
	}

	// Downloads: an offered file, and one from the home folder.
	agent.Send("files on")
	agent.Expect(`files=on`, waitTimeout)
	offered := filepath.Join(t.TempDir(), "Protokoll.txt") // outside the home folder: the customer chose it
	os.WriteFile(offered, []byte("Fehlerprotokoll\n"), 0o600)
	agent.Send("send " + offered)
	agent.Expect(`^say Offered "Protokoll.txt"`, waitTimeout)
	must(t, p.Click("button", "Refresh files"))
	must(t, p.WaitText("Protokoll.txt", waitTimeout))
	dir := t.TempDir()
	got := filepath.Join(dir, "offered")
	name, err := p.Download("link", "Protokoll.txt", got)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(got); err != nil || string(b) != "Fehlerprotokoll\n" || name != "Protokoll.txt" {
		t.Fatalf("offered file downloaded as %q %q, %v", name, b, err)
	}
	// The home folder: into Downloads, then Lifebuoy, and fetch five.bin.
	must(t, p.Click("button", "Downloads/"))
	must(t, p.Click("button", "Lifebuoy/"))
	must(t, p.WaitText("~/Downloads/Lifebuoy", waitTimeout))
	got = filepath.Join(dir, "browsed")
	if _, err := p.Download("link", "five.bin", got); err != nil {
		t.Fatal(err)
	}
	if s := fileSum(t, got); s != fiveSum {
		t.Fatalf("five.bin downloaded with SHA-256 %s", s)
	}
	agent.Expect(`^file \d+ sent "five.bin" 5\.2 MB`, waitTimeout)
}
