package broker

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"testing"
	"unsafe"
)

// tlsBufferCaps is the capacity of a connection's record and handshake
// buffers, or -1 where crypto/tls has no such field.
func tlsBufferCaps(tc *tls.Conn) (rawInput, hand int) {
	caps := [2]int{-1, -1}
	v := reflect.ValueOf(tc).Elem()
	for i, name := range [...]string{"rawInput", "hand"} {
		f := v.FieldByName(name)
		if f.IsValid() && f.Type() == reflect.TypeFor[bytes.Buffer]() {
			caps[i] = (*bytes.Buffer)(unsafe.Pointer(f.UnsafeAddr())).Cap()
		}
	}
	return caps[0], caps[1]
}

// After a handshake with an ML-KEM ClientHello, trimTLS leaves the server
// with no buffers, and the connection works on both ways.
func TestTrimTLS(t *testing.T) {
	client, server, _, _ := tlsOverSocket(t) // the client offers X25519MLKEM768
	raw, hand := tlsBufferCaps(server)
	if raw < 0 || hand < 0 {
		t.Fatalf("crypto/tls.Conn has no rawInput or hand buffer in this Go (%d, %d): trimTLS does nothing; see its comment", raw, hand)
	}
	if raw < 1024 || hand < 1024 {
		t.Logf("buffers before the trim are small already: %d, %d", raw, hand)
	}
	trimTLS(server)
	if raw, hand := tlsBufferCaps(server); raw != 0 || hand != 0 {
		t.Fatalf("after trimTLS the buffers hold %d and %d bytes, want none", raw, hand)
	}
	for range 3 {
		want := pattern(40000)
		go client.Write(want)
		got := make([]byte, len(want))
		if _, err := readFull(server, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after the trim: %v", err)
		}
		go server.Write(want)
		if _, err := readFull(client, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after the trim, the other way: %v", err)
		}
	}
	// Bytes that wait in the record buffer are kept.
	client.Write([]byte("abc"))
	buf := make([]byte, 1)
	if _, err := server.Read(buf); err != nil {
		t.Fatal(err)
	}
	trimTLS(server)
	rest := make([]byte, 2)
	if _, err := readFull(server, rest); err != nil || string(rest) != "bc" {
		t.Fatalf("after a trim with bytes waiting: %q, %v", rest, err)
	}
}

func readFull(c *tls.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
