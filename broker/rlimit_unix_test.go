//go:build unix

package broker_test

import (
	"syscall"
	"testing"
)

// raiseFileLimit raises RLIMIT_NOFILE to at least n for the test, or
// skips it when that is not allowed.
func raiseFileLimit(t *testing.T, n uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < n {
		old := rl
		rl.Cur = min(rl.Max, n)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Skipf("RLIMIT_NOFILE %d and cannot raise it: %v", old.Cur, err)
		}
		t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	}
}
