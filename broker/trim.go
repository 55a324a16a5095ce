package broker

import (
	"context"
	"runtime/debug"
	"time"
)

// trimQuiet is how long the broker must have gone without accepting a
// connection, after a burst of them, before it trims its memory.
const trimQuiet = 10 * time.Second

// trimAfterBursts gives memory back to the OS once a burst of
// connections (pairings, agents registering, a flood) is over. Handshakes leave garbage, pooled buffers and goroutine stacks
// behind; the runtime would return them only after its next collections,
// which an idle broker holding thousands of quiet sessions seldom runs,
// so its resident memory stayed at the burst's peak. One forced
// collection after the burst brings it down to what the sessions hold.
// Under steady load it never runs.
func (b *Broker) trimAfterBursts(ctx context.Context) {
	t := time.NewTicker(trimQuiet)
	defer t.Stop()
	last, dirty := b.accepted.Load(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := b.accepted.Load()
		switch {
		case n != last:
			last, dirty = n, true
		case dirty:
			dirty = false
			debug.FreeOSMemory()
		}
	}
}
