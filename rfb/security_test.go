package rfb

import "testing"

// TestVNCAuth: the response is DES of the challenge under the password
// with each key byte's bits reversed, as every VNC server and viewer has
// it; a made key gives the same answers and refuses wrong ones.
func TestVNCAuth(t *testing.T) {
	challenge := []byte("0123456789abcdef")
	resp := VNCAuthResponse(challenge, "pass")
	if len(resp) != 16 {
		t.Fatalf("response of %d bytes", len(resp))
	}
	if !VNCAuthMatches(challenge, resp, "pass") || VNCAuthMatches(challenge, resp, "pasS") {
		t.Fatal("VNCAuthMatches")
	}
	// Only the first 8 bytes of a password count.
	if !VNCAuthMatches(challenge, VNCAuthResponse(challenge, "12345678"), "123456789") {
		t.Fatal("a password's ninth byte counted")
	}
	k := NewVNCAuthKey("pass")
	if !k.Matches(challenge, resp) {
		t.Fatal("key does not match its own response")
	}
	bad := append([]byte(nil), resp...)
	bad[15] ^= 1
	if k.Matches(challenge, bad) || k.Matches(challenge, resp[:15]) || k.Matches(challenge[:8], resp) {
		t.Fatal("key matched a wrong or short response")
	}
	// The interop tests (TigerVNC, x11vnc, gvnccapture with VNC
	// Authentication) check the computation against other programs.
}
