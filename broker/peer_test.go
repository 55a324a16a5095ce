package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"lifebuoy/broker/agentlink"
)

// helloBytes frames a raw JSON hello as the peer port reads it.
func helloBytes(json string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(json))), json...)
}

func TestReadPeerHello(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		ok   bool
		op   peerOp
	}{
		{"forward", helloBytes(`{"code":"123456789","mode":"rfb-raw","from":"a"}`), true, peerForward},
		{"forward authenticated", helloBytes(`{"code":"1","mode":"rfb-authenticated","version":8}`), true, peerForward},
		{"forward without mode", helloBytes(`{"code":"1"}`), false, ""},
		{"end", helloBytes(`{"code":"1","op":"end","reason":"done","supporter":{"account":"anna"}}`), true, peerEnd},
		{"rights", helloBytes(`{"code":"1","op":"rights","control":true}`), true, peerRights},
		// A request with a mode would be a forward to a node that
		// does not know the op: it must not be sent, nor taken.
		{"end with mode", helloBytes(`{"code":"1","op":"end","mode":"rfb-raw"}`), false, ""},
		{"unknown op", helloBytes(`{"code":"1","op":"spend"}`), false, ""},
		{"not JSON", helloBytes(`{"code":`), false, ""},
		{"too long", binary.BigEndian.AppendUint16(nil, maxPeerHello+1), false, ""},
		{"short", []byte{0}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := readPeerHello(bytes.NewReader(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if c.ok && h.Op != c.op {
				t.Fatalf("op %v, want %v", h.Op, c.op)
			}
		})
	}
}

func TestPeerHelloRoundTrip(t *testing.T) {
	for _, h := range []peerHello{
		{Code: "123456789", Mode: agentlink.ModeRaw, Viewer: "127.0.0.1:1", Port: "repeater", From: "c"},
		{Code: "123456789", Op: peerEnd, Reason: "ended by the supporter", Supporter: Supporter{Account: "anna", Name: "Anna"}, From: "c"},
		{Code: "123456789", Op: peerRights, Control: true, Files: true, From: "a"},
	} {
		var buf bytes.Buffer
		if err := writePeerHello(&buf, &h); err != nil {
			t.Fatal(err)
		}
		got, err := readPeerHello(&buf)
		if err != nil {
			t.Fatalf("%v: %v", h.Op, err)
		}
		if *got != h {
			t.Fatalf("got %+v, want %+v", *got, h)
		}
	}
}

func FuzzReadPeerHello(f *testing.F) {
	f.Add(helloBytes(`{"code":"123456789","mode":"rfb-raw","from":"a"}`))
	f.Add(helloBytes(`{"code":"1","op":"end","reason":"x"}`))
	f.Add(helloBytes(`{"code":"1","op":"rights","control":true,"files":true}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := readPeerHello(bytes.NewReader(in))
		if err != nil {
			return
		}
		// What was taken is one of the known requests, and a forward
		// has a mode while a request has none.
		switch h.Op {
		case peerForward:
			if h.Mode != agentlink.ModeAuthenticated && h.Mode != agentlink.ModeRaw {
				t.Fatalf("forward with mode %q", h.Mode)
			}
		case peerEnd, peerRights:
			if h.Mode != "" {
				t.Fatalf("%v with mode %q", h.Op, h.Mode)
			}
		default:
			t.Fatalf("op %q", string(h.Op))
		}
	})
}
