package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcAllowance is how much garbage the Go collector may let build up
// between collections once the heap is large.
const gcAllowance = 64 << 20

// tuneGC sets the collector's pace from the live heap. With the default
// GOGC=100 the heap may grow to twice what is live before a collection;
// most of what is live in raqib is the dedup index (about 300 MiB at a
// million documents), long-lived and free of pointers, so the default
// would let as much garbage build up as the index is large. Instead the
// garbage allowed is about gcAllowance: GOGC = 100 × allowance / live,
// between 25 and 200 (a small heap, a fresh store's, would otherwise be
// collected every few megabytes of an ingest's garbage). The collector
// scans only the index's few spans, so the more frequent collections of a
// large heap cost little. A GOGC set in the environment is left alone. It
// is called after the index loads and at every hourly maintenance, as the
// index grows and shrinks.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	runtime.GC() // the live heap is measured by a collection
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := s[0].Value.Uint64()
	pct := 100
	if live > 0 {
		pct = int(min(200, max(25, 100*gcAllowance/live)))
	}
	if old := debug.SetGCPercent(pct); old != pct {
		log.Debug("garbage collector paced", "live_heap_mib", live>>20, "gogc", pct)
	}
}
