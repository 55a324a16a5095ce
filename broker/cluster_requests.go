package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// What one node asks of another beside forwarding viewers (peer.go): a
// console on any node ends a code or session held by another node, and
// the home node of a forwarded session tells the forwarding node the
// customer's rights, which its console shows.

// errPeerUnreachable: the peer could not be dialled or did not answer.
var errPeerUnreachable = errors.New("peer unreachable")

// rightsRetries bounds the attempts to tell a forwarding node of a
// change of rights; the first change comes as the session starts, and
// may reach the forwarding node a moment before it lists the session.
const (
	rightsRetries    = 5
	rightsRetryPause = 100 * time.Millisecond
)

// askPeer sends h to the node at peerAddr and reads its one-line answer:
// nil for OK, errPeerUnreachable (wrapped) if it cannot be asked, else
// its reason.
func (b *Broker) askPeer(peerAddr string, h *peerHello) error {
	h.From = b.cluster.dir.Node()
	wait := time.Duration(b.cfg.HandshakeTimeout)
	ctx, cancel := context.WithTimeout(b.cluster.life, wait)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: wait}, Config: b.cluster.peerTLS(peerAddr)}
	nc, err := d.DialContext(ctx, "tcp", peerAddr)
	if err != nil {
		return errors.Join(errPeerUnreachable, err)
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	defer context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })()
	if err := writePeerHello(c, h); err != nil {
		return errors.Join(errPeerUnreachable, err)
	}
	line, err := readPeerLine(c)
	switch {
	case err != nil:
		return errors.Join(errPeerUnreachable, err)
	case line == "OK":
		return nil
	}
	if reason, ok := strings.CutPrefix(line, "NO "); ok {
		return errors.New(reason)
	}
	return errors.Join(errPeerUnreachable, errors.New("the node answered nonsense"))
}

// endAtHome asks the node that holds code (a code waiting there, or a
// session this node forwards there) to end it for by. ErrNoSession if no
// node holds it (or it ended meanwhile), ErrNodeUnreachable if its node
// cannot be asked.
func (b *Broker) endAtHome(code string, by Supporter, reason string) error {
	cn := b.cluster
	code = NormalizeCode(code)
	cn.mu.Lock()
	si, spliced := cn.spliced[code]
	cn.mu.Unlock()
	node := si.Node
	if !spliced {
		l, ok := cn.dir.Described(code)
		if !ok {
			return ErrNoSession
		}
		node = l.Node
	}
	if node == "" {
		return ErrNoSession
	}
	addr, ok := cn.dir.PeerOf(node)
	if !ok {
		return ErrNodeUnreachable
	}
	err := b.askPeer(addr, &peerHello{Op: peerEnd, Code: code, Supporter: by, Reason: reason})
	switch {
	case err == nil:
		b.audit.Info("session end asked of its node", "code", code, "supporter", by.Account, "node", node, "reason", reason)
		return nil
	case errors.Is(err, errPeerUnreachable):
		b.log.Warn("cluster: cannot ask a node to end a session", "code", code, "node", node, "peer", addr, "err", err)
		return ErrNodeUnreachable
	}
	return knownError(err)
}

// requestAtHome asks the home node of a session this node forwards to
// ask its customer for control for by. ErrNoSession if this node forwards
// no such session, ErrNodeUnreachable if its node cannot be asked, else
// the home node's answer (ErrNotRelaying, ErrNoLink by their text).
func (b *Broker) requestAtHome(code string, by Supporter) error {
	cn := b.cluster
	code = NormalizeCode(code)
	cn.mu.Lock()
	si, spliced := cn.spliced[code]
	cn.mu.Unlock()
	if !spliced || si.Node == "" {
		return ErrNoSession
	}
	addr, ok := cn.dir.PeerOf(si.Node)
	if !ok {
		return ErrNodeUnreachable
	}
	err := b.askPeer(addr, &peerHello{Op: peerRequest, Code: code, Supporter: by})
	if errors.Is(err, errPeerUnreachable) {
		b.log.Warn("cluster: cannot ask a node to request control", "code", code, "node", si.Node, "peer", addr, "err", err)
		return ErrNodeUnreachable
	}
	return knownError(err)
}

// knownError is err, a peer's answer, as the desk's error of the same
// text, so that the console tells it as it tells a local one.
func knownError(err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrNoSession, ErrNotRelaying, ErrNoLink} {
		if err.Error() == known.Error() {
			return known
		}
	}
	return err
}

// servePeerRequest does what another node's hello asks beside a forward
// (peer.go); nil is "OK".
func (b *Broker) servePeerRequest(h *peerHello) error {
	code := NormalizeCode(h.Code)
	if !ValidCode(code, b.cfg.CodeDigits) {
		return ErrNoSession
	}
	switch h.Op {
	case peerEnd:
		return b.endHere(code, h.Supporter, h.Reason, h.From)
	case peerRights:
		return b.forwardedRights(code, h.From, h.Control, h.Files)
	case peerRequest:
		return b.requestHere(code, h.Supporter, h.From)
	}
	return errors.New("unknown request")
}

// forwardedRights records the customer's rights in the console's entry of
// a session this node forwards to from, the session's home node.
func (b *Broker) forwardedRights(code, from string, control, files bool) error {
	cn := b.cluster
	cn.mu.Lock()
	si, ok := cn.spliced[code]
	if ok && si.Node == from {
		si.RightsKnown, si.Control, si.Files = true, control, files
		cn.spliced[code] = si
	}
	cn.mu.Unlock()
	if !ok || si.Node != from {
		return ErrNoSession
	}
	b.watchers.notify()
	return nil
}

// rightsPush is the latest rights of a forwarded session still to tell
// its forwarding node; one goroutine per session sends them, in order.
type rightsPush struct {
	node           string
	control, files bool
	seq            int
}

// rightsChanged tells the node that forwards code's viewer, if another
// node does, the customer's rights: its console lists them like a local
// session's. It does not wait.
func (b *Broker) rightsChanged(code string, control, files bool) {
	cn := b.cluster
	if cn == nil {
		return
	}
	d, ok := b.codes.deskOf(code)
	if !ok {
		return
	}
	_, node, forwarded := strings.Cut(d.front, "@") // "viewer@C": forwarded by C (ServePeer)
	if !forwarded {
		return
	}
	cn.mu.Lock()
	if cn.rights == nil {
		cn.rights = map[string]*rightsPush{}
	}
	p, running := cn.rights[code]
	if !running {
		p = &rightsPush{}
		cn.rights[code] = p
	}
	p.node, p.control, p.files = node, control, files
	p.seq++
	cn.mu.Unlock()
	if running {
		return // its goroutine sends the latest
	}
	b.wg.Go(func() { b.pushRights(code) })
}

// pushRights sends code's latest rights until none are left to send.
func (b *Broker) pushRights(code string) {
	cn := b.cluster
	for {
		cn.mu.Lock()
		p := *cn.rights[code]
		cn.mu.Unlock()
		b.sendRights(code, p)
		cn.mu.Lock()
		if cn.rights[code].seq == p.seq {
			delete(cn.rights, code)
			cn.mu.Unlock()
			return
		}
		cn.mu.Unlock()
	}
}

// sendRights tells p.node code's rights, with a few attempts.
func (b *Broker) sendRights(code string, p rightsPush) {
	for i := range rightsRetries {
		addr, ok := b.cluster.dir.PeerOf(p.node)
		if !ok {
			return
		}
		err := b.askPeer(addr, &peerHello{Op: peerRights, Code: code, Control: p.control, Files: p.files})
		if err == nil {
			return
		}
		b.log.Debug("cluster: rights not told", "code", code, "node", p.node, "attempt", i+1, "err", err)
		if sleepCtx(b.cluster.life, rightsRetryPause); b.cluster.life.Err() != nil {
			return
		}
	}
}
