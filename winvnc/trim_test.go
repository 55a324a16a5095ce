package winvnc

import (
	"sync"
	"testing"
)

// TestTrimNowEmptiesPools: after trimNow a sync.Pool holds nothing of
// what was put in it before, so a burst's pooled buffers are returned.
func TestTrimNowEmptiesPools(t *testing.T) {
	var p sync.Pool
	for range 8 {
		p.Put(new([1 << 16]byte))
	}
	trimNow()
	if x := p.Get(); x != nil {
		t.Fatal("a pooled buffer survived trimNow")
	}
}
