package broker

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// sockConn is the socket under a TLS connection (the agent port's, the
// HTTPS front's), with two modes the relay turns on around its own reads
// and writes so that the layers above cost fewer system calls:
//
//   - gather: a read that finds the socket empty fails at once with
//     errWouldBlock (a timeout, which TLS, WebSocket and Mux reads resume
//     after) instead of waiting. After a blocking read has brought one
//     TLS record, the relay reads on in this mode until its buffer is full
//     or nothing more has arrived, and then writes it all at once; without
//     it, each record (16 KiB) went on alone, a write system call each.
//   - cork: writes are collected in a pooled buffer and go to the socket
//     in one write when the relay's write is done (flush), not one per
//     TLS record and WebSocket frame.
//
// Neither holds memory between the relay's calls: the cork's buffer goes
// back to its pool at flush, and gather keeps nothing (what a read brings
// is in the TLS connection's own buffer, as before). A quiet session still
// parks: rawConn finds the socket through NetConn.
type sockConn struct {
	net.Conn // the socket

	// The reader's, set and cleared around a gather by the one goroutine
	// that reads (held only meanwhile: an idle session's sockConn stays
	// small).
	gather syscall.RawConn

	wmu   sync.Mutex
	cork  *[]byte // while corked: the writes so far
	werr  error   // a corked write's failure, returned by flush
	corks int     // nested corks
}

// corkBuf bounds what a cork collects before it writes: the relay's
// buffer with the TLS and WebSocket overhead of its records.
const corkBuf = relayBuf + 4<<10

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, corkBuf); return &b }}

// wrapSocket returns c as a sockConn when c is a TCP socket, else c.
func wrapSocket(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	return &sockConn{Conn: tc}
}

// startGather turns gathering reads on; false if the socket cannot.
func (s *sockConn) startGather() bool {
	rc, err := s.Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false
	}
	s.gather = rc
	return true
}

func (s *sockConn) stopGather() { s.gather = nil }

// NetConn is the socket, for rawConn and hardClose.
func (s *sockConn) NetConn() net.Conn { return s.Conn }

// CloseWrite passes a half-close on to the socket.
func (s *sockConn) CloseWrite() error { return s.Conn.(*net.TCPConn).CloseWrite() }

// errWouldBlock is a gathering read's "nothing has arrived": a timeout,
// so that every layer above keeps its place and the next read resumes.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "broker: nothing to read yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func (s *sockConn) Read(p []byte) (int, error) {
	if s.gather == nil || len(p) == 0 {
		return s.Conn.Read(p)
	}
	var n int
	var rerr error
	err := s.gather.Read(func(fd uintptr) bool {
		n, rerr = readNow(fd, p)
		return true // one attempt, never a wait
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == errWouldBlock:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: rerr}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *sockConn) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.cork == nil {
		return s.Conn.Write(p)
	}
	if s.werr != nil {
		return 0, s.werr
	}
	b := *s.cork
	if len(b)+len(p) > cap(b) {
		if err := s.flushLocked(); err != nil {
			return 0, err
		}
		b = *s.cork
		if len(p) > cap(b) {
			return s.Conn.Write(p)
		}
	}
	*s.cork = append(b, p...)
	return len(p), nil
}

// corkOn collects writes until the matching flush.
func (s *sockConn) corkOn() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.corks++
	if s.cork == nil {
		s.cork = corkBufs.Get().(*[]byte)
	}
}

// flush ends a cork: what it collected goes out in one write, and the
// buffer goes back to its pool. It returns a collected write's failure.
func (s *sockConn) flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.cork == nil {
		return nil
	}
	err := s.flushLocked()
	if s.corks--; s.corks > 0 {
		return err
	}
	if err == nil {
		err = s.werr
	}
	s.werr = nil
	*s.cork = (*s.cork)[:0]
	corkBufs.Put(s.cork)
	s.cork = nil
	return err
}

func (s *sockConn) flushLocked() error {
	b := *s.cork
	*s.cork = b[:0]
	if len(b) == 0 || s.werr != nil {
		return s.werr
	}
	if _, err := s.Conn.Write(b); err != nil {
		s.werr = err
	}
	return s.werr
}

// socketOf finds the sockConn under c (through TLS, WebSocket and Mux
// layers), or nil.
func socketOf(c net.Conn) *sockConn {
	for {
		switch v := c.(type) {
		case *sockConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
			continue
		}
		return nil
	}
}
