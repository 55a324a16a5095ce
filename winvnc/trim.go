package winvnc

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// trimTick is how often the agent looks whether it went quiet, and
// trimBusy how many bytes allocated in one tick count as busy.
const (
	trimTick = time.Second
	trimBusy = 1 << 20
)

// gcPercent is the agent's GOGC unless the environment sets one. The
// agent's live heap is mostly pixels (the framebuffer, each viewer's copy
// of what it has), which the collector never scans, so a collection costs
// little; at Go's default of 100 the heap grew to twice the live pixels
// while busy (a scroll: 49 MiB resident at 100, 40 at 50, 36 at 25, with
// 31 MiB idle; docs/BENCHMARKS.md).
const gcPercent = 25

// tuneGC sets gcPercent unless GOGC is set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// trimWhenIdle gives memory back to the OS once a burst of work (the
// first picture to a viewer, a scroll, a photo) is over. Encoding and
// capturing a burst leave freed scratch and garbage behind that the
// runtime would return only after later collections, which an idle
// agent seldom runs, so its resident memory stayed near the burst's
// peak. One forced collection after a tick that allocated little, when
// the tick before allocated much, brings it down to the framebuffers
// and what the sessions hold. Under steady load it never runs.
func trimWhenIdle(ctx context.Context) {
	t := time.NewTicker(trimTick)
	defer t.Stop()
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[0].Value.Uint64()
	}
	last, dirty := allocated(), true // starting up is a burst
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := allocated()
		switch {
		case n-last >= trimBusy:
			dirty = true
		case dirty:
			dirty = false
			trimNow()
		}
		last = n
	}
}

// trimNow frees what the sessions no longer hold and returns it to the OS.
// The buffers of a burst sit in sync.Pools (rfb's saved blocks, Tight's
// job buffers and trial compressors): one collection moves a pool's
// contents aside, and only the next frees them, so FreeOSMemory, which
// collects once, would keep them.
func trimNow() {
	runtime.GC()
	debug.FreeOSMemory()
}
