package winvnc

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
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

// TestLimitMemory: limitMemory sets a memory limit above the heap's goal,
// sets it again after collections, and lifts it once its context ends.
func TestLimitMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "") // when set, limitMemory leaves the limit alone
	defer debug.SetMemoryLimit(math.MaxInt64)
	ctx, cancel := context.WithCancel(context.Background())
	limitMemory(ctx)
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer runs after the collection
		metrics.Read(goal)
		limit := debug.SetMemoryLimit(-1)
		if limit == math.MaxInt64 || limit < int64(goal[0].Value.Uint64()) {
			t.Fatalf("memory limit %d with a heap goal of %d", limit, goal[0].Value.Uint64())
		}
	}
	cancel()
	for i := 0; debug.SetMemoryLimit(-1) != math.MaxInt64; i++ {
		if i == 50 {
			t.Fatal("the memory limit stayed after the context ended")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
