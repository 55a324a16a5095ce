package desk

import (
	"time"

	"lifebuoy/broker"
)

// Broker is what the desk needs of the broker: package broker's *Broker.
// It is an interface so that the handlers' tests can stand in for the
// broker's session table; the interop tests run the real one.
type Broker interface {
	IssueCode(by Supporter) (code string, expires time.Time, err error)
	Sessions() []SessionInfo
	EndSession(code string, by Supporter, reason string) error
	RequestControl(code string, by Supporter) error
	Subscribe() (changed <-chan struct{}, cancel func())
}

// Supporter names whoever issues or redeems a code.
type Supporter = broker.Supporter

// SessionInfo is a waiting code or a running session.
type SessionInfo = broker.SessionInfo

var (
	_ Broker             = (*broker.Broker)(nil)
	_ broker.Desk        = (*Server)(nil)
	_ broker.DeskMetrics = (*Server)(nil)
)
