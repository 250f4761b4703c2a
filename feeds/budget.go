package feeds

import (
	"context"
	"sync"
)

// A parse takes several times its body in memory (gofeed copies a long
// text node a few times over), so parses at once are bounded by the bytes
// they parse, not by their number: many small feeds go together, a few
// large ones take turns, and a poll of hostile feeds cannot add up.

// DefaultParseBudget is how many body bytes are parsed at once.
const DefaultParseBudget = 64 << 20

// budget is a weighted semaphore; a single request larger than the whole
// budget waits until it is alone, then goes.
type budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	changed chan struct{}
}

func newBudget(size int64) *budget {
	return &budget{size: size, changed: make(chan struct{})}
}

// acquire takes n bytes of the budget, waiting for them until ctx ends.
func (b *budget) acquire(ctx context.Context, n int64) error {
	n = min(n, b.size)
	for {
		b.mu.Lock()
		if b.used+n <= b.size {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (b *budget) release(n int64) {
	n = min(n, b.size)
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
