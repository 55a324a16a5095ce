package agentlink

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Sender owns the writing side of a control connection, on both ends,
// and its liveness. Writes are made by the caller, one at a time, each
// within the write timeout. A timer, not a goroutine, keeps the link
// alive: whenever the connection has been quiet for half the keep-alive
// interval it sends a Ping, and when nothing has been heard (see Heard)
// for the timeout it closes the connection. An idle link therefore holds
// no goroutine of its own, which matters on a broker with many of them.
type Sender struct {
	conn    net.Conn
	keep    time.Duration
	timeout time.Duration

	mu        sync.Mutex // one write at a time
	lastWrite atomic.Int64
	lastHeard atomic.Int64
	tmu       sync.Mutex
	timer     *time.Timer
	onClose   func()
	ponging   atomic.Bool // a TrySend in flight

	done chan struct{}
	once sync.Once
}

// lastWords bounds the write of a message sent just before closing.
const lastWords = 2 * time.Second

// NewSender starts the keep-alive timer for conn. Every write must
// finish within timeout; a write error closes conn.
func NewSender(conn net.Conn, keepAlive, timeout time.Duration) *Sender {
	s := &Sender{conn: conn, done: make(chan struct{}), keep: keepAlive, timeout: timeout}
	now := time.Now().UnixNano()
	s.lastWrite.Store(now)
	s.lastHeard.Store(now)
	s.tmu.Lock() // tick may run before the assignment is done
	s.timer = time.AfterFunc(keepAlive/2, s.tick)
	s.tmu.Unlock()
	return s
}

func (s *Sender) tick() {
	select {
	case <-s.done:
		return
	default:
	}
	now := time.Now()
	if now.Sub(time.Unix(0, s.lastHeard.Load())) >= s.timeout {
		s.Close() // the peer is gone
		return
	}
	if now.Sub(time.Unix(0, s.lastWrite.Load())) >= s.keep/2 {
		if s.write(&Ping{}, s.timeout) != nil {
			return
		}
	}
	s.tmu.Lock()
	s.timer.Reset(s.keep / 2)
	s.tmu.Unlock()
}

// Heard notes that a message arrived: the peer is alive.
func (s *Sender) Heard() { s.lastHeard.Store(time.Now().UnixNano()) }

func (s *Sender) write(m Message, within time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	now := time.Now()
	s.conn.SetWriteDeadline(now.Add(within))
	if err := WriteMessage(s.conn, m); err != nil {
		s.Close()
		return ErrClosed
	}
	s.lastWrite.Store(now.UnixNano())
	return nil
}

// Send writes m; it blocks at most the write timeout.
func (s *Sender) Send(m Message) error { return s.write(m, s.timeout) }

// TrySend writes m in the background and ignores a failure, which closes
// the connection and is seen by the reader. Readers answer with it (a
// Pong), so that two peers whose Pings cross never both block writing
// while neither reads. While one TrySend is still writing, another is
// dropped: a peer that floods Pings and reads nothing gets one Pong.
func (s *Sender) TrySend(m Message) {
	if !s.ponging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.ponging.Store(false)
		s.write(m, s.timeout)
	}()
}

// SetOnClose has f run (once) when the Sender closes the connection, for
// whatever reason: a write error, a silent peer, Close. f must not block.
func (s *Sender) SetOnClose(f func()) {
	s.tmu.Lock()
	s.onClose = f
	s.tmu.Unlock()
}

// SendAndClose writes m, giving it a short while, and closes the
// connection.
func (s *Sender) SendAndClose(m Message) {
	s.write(m, min(s.timeout, lastWords))
	s.Close()
}

// Close stops the timer and closes the connection.
func (s *Sender) Close() {
	s.once.Do(func() {
		close(s.done)
		s.tmu.Lock()
		t, f := s.timer, s.onClose
		s.tmu.Unlock()
		t.Stop()
		s.conn.Close()
		if f != nil {
			f()
		}
	})
}

// Done is closed when the Sender has stopped.
func (s *Sender) Done() <-chan struct{} { return s.done }
