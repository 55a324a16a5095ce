package broker

import (
	"context"
	"errors"
	"net"
	"time"

	"lifebuoy/broker/agentlink"
)

// Files connections: the supporter's desk moves files to and from the
// customer on a connection of its own beside the session's RFB stream
// (agentlink/filewire.go has what it carries). The broker asks the agent
// for one among the session's control messages (OpenFiles, on its data
// connection), the agent dials it as it dials a data connection, and the
// broker hands the agent's connection to the desk in this process: TCP's
// flow control, agent to desk, is the back-pressure, and nothing is
// buffered here. The customer's rights are the agent's to enforce; the
// desk audits every file.

// ErrNoFiles: the session's agent does not serve files connections.
var ErrNoFiles = errors.New("the customer's agent cannot transfer files (an older version)")

// errFilesTimeout: the agent did not dial the files connection in time.
var errFilesTimeout = errors.New("the customer's agent did not open a files connection")

// filesTimeout bounds the wait for the agent's files connection.
const filesTimeout = 15 * time.Second

// OpenFiles opens a files connection to the agent of the running session
// of code, on by's behalf. The caller speaks the files protocol on it and
// closes it; the agent closes it when the session ends.
func (b *Broker) OpenFiles(ctx context.Context, code string, by Supporter) (net.Conn, error) {
	st, mux, sessionID, files := b.codes.filesTarget(code)
	switch {
	case st == StateEnded:
		return nil, ErrNoSession
	case st != StateRelaying || mux == nil:
		return nil, ErrNotRelaying
	case !files:
		return nil, ErrNoFiles
	}
	id, token := randomHex(16), randomHex(32)
	p, ok := b.codes.expectConn(NormalizeCode(code), id, token)
	if !ok {
		return nil, ErrNoSession
	}
	defer b.codes.forgetConn(id, p) // closes a connection that raced with the end of the wait
	// Asked on the session's data connection, beside its RFB stream.
	if err := mux.WriteControl(&agentlink.OpenFiles{SessionID: sessionID, FilesID: id, Token: token, Supporter: by}); err != nil {
		return nil, ErrNoLink
	}
	t := time.NewTimer(filesTimeout)
	defer t.Stop()
	select {
	case c := <-p.conn:
		return c, nil
	case <-t.C:
		return nil, errFilesTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// filesTarget finds the data connection of a running session and whether
// its agent serves files connections.
func (c *Codes) filesTarget(code string) (State, *agentlink.Mux, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookupLocked(NormalizeCode(code))
	if e == nil {
		return StateEnded, nil, "", false
	}
	return e.state, e.desk.mux, e.desk.sessionID, e.desk.agentFiles
}
