package wsconn

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close status codes (RFC 6455 §7.4.1) that a Conn sends.
const (
	StatusNormal       = 1000
	StatusProtocol     = 1002
	StatusUnsupported  = 1003
	StatusTooBig       = 1009
	maxControlPayload  = 125
	DefaultMaxFrame    = 1 << 20
	writeChunk         = 16384 - 4 // a server's frame with its header fills one TLS record
	clientHeader       = 4         // a client's frames carry a mask key more
	closeWriteDeadline = time.Second
)

// ProtocolError is a peer's breach of RFC 6455; the Conn has sent a close
// frame with Status and closed.
type ProtocolError struct {
	Status int
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("websocket: %s (close %d)", e.Reason, e.Status)
}

// CloseError is the peer's close frame: the stream ended on purpose.
// Read returns io.EOF for a normal close (1000, 1001) and this otherwise.
type CloseError struct {
	Status int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket: peer closed with status %d", e.Status)
	}
	return fmt.Sprintf("websocket: peer closed with status %d: %s", e.Status, e.Reason)
}

// Conn is a byte stream over a WebSocket connection.
type Conn struct {
	c        net.Conn
	client   bool  // writes are masked, reads must not be
	maxFrame int64 // largest data frame payload accepted

	// Read side: one reader at a time. Every field survives a read that
	// times out, so the stream resumes where it stopped.
	rmu     sync.Mutex
	pre     []byte   // bytes read past the handshake, consumed first
	hdr     [14]byte // the frame header being read
	hdrN    int      // bytes of hdr read so far
	remain  int64    // payload bytes left in the current frame
	opcode  byte     // the current frame's
	mask    [4]byte
	maskPos int
	masked  bool
	ctrl    []byte // a control frame's payload, held only while it is read
	ctrlN   int
	rerr    error // sticky: the stream is over

	// Write side.
	wmu       sync.Mutex
	closeSent atomic.Bool
	pong      atomic.Pointer[[]byte] // a pong owed while a write held wmu

	lastWrite atomic.Int64 // UnixNano, for keep-alive pings
	pingTimer *time.Timer
	pingEvery time.Duration
	closed    atomic.Bool
}

func newConn(c net.Conn, client bool, pre []byte, maxFrame int64) *Conn {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	if len(pre) == 0 {
		pre = nil
	}
	wc := &Conn{c: c, client: client, pre: pre, maxFrame: maxFrame}
	wc.lastWrite.Store(time.Now().UnixNano())
	return wc
}

// NetConn is the connection the frames travel on (a *tls.Conn for wss).
func (c *Conn) NetConn() net.Conn { return c.c }

// LocalAddr and RemoteAddr are the underlying connection's.
func (c *Conn) LocalAddr() net.Addr  { return c.c.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.c.RemoteAddr() }

// Deadlines apply to the underlying connection. A read that times out
// leaves the stream intact.
func (c *Conn) SetDeadline(t time.Time) error      { return c.c.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.c.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// source reads what arrived after the handshake first, then the
// connection.
func (c *Conn) source(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.c.Read(p)
}

// Read reads the stream: the payload of data frames, in order.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.remain > 0 && !isControl(c.opcode) {
			n, err := c.source(p[:min(int64(len(p)), c.remain)])
			c.unmask(p[:n])
			c.remain -= int64(n)
			if n > 0 {
				return n, nil
			}
			return 0, c.readFailed(err)
		}
		if c.remain > 0 {
			// A control frame's payload, collected whole.
			n, err := c.source(c.ctrl[c.ctrlN : c.ctrlN+int(c.remain)])
			c.unmask(c.ctrl[c.ctrlN : c.ctrlN+n])
			c.ctrlN += n
			c.remain -= int64(n)
			if c.remain > 0 {
				if err != nil {
					return 0, c.readFailed(err)
				}
				continue
			}
			if err := c.control(); err != nil {
				return 0, err
			}
			continue
		}
		if err := c.readHeader(); err != nil {
			return 0, err
		}
	}
}

// readFailed keeps a timeout resumable and makes anything else sticky.
func (c *Conn) readFailed(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	if err == io.EOF {
		// The connection ended without a close frame.
		err = io.ErrUnexpectedEOF
		if c.hdrN == 0 && c.remain == 0 {
			err = io.EOF
		}
	}
	c.rerr = err
	return err
}

// readHeader reads (the rest of) a frame header and checks it. After it
// returns nil, a new frame's payload is due: c.remain bytes of c.opcode.
func (c *Conn) readHeader() error {
	need := 2
	for {
		if c.hdrN >= 2 {
			need = 2 + extLen(c.hdr[1]&0x7f)
			if c.hdr[1]&0x80 != 0 {
				need += 4
			}
		}
		if c.hdrN >= need {
			break
		}
		n, err := c.source(c.hdr[c.hdrN:need])
		c.hdrN += n
		if c.hdrN < need && err != nil {
			return c.readFailed(err)
		}
	}
	h := c.hdr[:c.hdrN]
	c.hdrN = 0
	fin, rsv, op := h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0f
	masked := h[1]&0x80 != 0
	length := int64(h[1] & 0x7f)
	rest := h[2:]
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	case 127:
		u := binary.BigEndian.Uint64(rest)
		if u>>63 != 0 {
			return c.fail(StatusProtocol, "frame length has its top bit set")
		}
		length = int64(u)
		rest = rest[8:]
	}
	switch {
	case rsv != 0:
		return c.fail(StatusProtocol, "reserved bits set (no extension was negotiated)")
	case masked == c.client:
		if c.client {
			return c.fail(StatusProtocol, "the server masked a frame")
		}
		return c.fail(StatusProtocol, "the client sent an unmasked frame")
	case op == opText:
		return c.fail(StatusUnsupported, "text frames are not supported; send binary frames")
	case op != opContinuation && op != opBinary && !isControl(op):
		return c.fail(StatusProtocol, fmt.Sprintf("unknown opcode %#x", op))
	case isControl(op) && (!fin || length > maxControlPayload):
		return c.fail(StatusProtocol, "control frame fragmented or longer than 125 bytes")
	case length > c.maxFrame:
		return c.fail(StatusTooBig, fmt.Sprintf("frame of %d bytes is over the limit of %d", length, c.maxFrame))
	}
	c.opcode, c.remain, c.masked, c.maskPos, c.ctrlN = op, length, masked, 0, 0
	if masked {
		copy(c.mask[:], rest)
	}
	if isControl(op) {
		if length == 0 {
			return c.control()
		}
		// Allocated for the frame, not kept with the connection: an
		// idle session's WebSockets hold no buffer.
		c.ctrl = make([]byte, length)
	}
	return nil
}

func extLen(l byte) int {
	switch l {
	case 126:
		return 2
	case 127:
		return 8
	}
	return 0
}

func isControl(op byte) bool { return op&0x8 != 0 }

func (c *Conn) unmask(p []byte) {
	if c.masked {
		c.maskPos = maskBytes(c.mask, c.maskPos, p)
	}
}

// maskBytes XORs b with the mask key, starting at key position pos, and
// returns the position after b. It works a machine word at a time: the
// mask is what a browser's upload costs the broker per byte.
func maskBytes(key [4]byte, pos int, b []byte) int {
	var k [8]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	kw := binary.LittleEndian.Uint64(k[:])
	i := 0
	for ; i+32 <= len(b); i += 32 {
		q := b[i : i+32 : i+32]
		binary.LittleEndian.PutUint64(q[0:], binary.LittleEndian.Uint64(q[0:])^kw)
		binary.LittleEndian.PutUint64(q[8:], binary.LittleEndian.Uint64(q[8:])^kw)
		binary.LittleEndian.PutUint64(q[16:], binary.LittleEndian.Uint64(q[16:])^kw)
		binary.LittleEndian.PutUint64(q[24:], binary.LittleEndian.Uint64(q[24:])^kw)
	}
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^kw)
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&7]
	}
	return pos + len(b)
}

// control acts on a whole control frame.
func (c *Conn) control() error {
	payload := c.ctrl[:c.ctrlN]
	op := c.opcode
	c.opcode, c.ctrl, c.ctrlN = opBinary, nil, 0
	switch op {
	case opPing:
		c.sendPong(payload)
		return nil
	case opPong:
		return nil
	}
	// Close: answer it (unless we closed first) and end the stream.
	status, reason := StatusNormal, ""
	switch {
	case len(payload) == 1:
		return c.fail(StatusProtocol, "close frame with a one-byte payload")
	case len(payload) >= 2:
		status = int(binary.BigEndian.Uint16(payload))
		reason = string(payload[2:])
		if !utf8.ValidString(reason) {
			return c.fail(StatusProtocol, "close reason is not UTF-8")
		}
	}
	c.writeClose(StatusNormal, "")
	if status == StatusNormal || status == 1001 || len(payload) == 0 {
		c.rerr = io.EOF
	} else {
		c.rerr = &CloseError{Status: status, Reason: reason}
	}
	return c.rerr
}

// fail answers a protocol breach with a close frame and closes.
func (c *Conn) fail(status int, reason string) error {
	err := &ProtocolError{Status: status, Reason: reason}
	c.rerr = err
	c.writeClose(status, reason)
	c.c.Close()
	return err
}

// sendPong answers a ping now, or after the write in progress.
func (c *Conn) sendPong(payload []byte) {
	p := append([]byte(nil), payload...)
	if !c.wmu.TryLock() {
		c.pong.Store(&p)
		return
	}
	defer c.wmu.Unlock()
	c.writeFrameLocked(opPong, p)
}

// Write sends p as binary frames, each small enough that with its header
// it fills one TLS record (16 KiB) at most: larger frames made a runt
// record of a few bytes each.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		return 0, net.ErrClosed
	}
	written := 0
	for len(p) > 0 || written == 0 {
		size := writeChunk
		if c.client {
			size -= clientHeader
		}
		chunk := p[:min(len(p), size)]
		if err := c.writeFrameLocked(opBinary, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
		if len(p) == 0 {
			break
		}
	}
	if pp := c.pong.Swap(nil); pp != nil {
		c.writeFrameLocked(opPong, *pp)
	}
	return written, nil
}

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 14+writeChunk); return &b }}

// writeFrameLocked writes one frame (header and payload in one write, so
// that TLS makes one record). The caller holds wmu.
func (c *Conn) writeFrameLocked(op byte, payload []byte) error {
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	b := (*bp)[:0]
	b = append(b, 0x80|op)
	maskBit := byte(0)
	if c.client {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126, byte(n>>8), byte(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if c.client {
		var key [4]byte
		rand.Read(key[:])
		b = append(b, key[:]...)
		start := len(b)
		b = append(b, payload...)
		maskBytes(key, 0, b[start:])
	} else {
		b = append(b, payload...)
	}
	*bp = b
	_, err := c.c.Write(b)
	c.lastWrite.Store(time.Now().UnixNano())
	return err
}

// writeClose sends a close frame once, without waiting long for a
// writer that is stuck.
func (c *Conn) writeClose(status int, reason string) {
	if c.closeSent.Swap(true) {
		return
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(status))
	p = append(p, reason...)
	locked := c.wmu.TryLock()
	if !locked {
		t := time.NewTimer(closeWriteDeadline)
		defer t.Stop()
		for !locked {
			select {
			case <-t.C:
				return // a writer is stuck; the close frame is skipped
			case <-time.After(10 * time.Millisecond):
				locked = c.wmu.TryLock()
			}
		}
	}
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(closeWriteDeadline))
	c.writeFrameLocked(opClose, p)
}

// CloseWrite sends the close frame: this side has nothing more to say.
func (c *Conn) CloseWrite() error {
	c.writeClose(StatusNormal, "")
	return nil
}

// Close sends a close frame (briefly, best effort) and closes the
// connection.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if t := c.pingTimer; t != nil {
		t.Stop()
	}
	c.writeClose(StatusNormal, "")
	return c.c.Close()
}

// KeepAlive sends a ping whenever nothing has been written for every, so
// that proxies which cut quiet connections keep this one. It costs a
// timer, no goroutine. The peer's pong arrives as something to read.
func (c *Conn) KeepAlive(every time.Duration) {
	if every <= 0 {
		return
	}
	c.pingEvery = every
	c.pingTimer = time.AfterFunc(every, c.ping)
}

func (c *Conn) ping() {
	if c.closed.Load() || c.closeSent.Load() {
		return
	}
	quiet := time.Since(time.Unix(0, c.lastWrite.Load()))
	if quiet >= c.pingEvery && c.wmu.TryLock() {
		// A ping must not block on a stalled peer; the write deadline of
		// a data write in progress would be ours to spoil, so a busy
		// writer means the connection is not quiet anyway.
		c.c.SetWriteDeadline(time.Now().Add(c.pingEvery))
		err := c.writeFrameLocked(opPing, nil)
		c.c.SetWriteDeadline(time.Time{})
		c.wmu.Unlock()
		if err != nil {
			return
		}
		quiet = 0
	}
	c.pingTimer.Reset(c.pingEvery - quiet)
}

var _ net.Conn = (*Conn)(nil)
