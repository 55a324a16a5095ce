package broker

import (
	"fmt"
	"io"
	"runtime/metrics"
)

// runtimeGauges are the Go runtime's figures an operator sizing a broker
// for many idle sessions needs: goroutines, stacks, the live heap and
// the memory mapped from the OS. They are read with runtime/metrics,
// which does not stop the world.
var runtimeGauges = []struct{ name, metric, help string }{
	{"go_goroutines", "/sched/goroutines:goroutines", "Goroutines that exist now."},
	{"go_stack_bytes", "/memory/classes/heap/stacks:bytes", "Memory in goroutine stacks."},
	{"go_heap_live_bytes", "/gc/heap/live:bytes", "Heap memory live at the last collection."},
	{"go_heap_objects_bytes", "/memory/classes/heap/objects:bytes", "Heap memory in objects, live or not yet swept."},
	{"go_memory_total_bytes", "/memory/classes/total:bytes", "All memory the runtime mapped."},
	{"go_memory_released_bytes", "/memory/classes/heap/released:bytes", "Heap memory returned to the OS."},
}

func writeRuntimeProm(w io.Writer) {
	s := make([]metrics.Sample, len(runtimeGauges))
	for i, g := range runtimeGauges {
		s[i].Name = g.metric
	}
	metrics.Read(s)
	for i, g := range runtimeGauges {
		if s[i].Value.Kind() != metrics.KindUint64 {
			continue
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", g.name, g.help, g.name, g.name, s[i].Value.Uint64())
	}
}
