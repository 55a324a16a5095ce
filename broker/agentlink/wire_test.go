package agentlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

var wireCases = []Message{
	&Hello{Version: 1, WantCode: true, Name: "Frau Müller"},
	&Hello{Version: 1, JoinCode: "482913"},
	&Welcome{Code: "482913", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
	&Error{Reason: "the code expired"},
	&Ping{},
	&Pong{},
	&OpenData{SessionID: "s1", Token: "t1", Mode: ModeAuthenticated, Version: 38, Viewer: "192.0.2.1:5000"},
	&OpenData{SessionID: "s2", Token: "t2", Mode: ModeRaw, Viewer: "v"},
	&DataHello{SessionID: "s1", Token: "t1"},
	&Decline{SessionID: "s1", Reason: "no"},
	&End{SessionID: "s1", Reason: "bye"},
	&Hello{Version: 2, WantCode: true, Features: []string{FeatureFiles}},
	&OpenFiles{SessionID: "s1", FilesID: "f1", Token: "t3", Supporter: Supporter{Account: "anna", Name: "Anna Berger"}},
	&Welcome{Code: "482913", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Resume: "r1"},
	&Hello{Version: 3, JoinCode: "482913", Resume: "r1"},
	&Redirect{Broker: "node-b.example:5510"},
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range wireCases {
		b, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if Type(b[0]) != m.Type() || int(binary.BigEndian.Uint32(b[1:])) != len(b)-headerLen {
			t.Fatalf("%v: bad header % x", m.Type(), b[:headerLen])
		}
		// One byte at a time, as a slow connection delivers it.
		r := iotest.OneByteReader(bytes.NewReader(append(b, 0xAA)))
		got, err := ReadMessage(r)
		if err != nil {
			t.Fatalf("%v: %v", m.Type(), err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%v: got %+v, want %+v", m.Type(), got, m)
		}
		// Nothing beyond the frame was read.
		rest, _ := io.ReadAll(r)
		if !bytes.Equal(rest, []byte{0xAA}) {
			t.Fatalf("%v: read past the frame", m.Type())
		}
	}
}

func TestWireErrors(t *testing.T) {
	big := binary.BigEndian.AppendUint32([]byte{byte(TypeHello)}, MaxPayload+1)
	if _, err := ReadMessage(bytes.NewReader(big)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	unknown := binary.BigEndian.AppendUint32([]byte{200}, 2)
	var pe *ProtocolError
	if _, err := ReadMessage(bytes.NewReader(append(unknown, "{}"...))); !errors.As(err, &pe) {
		t.Errorf("unknown type: %v", err)
	}
	bad := binary.BigEndian.AppendUint32([]byte{byte(TypeHello)}, 3)
	if _, err := ReadMessage(bytes.NewReader(append(bad, "{x}"...))); !errors.As(err, &pe) {
		t.Errorf("bad JSON: %v", err)
	}
	short := binary.BigEndian.AppendUint32([]byte{byte(TypeHello)}, 10)
	if _, err := ReadMessage(bytes.NewReader(append(short, "{}"...))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short: %v", err)
	}
	if Type(77).String() != "Type(77)" || TypeOpenData.String() != "OpenData" {
		t.Error("Type.String")
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, m := range wireCases {
		b, _ := AppendFrame(nil, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		b2, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
		m2, err := ReadMessage(bytes.NewReader(b2))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", m, m2, err)
		}
	})
}

// stutterReader hands out its bytes in pieces of the sizes in steps, and
// a timeout before every piece whose size is odd, as a connection polled
// with short deadlines does.
type stutterReader struct {
	b       []byte
	steps   []byte
	i       int
	stalled bool
}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }
func (timeoutError) Timeout() bool { return true }

func (r *stutterReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	step := 1
	if len(r.steps) > 0 {
		step = int(r.steps[r.i%len(r.steps)])%7 + 1
		r.i++
	}
	if step%2 == 1 && !r.stalled {
		r.stalled = true
		return 0, timeoutError{}
	}
	r.stalled = false
	n := copy(p, r.b[:min(step, len(r.b))])
	r.b = r.b[n:]
	return n, nil
}

// FuzzFrameReader: a FrameReader fed in pieces, with timeouts between
// them, yields the same messages and the same final error as ReadMessage
// reading the stream whole.
func FuzzFrameReader(f *testing.F) {
	for _, m := range wireCases {
		b, _ := AppendFrame(nil, m)
		f.Add(append(b, b...), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, b, steps []byte) {
		var want []Message
		var wantErr error
		whole := bytes.NewReader(b)
		for {
			m, err := ReadMessage(whole)
			if err != nil {
				wantErr = err
				break
			}
			want = append(want, m)
		}
		fr := NewFrameReader(&stutterReader{b: b, steps: steps})
		var got []Message
		var gotErr error
		for timeouts := 0; ; {
			m, err := fr.Read()
			var te timeoutError
			if errors.As(err, &te) {
				if timeouts++; timeouts > 8*len(b)+8 {
					t.Fatal("no progress")
				}
				continue
			}
			if err != nil {
				gotErr = err
				break
			}
			got = append(got, m)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("messages %+v, want %+v", got, want)
		}
		if (gotErr == nil) != (wantErr == nil) || gotErr.Error() != wantErr.Error() {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
	})
}
