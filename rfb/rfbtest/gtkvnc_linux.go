package rfbtest

import (
	"os"
	"testing"
)

// TrustForGTKVNC installs pem as gtk-vnc's CA certificate for the test.
// gtk-vnc looks in /etc/pki/CA and in the passwd entry's home (not $HOME),
// and matches certificates by host name only, so callers also dial
// "localhost" (GVNCCaptureHost). An existing file is put back afterwards.
func TrustForGTKVNC(t testing.TB, pem []byte) {
	t.Helper()
	const dir, file = "/etc/pki/CA", "/etc/pki/CA/cacert.pem"
	old, readErr := os.ReadFile(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("rfbtest: installing a CA for gtk-vnc: %v", err)
	}
	if err := os.WriteFile(file, pem, 0o644); err != nil {
		t.Fatalf("rfbtest: installing a CA for gtk-vnc: %v", err)
	}
	t.Cleanup(func() {
		if readErr == nil {
			os.WriteFile(file, old, 0o644)
		} else {
			os.Remove(file)
		}
	})
}
