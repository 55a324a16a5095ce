//go:build !unix

package broker

// readNow on a system without non-blocking reads of the socket (Windows'
// sockets are read through overlapped I/O): nothing more is gathered, so
// the relay writes each read on its own, as it did before gathering.
func readNow(fd uintptr, p []byte) (int, error) { return 0, errWouldBlock }
