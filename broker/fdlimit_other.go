//go:build !unix

package broker

// fdLimit is unknown off Unix: no limit is derived from it.
func fdLimit() int { return 0 }
