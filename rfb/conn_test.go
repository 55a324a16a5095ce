package rfb

import (
	"testing"
	"time"
)

// A connection keeps a small write buffer for the next update but lets
// go of one that a large update (a photo's lossless refresh) grew.
func TestWriteBufferBounded(t *testing.T) {
	c := &serverConn{out: make([]byte, 0, 4<<10)}
	c.wrote(writeResult{n: 4 << 10, d: time.Millisecond})
	if cap(c.out) != 4<<10 {
		t.Fatalf("a small buffer was not kept: cap %d", cap(c.out))
	}
	c.out = make([]byte, 3<<20)
	c.wrote(writeResult{n: 3 << 20, d: 10 * time.Millisecond})
	if c.out != nil {
		t.Fatalf("a %d-byte buffer was kept after its write", cap(c.out))
	}
	if c.throughput == 0 {
		t.Fatal("the large write was not measured")
	}
}
