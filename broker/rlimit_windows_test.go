package broker_test

import "testing"

// raiseFileLimit: Windows has no descriptor limit to raise.
func raiseFileLimit(t *testing.T, n uint64) {}
