//go:build unix

package pipeline_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system. The
// benchmarks report it beside wall time: waiting for the disk to sync
// costs wall time but no CPU, and other work on a shared machine slows
// the wall clock more than it changes the CPU a run needs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
