// Package desk is the supporter's desk on the broker's HTTPS front: the
// web console (sign-in, codes, the live list of sessions, the browser
// viewer around noVNC, the admin pages), the REST API with per-account
// tokens, and Identify, which names the supporter behind a viewer's
// WebSocket to /rfb so that the customer's consent prompt can name them.
//
// Pages are server-rendered html/template in English and German (chosen
// from Accept-Language, or the lang cookie the header's switch sets),
// with a little JavaScript of our own for the live list and the viewer.
// Every response carries a strict Content-Security-Policy (scripts and
// styles from our own origin only, no inline code); state-changing
// requests pass http.CrossOriginProtection; the session cookie is
// __Host-, Secure, HttpOnly and SameSite=Lax.
//
// Wiring it into the broker:
//
//	d, err := desk.New(desk.Config{Auth: svc, Broker: b, DataDir: dir, Log: log})
//	b.SetDesk(d)                  // d.Handler() and d.Identify
//	go d.Run(ctx)                 // ends sessions of disabled accounts, expires console sessions
package desk
