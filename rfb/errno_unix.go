//go:build !windows

package rfb

import "syscall"

const errTooManyFiles = syscall.EMFILE
