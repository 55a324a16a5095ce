package agentlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxPendingFiles bounds the files connections asked for and not yet
// taken by the agent; more are ignored (the broker gives up waiting).
const maxPendingFiles = 4

// FilesRequest is the broker's OpenFiles: the supporter's desk wants a
// files connection for the running session. Open dials it; the frames
// on it are in filewire.go.
type FilesRequest struct {
	link      *Link
	SessionID string
	id, token string
	// Supporter is who asks, as the broker's desk knows them.
	Supporter Supporter
}

// FilesRequests delivers the broker's requests for files connections
// (only to an agent dialled with Config.Files).
func (l *Link) FilesRequests() <-chan *FilesRequest { return l.files }

// openFiles hands an OpenFiles to FilesRequests, never blocking the
// link's reader.
func (l *Link) openFiles(m *OpenFiles) {
	select {
	case l.files <- &FilesRequest{link: l, SessionID: m.SessionID, id: m.FilesID, token: m.Token, Supporter: m.Supporter}:
	default:
		l.log.Info("agentlink: files connection ignored: too many pending", "session", m.SessionID)
	}
}

// Open dials the files connection. The broker hands it to the desk;
// closing it ends the transfer.
func (fr *FilesRequest) Open(ctx context.Context) (net.Conn, error) {
	return fr.link.dialData(ctx, fr.id, fr.token)
}

// dialData dials a data connection (a session's or a files connection)
// and says DataHello{id, token}.
//
// It resumes the control link's TLS session, and so needs no certificate
// and no post-quantum key exchange of its own: its keys come from the
// link's X25519MLKEM768 handshake (through the resumption secret) and a
// fresh X25519 exchange for forward secrecy. Should the broker not
// resume, it dials again with a full handshake.
func (l *Link) dialData(ctx context.Context, id, token string) (net.Conn, error) {
	cfg, path := &l.cfg, []Path{l.path}
	c, _, err := dialAny(ctx, cfg, path, true)
	if errors.Is(err, errNotResumed) {
		c, _, err = dialAny(ctx, cfg, path, false)
	}
	if err != nil && !errors.Is(err, ErrFingerprint) && !errors.Is(err, ErrUntrusted) && ctx.Err() == nil {
		// The link's way out failed for the data connection: look again.
		var paths []Path
		if paths, err = cfg.paths(); err == nil {
			c, _, err = dialAny(ctx, cfg, paths, false)
		}
	}
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(l.cfg.Timeout))
	if err := WriteMessage(c, &DataHello{SessionID: id, Token: token}); err != nil {
		c.Close()
		return nil, fmt.Errorf("agentlink: data hello: %w", err)
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}
