//go:build unix

package broker

import "syscall"

// readNow reads what the socket fd holds without waiting: errWouldBlock
// when it holds nothing yet.
func readNow(fd uintptr, p []byte) (int, error) {
	n, err := syscall.Read(int(fd), p)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return 0, errWouldBlock
	}
	return n, err
}
