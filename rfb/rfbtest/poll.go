package rfbtest

import "time"

// Eventually checks cond every 100 ms until it holds (true) or d has
// passed (false).
func Eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
