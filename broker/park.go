package broker

import (
	"net"
	"syscall"
)

// rawConn finds the socket under c (a TLS connection's included).
func rawConn(c net.Conn) (syscall.RawConn, bool) {
	for {
		switch v := c.(type) {
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
			continue
		case syscall.Conn:
			rc, err := v.SyscallConn()
			return rc, err == nil
		}
		return nil, false
	}
}
