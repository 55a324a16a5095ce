package rfb

import "encoding/binary"

// Fence flags.
const (
	FenceBlockBefore uint32 = 1 << 0
	FenceBlockAfter  uint32 = 1 << 1
	FenceSyncNext    uint32 = 1 << 2
	FenceRequest     uint32 = 1 << 31
	fenceKnown              = FenceBlockBefore | FenceBlockAfter | FenceSyncNext | FenceRequest
)

const maxFencePayload = 64

// ClientFence (type 248) and ServerFence (server type 248) share a layout:
// 3 padding bytes, U32 flags, U8 length (<= 64), payload.
type ClientFence struct {
	Flags   uint32
	Payload []byte
}

func (m *ClientFence) appendTo(b []byte) []byte {
	return appendFence(b, byte(MsgClientFence), m.Flags, m.Payload)
}

func appendFence(b []byte, t byte, flags uint32, payload []byte) []byte {
	b = append(b, t, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, flags)
	b = append(b, byte(len(payload)))
	return append(b, payload...)
}

func readFence(r *wireReader) (flags uint32, payload []byte, err error) {
	b, err := r.full(8)
	if err != nil {
		return 0, nil, err
	}
	flags = binary.BigEndian.Uint32(b[3:])
	n := int(b[7])
	if n > maxFencePayload {
		return 0, nil, protoErrorf("fence payload of %d bytes exceeds %d", n, maxFencePayload)
	}
	b, err = r.full(n)
	if err != nil {
		return 0, nil, err
	}
	return flags, append([]byte(nil), b...), nil
}

func parseClientFence(r *wireReader, _ *Limits) (ClientMessage, error) {
	flags, payload, err := readFence(r)
	if err != nil {
		return nil, err
	}
	return &ClientFence{Flags: flags, Payload: payload}, nil
}
