//go:build windows

package win

import (
	"testing"
	"time"
)

// TestClipboard runs on Windows (and under Wine): text set by one
// Clipboard is read back as it was, arrives at another Clipboard's
// Changes (a program that follows the clipboard), and a Clipboard does
// not hear its own change.
func TestClipboard(t *testing.T) {
	d, err := Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err := NewClipboard(d, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewClipboard(d, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const text = "Grüße ✓\nzweite Zeile"
	if err := a.SetText(text); err != nil {
		t.Fatal(err)
	}
	if got, err := a.read(); err != nil || got != text {
		t.Fatalf("read back %q, %v", got, err)
	}
	select {
	case got := <-b.Changes():
		if got != text {
			t.Errorf("the other clipboard heard %q, want %q", got, text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other clipboard heard nothing")
	}
	select {
	case got := <-a.Changes():
		t.Errorf("the setter heard its own change %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	if err := a.SetText(string(make([]byte, 2<<20))); err == nil {
		t.Error("a text over the limit was set")
	}
}
