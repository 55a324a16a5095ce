//go:build unix

package broker

import (
	"errors"
	"net"
	"syscall"
)

// peekSocket looks, without waiting and without consuming anything,
// whether the socket under c has something to read: bytes (pending),
// its peer's end of the stream or an error (closed), or nothing yet
// (neither). ok is false where it cannot look (not a socket).
func peekSocket(c net.Conn) (pending, closed, ok bool) {
	rc, ok := rawConn(c)
	if !ok {
		return false, false, false
	}
	var n int
	var err error
	var b [1]byte
	if rerr := rc.Read(func(fd uintptr) bool {
		n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}); rerr != nil {
		return false, true, true
	}
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR):
		return false, false, true
	case err != nil || n == 0:
		return false, true, true
	}
	return true, false, true
}
