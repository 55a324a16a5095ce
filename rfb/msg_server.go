package rfb

// Server-to-client messages:
//
//	  0 FramebufferUpdate       U8 pad, U16 n-rects, then per rectangle
//	                            U16 x, y, w, h, S32 encoding, data
//	  1 SetColourMapEntries     U8 pad, U16 first, U16 n, n × U16 r, g, b
//	  2 Bell
//	  3 ServerCutText           3 pad, U32 length, Latin-1 text
//	150 EndOfContinuousUpdates
//	248 ServerFence             as ClientFence
//
// This server never sends SetColourMapEntries: it only serves true colour.

// ServerMessageType is the first byte of a server-to-client message.
type ServerMessageType uint8

// Server message types.
const (
	msgFramebufferUpdate      ServerMessageType = 0
	msgSetColourMapEntries    ServerMessageType = 1
	msgBell                   ServerMessageType = 2
	msgServerCutText          ServerMessageType = 3
	msgEndOfContinuousUpdates ServerMessageType = 150
	msgServerFence            ServerMessageType = 248
)

func appendServerCutText(b, text []byte) []byte {
	b = append(b, byte(msgServerCutText), 0, 0, 0)
	b = append(b, byte(len(text)>>24), byte(len(text)>>16), byte(len(text)>>8), byte(len(text)))
	return append(b, text...)
}
