package desk

import (
	"time"
)

// Broker is what the desk needs of the broker: package broker's *Broker
// has these methods. It is an interface so that the desk's handlers can
// be tested without a broker's listeners.
type Broker interface {
	IssueCode(by Supporter) (code string, expires time.Time, err error)
	Sessions() []SessionInfo
	EndSession(code string, by Supporter, reason string) error
	RequestControl(code string, by Supporter) error
	Subscribe() (changed <-chan struct{}, cancel func())
}

// Supporter names whoever issues or redeems a code.
type Supporter struct {
	Account string // the desk's account (login name); "" for an unidentified viewer
	Name    string // display name: "Anna Berger"
	Team    string // "Acme Support"
}

// SessionInfo is a waiting code or a running session.
type SessionInfo struct {
	Code, State, Flow           string
	Supporter                   Supporter
	Customer                    string
	CustomerAddr                string
	Viewer                      string
	Path                        string
	Since, Expires              time.Time
	Control, Files              bool
	BytesToViewer, BytesToAgent int64
}
