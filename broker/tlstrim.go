package broker

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// trimTLS gives back the buffers that a TLS connection's handshake grew
// and that crypto/tls would otherwise keep for the connection's life: its
// record buffer (rawInput), sized for the largest record read so far, the
// ClientHello's, and its handshake buffer (hand), sized for the largest
// handshake message. A browser's ClientHello with an ML-KEM key share
// leaves 3.5 KiB there; an idle session all over WebSocket has three TLS
// connections. Both buffers grow again when needed (a record of the
// stream, a KeyUpdate).
//
// crypto/tls has no way to ask for this, so trimTLS reaches the two
// unexported fields by name; a buffer is only dropped while it holds no
// bytes. With another Go whose fields differ it does nothing
// (TestTrimTLS says so). Call it right after the handshake, in the
// goroutine that ran it, before any other goroutine uses tc.
func trimTLS(tc *tls.Conn) {
	v := reflect.ValueOf(tc).Elem()
	for _, name := range [...]string{"rawInput", "hand"} {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Type() != reflect.TypeFor[bytes.Buffer]() {
			continue
		}
		b := (*bytes.Buffer)(unsafe.Pointer(f.UnsafeAddr()))
		if b.Len() == 0 {
			*b = bytes.Buffer{}
		}
	}
}
