package feeds

import (
	"context"
	"sync"
	"time"

	"github.com/raqib/raqib/storage"
)

// An idle cycle is mostly 304s, and each 304 moved a feed's timestamps and
// then waited for a commit of its own (fsync included) before its worker
// took the next feed. Such a state, where nothing but times and counts
// changed, is written behind, with others, within statesDelay: a crash
// loses at most that much of last_poll, which is harmless; validators,
// failures, moved URLs and items are never written behind.

// statesDelay bounds how long a state waits to be written; statesAtOnce
// writes them as soon as that many wait.
const (
	statesDelay  = time.Second
	statesAtOnce = 2000
)

type stateBuffer struct {
	mu      sync.Mutex
	pending map[string]*storage.FeedState
	// leases are the fleet's leases of the feeds pending, given back once
	// their states are written: another daemon polls a feed only after
	// its state is there to read.
	leases map[string]func()
	timer  *time.Timer
	// order makes a state written now (a failure, new items) land after
	// an older one of the same feed being written behind, never before.
	order sync.RWMutex
}

// writeNow runs a write of a feed's state (with its items, maybe) that may
// not wait: the feed's state written behind, if any, is dropped first, as
// this one is newer.
func (p *Poller) writeNow(name string, write func() error) error {
	b := &p.states
	b.order.RLock()
	defer b.order.RUnlock()
	b.mu.Lock()
	delete(b.pending, name)
	delete(b.leases, name) // the poll writing now holds the lease, and gives it back
	b.mu.Unlock()
	return write()
}

// deferState queues a state to be written behind, and, in a fleet, the
// release of the feed's lease, to follow the write.
func (p *Poller) deferState(ctx context.Context, st *storage.FeedState, release func()) {
	b := &p.states
	b.mu.Lock()
	if b.pending == nil {
		b.pending = map[string]*storage.FeedState{}
		b.leases = map[string]func(){}
	}
	c := *st
	b.pending[st.Name] = &c
	if release != nil {
		b.leases[st.Name] = release
	}
	full := len(b.pending) >= statesAtOnce
	if b.timer == nil && !full {
		b.timer = time.AfterFunc(statesDelay, func() { p.FlushStates(context.Background()) })
	}
	b.mu.Unlock()
	if full {
		p.FlushStates(ctx)
	}
}

// pendingState is a state waiting to be written, if any.
func (p *Poller) pendingState(name string) *storage.FeedState {
	b := &p.states
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.pending[name]; ok {
		c := *st
		return &c
	}
	return nil
}

// FlushStates writes the states waiting to be written, in one transaction.
// A one-shot run and the scheduler call it before they return.
func (p *Poller) FlushStates(ctx context.Context) error {
	b := &p.states
	b.order.Lock()
	defer b.order.Unlock()
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	batch := make([]*storage.FeedState, 0, len(b.pending))
	for _, st := range b.pending {
		batch = append(batch, st)
	}
	leases := b.leases
	b.pending, b.leases = nil, nil
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	// A stop still writes them: the transaction is short.
	err := p.Store.PutFeeds(context.WithoutCancel(ctx), batch)
	for _, release := range leases {
		release()
	}
	if err != nil {
		p.log().Warn("saving polled feeds' times failed; they are saved on their next poll", "feeds", len(batch), "error", err)
	}
	return err
}
