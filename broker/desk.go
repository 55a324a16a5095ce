package broker

import (
	"net/http"
)

// Supporter names whoever issues or redeems a code.
type Supporter struct {
	Account string `json:"account,omitempty"` // the desk's account (login name); "" for an unidentified viewer
	Name    string `json:"name,omitempty"`    // display name: "Anna Berger"
	Team    string `json:"team,omitempty"`    // "Acme Support"
}

// Known reports whether the desk named this supporter.
func (s Supporter) Known() bool { return s.Account != "" }

// Desk is the supporter's desk (package viewer) as the broker sees it.
type Desk interface {
	// Handler serves everything on the HTTPS front but /rfb and /agent:
	// the console, the REST API, agent downloads. Unknown paths: 404.
	Handler() http.Handler
	// Identify names the supporter behind a request to /rfb (the
	// console's session cookie, or "Authorization: Bearer <API token>"
	// from the bridge); ok is false for an anonymous viewer.
	Identify(r *http.Request) (s Supporter, ok bool)
}

// SetDesk mounts the supporter's desk on the HTTPS front. Call it before
// Serve.
func (b *Broker) SetDesk(d Desk) { b.desk.Store(&d) }
