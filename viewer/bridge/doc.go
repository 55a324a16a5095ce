// Package bridge is the supporter's side of "lifebuoy connect CODE": it
// makes any stock VNC viewer safe across the internet, with no VeNCrypt
// in the viewer, by carrying its session to the broker over wss://…/rfb
// (TLS, the broker's certificate trusted through WebPKI or a pinned
// fingerprint) as the signed-in supporter (the API token in
// "Authorization: Bearer"), so that the customer is told who watches.
//
// On the supporter's machine the bridge listens on a loopback port for
// exactly one connection, which must answer VNC Authentication with a
// random one-time password, so that another local user cannot take the
// session: the listener closes at the first connection, and a wrong
// password ends the bridge.
//
//	viewer ──TCP 127.0.0.1:P── bridge ══wss://broker/rfb══ broker ── agent
//
//	viewer ↔ bridge: RFB 3.3/3.7/3.8 up to SecurityResult; the bridge is
//	        the server and offers VNC Authentication with the one-time
//	        password
//	bridge ↔ broker: RFB 3.8 up to SecurityResult; the bridge is the
//	        client and answers VNC Authentication with the session code
//	then:   the broker's SecurityResult goes to the viewer (with its
//	        reason, when the viewer speaks 3.8) and, if it is OK, the
//	        bytes are spliced both ways: ClientInit and ServerInit are the
//	        same in every RFB 3.x, so the two sides' versions may differ.
//
// The smallest real use:
//
//	br, err := bridge.Listen(bridge.Config{URL: "https://help.example.com:5512", Token: tok, Code: "482913"})
//	fmt.Println(br.Addr(), br.Password()) // give these to the viewer
//	err = br.Serve(ctx)                   // until the session ends
package bridge
