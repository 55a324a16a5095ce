package agentlink

import (
	"net"
	"sync"
	"time"
)

// Sender owns the writing side of a control connection, on both ends:
// one goroutine writes the queued messages, and a Ping whenever the
// connection has been quiet for half the keep-alive interval. Readers
// only queue (a Pong, say) and never block on a write, so two peers
// that ping each other at once cannot deadlock.
type Sender struct {
	conn    net.Conn
	out     chan outMsg
	done    chan struct{}
	once    sync.Once
	keep    time.Duration
	timeout time.Duration
}

type outMsg struct {
	m          Message
	closeAfter bool
}

// sendQueue bounds the messages waiting to be written.
const sendQueue = 16

// NewSender starts the writer for conn. Every write must finish within
// timeout; a write error closes conn.
func NewSender(conn net.Conn, keepAlive, timeout time.Duration) *Sender {
	s := &Sender{conn: conn, out: make(chan outMsg, sendQueue), done: make(chan struct{}),
		keep: keepAlive, timeout: timeout}
	go s.run()
	return s
}

func (s *Sender) run() {
	t := time.NewTicker(s.keep / 2)
	defer t.Stop()
	last := time.Now()
	write := func(m Message) bool {
		s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
		last = time.Now()
		if err := WriteMessage(s.conn, m); err != nil {
			s.Close()
			return false
		}
		return true
	}
	for {
		select {
		case <-s.done:
			return
		case o := <-s.out:
			if !write(o.m) {
				return
			}
			if o.closeAfter {
				s.Close()
				return
			}
		case <-t.C:
			if time.Since(last) >= s.keep/2 && !write(&Ping{}) {
				return
			}
		}
	}
}

// Send queues m; it blocks only while the queue is full.
func (s *Sender) Send(m Message) error {
	select {
	case s.out <- outMsg{m: m}:
		return nil
	case <-s.done:
		return ErrClosed
	}
}

// TrySend queues m unless the queue is full.
func (s *Sender) TrySend(m Message) {
	select {
	case s.out <- outMsg{m: m}:
	default:
	}
}

// SendAndClose queues m and closes the connection once m is written.
func (s *Sender) SendAndClose(m Message) {
	select {
	case s.out <- outMsg{m: m, closeAfter: true}:
	case <-s.done:
	}
}

// Close stops the writer and closes the connection.
func (s *Sender) Close() {
	s.once.Do(func() {
		close(s.done)
		s.conn.Close()
	})
}

// Done is closed when the Sender has stopped.
func (s *Sender) Done() <-chan struct{} { return s.done }
