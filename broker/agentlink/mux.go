package agentlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// A session's data connection carries two things once it is spliced: the
// RFB stream and the control messages that the control link carried
// before (Rights, Request, End). It is framed so that one connection
// does both, and the control link closes at the splice: an idle session
// then costs the broker one TLS connection (and one socket) for its agent,
// not two, and its two sides share one fate.
//
//	frame: U8 channel, U32 length, payload
//	channel 0: RFB bytes, handed on as they are (the broker relays them)
//	channel 1: one control message, an agent channel frame as in wire.go
//
// A Mux is the data connection seen through that framing: a net.Conn
// whose Read returns the RFB stream and whose Write sends it, and which
// hands control messages to a callback as it meets them. Its reads
// resume after a timeout even inside a frame header and keep no buffer
// of their own, so a broker can wait on the socket underneath.

// Mux channels.
const (
	chanStream  = 0
	chanControl = 1
)

const muxHeader = 5

// maxStreamFrame bounds a stream frame that Read accepts.
const maxStreamFrame = 64 << 10

// streamChunk is the payload a Write puts in one stream frame: with its
// header it fits one TLS 1.3 record (16,384 bytes of plaintext) that,
// with the record's 22 bytes and a WebSocket frame's header (8 bytes
// with the client's mask), also fits one record of the front's TLS on
// /agent. A frame never straddles records,
// so the broker's relay reads and writes whole 16 KiB pieces and the
// layers below send no runt records.
const streamChunk = 16384 - 22 - 8 - muxHeader

// Mux frames a data connection (see above).
type Mux struct {
	c         net.Conn
	onControl func(Message) // called from Read, for each control message
	onEnd     func(error)   // called once, when reading ends for good
	endOnce   sync.Once

	rmu    sync.Mutex
	hdr    [muxHeader]byte
	hdrN   int
	remain int    // payload left in the current stream frame
	ctrl   []byte // a control frame's payload being read
	ctrlN  int
	inCtrl bool
	rerr   error

	wmu sync.Mutex

	dlmu sync.Mutex
	wdl  time.Time // the stream's write deadline, as last set
}

// controlWriteWait bounds the write of a control message. A control
// message does not take the stream's write deadline: the relay sets that
// for each of its writes and leaves it behind, so it would have run out
// for a message sent after the viewer has been quiet a while.
const controlWriteWait = 10 * time.Second

// NewMux frames c; onControl gets the control messages that arrive,
// from within Read (it must not block long).
func NewMux(c net.Conn, onControl func(Message)) *Mux {
	return &Mux{c: c, onControl: onControl}
}

// OnEnd has f called once when reading ends for good (the connection
// closed or failed, or a bad frame), with the reason.
func (m *Mux) OnEnd(f func(error)) { m.onEnd = f }

// setErr makes err the stream's end.
func (m *Mux) setErr(err error) error {
	m.rerr = err
	if m.onEnd != nil {
		m.endOnce.Do(func() { m.onEnd(err) })
	}
	return err
}

// NetConn is the connection underneath.
func (m *Mux) NetConn() net.Conn { return m.c }

func (m *Mux) LocalAddr() net.Addr               { return m.c.LocalAddr() }
func (m *Mux) RemoteAddr() net.Addr              { return m.c.RemoteAddr() }
func (m *Mux) SetReadDeadline(t time.Time) error { return m.c.SetReadDeadline(t) }
func (m *Mux) Close() error                      { return m.c.Close() }

// SetDeadline sets the read deadline and the stream's write deadline.
func (m *Mux) SetDeadline(t time.Time) error {
	m.SetReadDeadline(t)
	return m.SetWriteDeadline(t)
}

// SetWriteDeadline sets the deadline of the stream's writes (Write); it
// also interrupts a write under way, a control message's too.
func (m *Mux) SetWriteDeadline(t time.Time) error {
	m.dlmu.Lock()
	defer m.dlmu.Unlock()
	m.wdl = t
	return m.c.SetWriteDeadline(t)
}

// CloseWrite passes a half-close on.
func (m *Mux) CloseWrite() error {
	if cw, ok := m.c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Read returns RFB bytes; control messages met on the way go to the
// callback.
func (m *Mux) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	m.rmu.Lock()
	defer m.rmu.Unlock()
	for {
		if m.rerr != nil {
			return 0, m.rerr
		}
		if m.remain > 0 {
			n, err := m.c.Read(p[:min(len(p), m.remain)])
			m.remain -= n
			if n > 0 {
				return n, nil
			}
			return 0, m.failed(err)
		}
		if m.inCtrl {
			n, err := m.c.Read(m.ctrl[m.ctrlN:])
			m.ctrlN += n
			if m.ctrlN < len(m.ctrl) {
				if err != nil {
					return 0, m.failed(err)
				}
				continue
			}
			m.inCtrl = false
			msg, err := readControl(m.ctrl)
			m.ctrl = nil
			if err != nil {
				return 0, m.setErr(err)
			}
			if m.onControl != nil {
				m.onControl(msg)
			}
			continue
		}
		n, err := m.c.Read(m.hdr[m.hdrN:])
		m.hdrN += n
		if m.hdrN < muxHeader {
			if err != nil {
				return 0, m.failed(err)
			}
			continue
		}
		m.hdrN = 0
		length := binary.BigEndian.Uint32(m.hdr[1:])
		switch m.hdr[0] {
		case chanStream:
			if length > maxStreamFrame {
				return 0, m.setErr(&ProtocolError{fmt.Sprintf("stream frame of %d bytes", length)})
			}
			m.remain = int(length)
		case chanControl:
			if length > headerLen+MaxPayload {
				return 0, m.setErr(ErrFrameTooLarge)
			}
			m.ctrl, m.ctrlN, m.inCtrl = make([]byte, length), 0, true
		default:
			return 0, m.setErr(&ProtocolError{fmt.Sprintf("unknown channel %d", m.hdr[0])})
		}
	}
}

// readControl decodes one control frame.
func readControl(b []byte) (Message, error) {
	if len(b) < headerLen || int(binary.BigEndian.Uint32(b[1:])) != len(b)-headerLen {
		return nil, &ProtocolError{"malformed control frame"}
	}
	return DecodeMessage(Type(b[0]), b[headerLen:])
}

// failed keeps a timeout resumable and makes anything else sticky.
func (m *Mux) failed(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	if err == io.EOF && (m.hdrN > 0 || m.remain > 0 || m.inCtrl) {
		err = io.ErrUnexpectedEOF
	}
	return m.setErr(err)
}

var muxBufs = sync.Pool{New: func() any { b := make([]byte, 0, muxHeader+streamChunk); return &b }}

// Write sends p as RFB bytes.
func (m *Mux) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), streamChunk)]
		if err := m.writeFrame(chanStream, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

// WriteControl sends a control message, between stream frames.
func (m *Mux) WriteControl(msg Message) error {
	b, err := AppendFrame(nil, msg)
	if err != nil {
		return err
	}
	return m.writeFrame(chanControl, b)
}

// writeFrame writes header and payload in one write.
func (m *Mux) writeFrame(ch byte, payload []byte) error {
	bp := muxBufs.Get().(*[]byte)
	defer muxBufs.Put(bp)
	b := append((*bp)[:0], ch, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	b = append(b, payload...)
	*bp = b
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if ch == chanControl {
		m.dlmu.Lock()
		m.c.SetWriteDeadline(time.Now().Add(controlWriteWait))
		m.dlmu.Unlock()
		defer func() {
			m.dlmu.Lock()
			m.c.SetWriteDeadline(m.wdl)
			m.dlmu.Unlock()
		}()
	}
	_, err := m.c.Write(b)
	return err
}

var _ net.Conn = (*Mux)(nil)
