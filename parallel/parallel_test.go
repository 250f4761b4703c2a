package parallel

import (
	"sync/atomic"
	"testing"
)

// Every index runs once, whatever the count and however many cores.
func TestEachRunsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 64, 1000} {
		runs := make([]atomic.Int32, n)
		Each(n, func(i int) { runs[i].Add(1) })
		for i := range runs {
			if r := runs[i].Load(); r != 1 {
				t.Errorf("n=%d: index %d ran %d times", n, i, r)
			}
		}
	}
}
