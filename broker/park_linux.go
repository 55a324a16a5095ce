package broker

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// parker lets an idle connection wait for its next byte without a
// goroutine. A goroutine blocked in Read costs its stack, 4 to 8 KiB,
// and an idle session has two of them and a control link; with tens of
// thousands of idle sessions that is most of the broker's memory. A
// parked connection instead sits in one epoll set, watched by a single
// goroutine, and costs only its registration.
//
// The broker's epoll set is its own, beside the Go runtime's netpoller;
// the runtime keeps its registration of the same descriptor and is not
// disturbed. Registrations are one-shot and removed before the callback
// runs, always through syscall.RawConn.Control, which holds the
// descriptor open, so a descriptor number that is closed and reused can
// never be touched by mistake.
type parker struct {
	epfd, wake int // the epoll set and an eventfd that ends wait

	mu     sync.Mutex
	next   uint32
	parked map[uint32]*parkedConn
	closed bool
	done   chan struct{}
}

type parkedConn struct {
	rc syscall.RawConn
	fn func()
}

// newParker starts the parker's goroutine.
func newParker() (*parker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	// Key 0 (the event's data) is the wake-up; connections' keys are
	// never 0.
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p := &parker{epfd: epfd, wake: wake, parked: map[uint32]*parkedConn{}, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// park calls fn in a new goroutine once c has bytes to read, has been
// closed by its peer, or fails. The returned unpark withdraws the wait
// and reports whether it did so before fn was started; the owner calls it
// before closing c. ok is false for a connection that cannot be parked
// (not a socket, closed, or a nil or closed parker): its owner keeps
// reading in its own goroutine.
func (p *parker) park(c net.Conn, fn func()) (unpark func() bool, ok bool) {
	return p.register(c, unix.EPOLLIN|unix.EPOLLRDHUP, fn)
}

// parkHangup calls fn in a new goroutine once c's peer has closed its
// side or the socket fails, which epoll reports even while bytes the peer
// sent before are unread; bytes alone do not wake it. unpark and ok are
// as for park.
func (p *parker) parkHangup(c net.Conn, fn func()) (unpark func() bool, ok bool) {
	return p.register(c, unix.EPOLLRDHUP, fn)
}

func (p *parker) register(c net.Conn, events uint32, fn func()) (unpark func() bool, ok bool) {
	if p == nil {
		return nil, false
	}
	rc, ok := rawConn(c)
	if !ok {
		return nil, false
	}
	// The registration is made under p.mu, so close cannot hand the
	// entry back between its insertion and the epoll_ctl: fn runs once,
	// or ok is false and it never runs.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	key := p.next
	for key == 0 || p.parked[key] != nil {
		key++
	}
	p.next = key + 1
	var err error
	cerr := rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: events | unix.EPOLLONESHOT, Fd: int32(key)}
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		// A closed connection: let its owner read and see the error.
		return nil, false
	}
	p.parked[key] = &parkedConn{rc: rc, fn: fn}
	return func() bool {
		pc := p.take(key)
		if pc == nil {
			return false
		}
		pc.forget(p.epfd)
		return true
	}, true
}

// take removes key's entry; only one caller gets it.
func (p *parker) take(key uint32) *parkedConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.parked[key]
	delete(p.parked, key)
	return pc
}

// forget removes pc's descriptor from the epoll set, if it is still open.
func (pc *parkedConn) forget(epfd int) {
	pc.rc.Control(func(fd uintptr) {
		unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

func (p *parker) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			// Not expected; hand every parked connection back to its
			// owner, who reads as before. (close waits for this
			// goroutine's end.)
			go p.close()
			return
		}
		for _, ev := range events[:n] {
			key := uint32(ev.Fd)
			if key == 0 {
				return // close
			}
			if pc := p.take(key); pc != nil {
				pc.forget(p.epfd)
				go pc.fn()
			}
		}
	}
}

// close stops the parker. Connections still parked are handed back to
// their owners at once (their callbacks run), so nothing waits for an
// event that will not come.
func (p *parker) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	left := p.parked
	p.parked = map[uint32]*parkedConn{}
	p.mu.Unlock()
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(p.wake, one[:])
	<-p.done
	for _, pc := range left {
		pc.forget(p.epfd)
		go pc.fn()
	}
	unix.Close(p.epfd)
	unix.Close(p.wake)
}
