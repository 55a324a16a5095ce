package broker

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "broker.json")
	os.WriteFile(file, []byte(`{"code_ttl": "5m", "viewer_addr": ":6011", "plain_vnc_auth_networks": ["10.0.0.0/8"]}`), 0o600)
	c, err := ConfigFromArgs("b", []string{"-config", file, "-viewer-listen", ":7011", "-session-bandwidth", "1000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CodeTTL != Duration(5*time.Minute) || c.ViewerAddr != ":7011" || c.AgentAddr != ":5510" ||
		c.SessionBandwidth != 1000 || len(c.PlainVNCAuthNetworks) != 1 || c.AdminAddr != "127.0.0.1:5515" {
		t.Fatalf("config %+v", c)
	}
	os.WriteFile(file, []byte(`{"code_tll": "5m"}`), 0o600)
	if _, err := ConfigFromArgs("b", []string{"-config", file}, io.Discard); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
	if _, err := ConfigFromArgs("b", []string{"-plain-vnc-auth", "not-a-net"}, io.Discard); err == nil {
		t.Fatal("a bad network was accepted")
	}
	if _, err := ConfigFromArgs("b", []string{"-code-digits", "2"}, io.Discard); err == nil {
		t.Fatal("2-digit codes were accepted")
	}
}

func TestParseRepeaterID(t *testing.T) {
	hdr := func(s string) []byte { b := make([]byte, 250); copy(b, s); return b }
	for in, want := range map[string]string{"ID:482913": "482913", "id:482913": "482913", "ID:482 913": "482913"} {
		if got, err := parseRepeaterID(hdr(in), 6); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "ID:", "ID:12345", "ID:012345", "host:5900", "ID:48291x", "ID:1234567"} {
		if got, err := parseRepeaterID(hdr(in), 6); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
	b := hdr("ID:482913")
	b[200] = 'x'
	if _, err := parseRepeaterID(b, 6); err == nil {
		t.Error("bytes after the padding accepted")
	}
}

func FuzzParseRepeaterID(f *testing.F) {
	f.Add([]byte("ID:482913"))
	f.Add([]byte("host::5900"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, err := parseRepeaterID(b, 6)
		if err == nil && !ValidCode(code, 6) {
			t.Fatalf("accepted %q", code)
		}
	})
}
