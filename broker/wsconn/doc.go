// Package wsconn carries a byte stream over WebSocket (RFC 6455), as
// websockify does for VNC: browsers (noVNC) reach the broker's RFB
// front this way, and agents behind firewalls that pass only HTTPS reach
// its agent channel.
//
// A Conn is a net.Conn. Every Write is sent as binary frames; Read
// returns the payload of binary (and continuation) frames as one stream
// and answers pings and the close handshake itself.
//
//	C: GET /rfb HTTP/1.1, Upgrade: websocket, Connection: Upgrade,
//	   Sec-WebSocket-Version: 13, Sec-WebSocket-Key: <base64 of 16 bytes>,
//	   [Sec-WebSocket-Protocol: binary]  (noVNC 1.7 offers none)
//	S: HTTP/1.1 101, Sec-WebSocket-Accept: base64(SHA-1(key + GUID)),
//	   [Sec-WebSocket-Protocol: binary]
//	then frames both ways:
//	   U8  FIN(0x80) | opcode (0 continuation, 2 binary, 8 close, 9 ping, 10 pong)
//	   U8  MASK(0x80) | length (0-125, 126: U16 follows, 127: U64 follows)
//	   [U16 | U64 length]  [4-byte mask key, client to server only]
//	   payload, XORed with the mask key when masked
//
// Why not github.com/coder/websocket, the usual choice: the broker lets a
// quiet connection wait without a goroutine (see the broker's parker) and
// finds out that it is quiet by reading with a short deadline. A Conn
// therefore passes deadlines to the connection under it, and a read that
// times out leaves the stream intact, to be read on later, even when it
// stopped inside a frame header. coder/websocket's NetConn closes the
// connection when a deadline passes during a read, and keeps a buffered
// reader and writer per connection; an idle Conn here holds only its
// small struct. NetConn returns the connection underneath, so the
// broker can wait on its socket.
//
// Smallest use, on a server:
//
//	http.HandleFunc("/rfb", func(w http.ResponseWriter, r *http.Request) {
//		c, err := wsconn.Upgrade(w, r, wsconn.Options{})
//		if err != nil {
//			return // Upgrade answered the request
//		}
//		serve(c)
//	})
//
// and on a client:
//
//	c, err := wsconn.Dial(ctx, "wss://broker.example:5512/agent", wsconn.DialOptions{TLS: cfg})
package wsconn
