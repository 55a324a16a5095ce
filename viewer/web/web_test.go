package web

import (
	"io/fs"
	"testing"
)

func TestStatic(t *testing.T) {
	b, err := fs.ReadFile(Static(), "third-party.txt")
	if err != nil || len(b) == 0 {
		t.Fatalf("third-party notice: %v", err)
	}
}

// TestNoVNC checks what `make web` copies in, when it ran: the module the
// viewer page imports and the licence files the MPL asks us to ship.
func TestNoVNC(t *testing.T) {
	if !NoVNCBuilt() {
		if _, err := fs.Stat(NoVNC(), "core/rfb.js"); err == nil {
			t.Fatal("NoVNCBuilt is false but core/rfb.js is there")
		}
		t.Log("noVNC not built (make web): checked only that the package builds without it")
		return
	}
	for _, name := range []string{"core/rfb.js", "vendor/pako/lib/zlib/inflate.js", "LICENSE.txt", "AUTHORS", "docs/LICENSE.MPL-2.0", "vendor/pako/LICENSE"} {
		if _, err := fs.Stat(NoVNC(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
