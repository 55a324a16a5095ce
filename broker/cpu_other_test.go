//go:build !unix

package broker

import "time"

// processCPU is not measured here: the relay benchmarks' CPU figures are
// taken on Linux.
func processCPU() time.Duration { return 0 }
