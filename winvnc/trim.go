package winvnc

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
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

// limitSlack is how far the memory limit sits above what the heap may
// reach, beyond the headroom the runtime keeps below a limit (3% of the
// goal, at least 1 MiB), so 2 MiB in all for the agent's heap. Measured
// on the photo workload (one agent, two runs each, docs/BENCHMARKS.md),
// as a whole slack above the goal: none took 2.6 times the CPU (the
// limit, not GOGC, paced the collector), 1 MiB 1.25 times, 2 MiB the CPU
// of no limit at all.
const limitSlack = 1 << 20

// limitMemory keeps the runtime's memory limit just above what GOGC lets
// the heap reach in the current cycle (the heap's goal, plus the runtime's
// own memory), set again after every collection, until ctx is done. The
// collector's pacing stays GOGC's, but the memory a burst frees (a photo
// saves and frees megabytes of client-picture blocks, encodes and frees
// megabytes of JPEG) no longer stays resident until the background
// scavenger, which is slow, returns it: over the limit, the runtime
// returns free pages at once. Without it the photo workload's busy RSS was
// 1.46 times x0vncserver's (issue 17). GOMEMLIMIT, when set, wins.
func limitMemory(ctx context.Context) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	s := []metrics.Sample{
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	limiters.Add(1)
	var set func()
	set = func() {
		if ctx.Err() != nil {
			if limiters.Add(-1) == 0 {
				debug.SetMemoryLimit(math.MaxInt64)
			}
			return
		}
		metrics.Read(s)
		for _, x := range s {
			if x.Value.Kind() != metrics.KindUint64 {
				return
			}
		}
		v := func(i int) int64 { return int64(s[i].Value.Uint64()) }
		// The runtime's own memory: spans' unused room, stacks,
		// metadata. Free and released pages are what the limit governs.
		own := v(1) - v(2) - v(3) - v(4)
		headroom := max(v(0)/100*3, 1<<20)
		debug.SetMemoryLimit(v(0) + own + headroom + limitSlack)
		runtime.SetFinalizer(new(gcTick), func(*gcTick) { set() })
	}
	set()
}

// limiters counts the running limitMemory loops (agents in one process,
// as in tests): the last one to end lifts the limit.
var limiters atomic.Int32

// gcTick is garbage whose finalizer runs after the next collection.
type gcTick struct{ _ [64]byte }

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
