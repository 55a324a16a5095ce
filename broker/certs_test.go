package broker

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Reload in the data-directory mode reads the files again and never
// makes new ones: agents pin the certificate, so a broker whose files
// were deleted keeps serving the old one and says why it did not reload.
func TestCertReloadNeverCreates(t *testing.T) {
	dir := t.TempDir()
	s, err := newCertSource(&Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !s.created {
		t.Fatal("first start: no certificate made")
	}
	first := s.Own().Certificate[0]
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload with the files there: %v", err)
	}
	if !bytes.Equal(s.Own().Certificate[0], first) {
		t.Fatal("Reload of unchanged files changed the certificate")
	}

	for _, name := range []string{certFile, keyFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("Reload without files = %v, want an error saying they are gone", err)
	}
	if _, err := os.Stat(filepath.Join(dir, certFile)); err == nil {
		t.Fatal("Reload made a new certificate file")
	}
	if !bytes.Equal(s.Own().Certificate[0], first) {
		t.Fatal("a failed Reload replaced the certificate in use")
	}

	// A restart makes a new one (and says so), as on a first start.
	s2, err := newCertSource(&Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil || !s2.created || bytes.Equal(s2.Own().Certificate[0], first) {
		t.Fatalf("restart after the files were deleted: err %v, created %v", err, s2 != nil && s2.created)
	}
}
