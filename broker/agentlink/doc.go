// Package agentlink is the agent's side of the broker's agent channel
// (port 5510), and the channel's wire messages, which the broker shares.
//
// An agent dials out, pins the broker's certificate by its SHA-256
// fingerprint, and gets a session code (or presents one a supporter got).
// When a viewer pairs with the code, it asks the customer and opens a
// data connection (resuming the link's TLS session) that carries the
// viewer's RFB stream. The link stays open while the session runs, for
// the customer's rights (SendRights) and the supporter's requests
// (Requests); the broker's End or the link's loss ends the session:
//
//	link, err := agentlink.Dial(ctx, agentlink.Config{
//		Broker: "broker.example:5510", Fingerprint: fp})
//	fmt.Println("your code:", link.Code())
//	in, err := link.Accept(ctx)
//	conn, err := in.Open(ctx) // after the customer consents
//	if in.Mode == agentlink.ModeAuthenticated {
//		srv.ServeAuthenticated(ctx, conn, in.Version)
//	} else {
//		srv.ServeConn(ctx, conn)
//	}
//
// The wire format is described in wire.go.
package agentlink
