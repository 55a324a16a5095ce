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
