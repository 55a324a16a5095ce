//go:build !linux

package broker

import (
	"net"
	"sync/atomic"
)

// parker, away from Linux, waits for a parked connection in a goroutine
// of its own (blocked in RawConn.Read, which does not consume bytes):
// idle sessions cost a small stack each, as they would without parking.
type parker struct{}

func newParker() (*parker, error) { return &parker{}, nil }

// parkHangup cannot be had here (a goroutine waiting for readability
// wakes for bytes too): ok is false and the caller goes without.
func (p *parker) parkHangup(net.Conn, func()) (unpark func() bool, ok bool) { return nil, false }

func (p *parker) park(c net.Conn, fn func()) (unpark func() bool, ok bool) {
	rc, ok := rawConn(c)
	if p == nil || !ok {
		return nil, false
	}
	var state atomic.Int32 // 0 waiting, 1 fired, 2 withdrawn
	go func() {
		first := true
		rc.Read(func(uintptr) bool {
			if first {
				first = false
				return false // wait until readable
			}
			return true
		})
		if state.CompareAndSwap(0, 1) {
			fn()
		}
	}()
	return func() bool { return state.CompareAndSwap(0, 2) }, true
}

func (p *parker) close() {}
