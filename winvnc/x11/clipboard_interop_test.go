//go:build interop && linux

package x11

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/rfb/rfbtest"
)

// xclipOut reads a selection with xclip, as a program that pastes does.
func xclipOut(t *testing.T, x *rfbtest.Xvfb, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := rfbtest.Run(t, ctx, x.Env(), "xclip", "-o", "-selection", sel, "-target", "UTF8_STRING")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xclipIn makes xclip own the clipboard with text, as a program that
// copies does; it serves until someone else copies.
func xclipIn(t *testing.T, x *rfbtest.Xvfb, text string) *rfbtest.Proc {
	t.Helper()
	f := filepath.Join(t.TempDir(), "clip.txt")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := rfbtest.Start(t, x.Env(), "xclip", "-quiet", "-selection", "clipboard", "-target", "UTF8_STRING", "-i", f)
	t.Cleanup(p.Kill)
	return p
}

func nextChange(t *testing.T, c *Clipboard) string {
	t.Helper()
	select {
	case s := <-c.Changes():
		return s
	case <-time.After(waitTimeout):
		t.Fatal("no clipboard change")
		return ""
	}
}

// TestClipboardWithXclip: text the agent puts on the clipboard is what
// xclip pastes from CLIPBOARD and PRIMARY, small and in INCR chunks; text
// xclip copies arrives at Changes, small and in INCR chunks; a text over
// the limit is not taken, and the clipboard goes on working after it.
func TestClipboardWithXclip(t *testing.T) {
	rfbtest.LookPath(t, "xclip")
	x := rfbtest.StartXvfb(t, 320, 200, 24)
	d := openDisplay(t, x)
	const max = 2 << 20
	c, err := NewClipboard(d, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	small := "Grüße aus Köln ✓\nzweite Zeile"
	if err := c.SetText(small); err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{"clipboard", "primary"} {
		if got := xclipOut(t, x, sel); got != small {
			t.Errorf("%s pasted %q, want %q", sel, got, small)
		}
	}
	large := strings.Repeat("0123456789abcdeä\n", 1<<20/17)
	if err := c.SetText(large); err != nil {
		t.Fatal(err)
	}
	if got := xclipOut(t, x, "clipboard"); got != large {
		t.Errorf("large paste: %d bytes, want %d", len(got), len(large))
	}

	copied := "kopiert: äöü ß €"
	xclipIn(t, x, copied)
	if got := nextChange(t, c); got != copied {
		t.Errorf("copy arrived as %q, want %q", got, copied)
	}
	bigCopy := strings.Repeat("Zeile mit ü\n", 1<<20/13)
	xclipIn(t, x, bigCopy)
	if got := nextChange(t, c); got != bigCopy {
		t.Errorf("large copy arrived with %d bytes, want %d", len(got), len(bigCopy))
	}
	xclipIn(t, x, strings.Repeat("x", max+1))
	after := "after the large one"
	time.Sleep(500 * time.Millisecond) // let the too-long copy be refused first
	xclipIn(t, x, after)
	if got := nextChange(t, c); got != after {
		t.Errorf("after a too-long copy, got %d bytes %.40q, want %q", len(got), got, after)
	}
	// Owning again after others copied.
	if err := c.SetText("zurück"); err != nil {
		t.Fatal(err)
	}
	if got := xclipOut(t, x, "clipboard"); got != "zurück" {
		t.Errorf("pasted %q after owning again", got)
	}
}
