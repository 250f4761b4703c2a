// Package parallel spreads independent pieces of work over the cores.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each runs fn(0) to fn(n-1), spread over the cores; it returns when all
// have run. fn must be safe to call from several goroutines at once.
func Each(n int, fn func(int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
