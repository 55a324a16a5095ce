package agentlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// muxFrame builds a frame as the other side writes it.
func muxFrame(ch byte, payload []byte) []byte {
	b := []byte{ch, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

func controlFrame(m Message) []byte {
	b, _ := AppendFrame(nil, m)
	return muxFrame(chanControl, b)
}

// The stream comes out whole and in order, control messages go to the
// callback where they stood, and a read that times out inside a header
// resumes.
func TestMuxReadResumes(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var got []Message
	m := NewMux(a, func(msg Message) { got = append(got, msg) })
	in := append(muxFrame(chanStream, []byte("RFB 003")), controlFrame(&Rights{SessionID: "s", Control: true})...)
	in = append(in, muxFrame(chanStream, []byte(".008\n"))...)
	go func() {
		for i := 0; i < len(in); i += 3 {
			b.Write(in[i:min(i+3, len(in))])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var stream []byte
	buf := make([]byte, 64)
	for len(stream) < 12 {
		m.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
		n, err := m.Read(buf)
		stream = append(stream, buf[:n]...)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
	}
	if string(stream) != "RFB 003.008\n" {
		t.Fatalf("stream %q", stream)
	}
	if r, ok := got[0].(*Rights); len(got) != 1 || !ok || !r.Control {
		t.Fatalf("control messages %v", got)
	}
}

// Write and WriteControl frame what they send, so that the other side's
// Mux reads it back.
func TestMuxRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ends := make(chan error, 1)
	var got []Message
	reader := NewMux(b, func(msg Message) { got = append(got, msg) })
	reader.OnEnd(func(err error) { ends <- err })
	writer := NewMux(a, nil)
	big := bytes.Repeat([]byte("x"), 100_000)
	go func() {
		writer.Write(big)
		writer.WriteControl(&End{Reason: "bye"})
		writer.Close()
	}()
	all, err := io.ReadAll(reader)
	if err != nil || !bytes.Equal(all, big) {
		t.Fatalf("read %d bytes, %v", len(all), err)
	}
	if e, ok := got[0].(*End); !ok || e.Reason != "bye" {
		t.Fatalf("control %v", got)
	}
	if err := <-ends; err != io.EOF {
		t.Fatalf("end %v", err)
	}
}

// byteConn reads a fixed input.
type byteConn struct {
	net.Conn
	r *bytes.Reader
}

func (c byteConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c byteConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzMux: any input ends in an error, never a panic, never more stream
// bytes than arrived, and control payloads no larger than the limit.
func FuzzMux(f *testing.F) {
	f.Add(append(muxFrame(chanStream, []byte("abc")), controlFrame(&Ping{})...))
	f.Add(muxFrame(chanControl, []byte{byte(TypeRights), 0, 0, 0, 2, '{', '}'}))
	f.Add([]byte{7, 0, 0, 0, 1, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		m := NewMux(byteConn{r: bytes.NewReader(in)}, func(Message) {})
		buf := make([]byte, 13)
		total := 0
		for range len(in) + 2 {
			n, err := m.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		if total > len(in) {
			t.Fatalf("%d stream bytes from %d", total, len(in))
		}
	})
}

// A control message goes out after the stream's write deadline has run
// out: the relay sets one for each of its writes and leaves it behind,
// and a viewer quiet for longer must not cut the supporter's requests
// (OpenFiles, Request, End) off from the agent. The stream's writes still
// keep their deadline.
func TestMuxControlOutlivesStreamDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	m := NewMux(a, nil)
	got := make(chan []byte, 4)
	go func() {
		for {
			buf := make([]byte, 256)
			n, err := b.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- buf[:n]
		}
	}()
	m.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := m.Write([]byte("rfb")); err != nil {
		t.Fatal(err)
	}
	<-got
	time.Sleep(50 * time.Millisecond)
	if err := m.WriteControl(&OpenFiles{SessionID: "s", FilesID: "f", Token: "t"}); err != nil {
		t.Fatalf("a control message after the stream's deadline: %v", err)
	}
	if b := <-got; b[0] != chanControl {
		t.Fatalf("got frame %x, want a control frame", b)
	}
	if _, err := m.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a stream write after its deadline: %v, want the deadline error", err)
	}
}
