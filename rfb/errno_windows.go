//go:build windows

package rfb

import "syscall"

// WSAEMFILE: too many open sockets.
const errTooManyFiles = syscall.Errno(10024)
