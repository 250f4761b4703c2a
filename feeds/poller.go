package feeds

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
)

// Ingester takes a fetch's items through dedup, matching and storage, and
// commits the feed's new state in the same transaction.
type Ingester interface {
	Ingest(ctx context.Context, feed *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error)
}

// Stager is an Ingester that can ingest in two steps: Stage does the work
// on the items alone, on one of the poller's workers, and returns the
// commit, which waits for its turn (the store's lock, its disk) without
// holding a worker.
type Stager interface {
	Stage(ctx context.Context, items []*storage.Item) (func(context.Context, *storage.FeedState) (*storage.CommitResult, error), error)
}

// FeedLeaser leases feeds to the daemons of a fleet (storage.Fleet).
type FeedLeaser interface {
	LeaseFeed(ctx context.Context, name string, ttl time.Duration) (bool, error)
	ReleaseFeed(ctx context.Context, name string) error
}

// leaseMargin is how long a feed's lease outlasts poll.timeout: the
// commit after the fetch. A daemon that dies mid-poll holds its feeds
// that much longer, then another daemon polls them.
const leaseMargin = 15 * time.Second

// Poller polls feeds: conditional GET, parse, ingest, and state with backoff.
type Poller struct {
	Store      storage.Store
	Fetcher    *Fetcher
	Ingester   Ingester
	Timeout    time.Duration
	MaxBackoff time.Duration
	Log        *slog.Logger
	Now        func() time.Time
	// OnResult, if set, is called after each poll (metrics, progress).
	OnResult func(Result)
	// ParseBudget bounds the body bytes parsed at once (0:
	// DefaultParseBudget).
	ParseBudget int64
	// Workers bounds the feeds whose bodies are read, parsed and ingested
	// at once (0: as many as are fetched at once). Waiting for a server's
	// answer holds no worker: a feed waiting for a slow server does not
	// hold up the feeds behind it.
	Workers int
	// Leases, when several daemons share the store, makes a feed polled
	// by one of them at a time; Daemon is this one's id in the fleet.
	Leases FeedLeaser
	Daemon string

	budgetOnce sync.Once
	parsing    *budget
	workers    chan struct{}
	waiting    chan struct{} // feeds staged and waiting to commit
	states     stateBuffer
}

func (p *Poller) parseBudget() *budget {
	p.budgetOnce.Do(func() {
		size := p.ParseBudget
		if size <= 0 {
			size = DefaultParseBudget
		}
		p.parsing = newBudget(size)
		if p.Workers > 0 {
			p.workers = make(chan struct{}, p.Workers)
			p.waiting = make(chan struct{}, p.Workers)
		}
	})
	return p.parsing
}

// worker waits for one of the Workers slots.
func (p *Poller) worker(ctx context.Context) (release func(), err error) {
	p.parseBudget()
	return take(ctx, p.workers)
}

// queue waits for a place among the feeds waiting to commit.
func (p *Poller) queue(ctx context.Context) (done func(), err error) {
	p.parseBudget()
	return take(ctx, p.waiting)
}

// take waits for a slot of sem (nil: unbounded) and returns its release.
func take(ctx context.Context, sem chan struct{}) (func(), error) {
	if sem == nil {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Result is the outcome of one feed's poll.
type Result struct {
	Feed        string
	Status      int
	NotModified bool
	Unchanged   bool // 200 with the same body as last time: not parsed
	Items       int  // items in the feed
	New         int  // items stored
	Duplicates  int  // of those, near or exact copies of a story already seen
	Skipped     string
	Err         error
	// StoreFailed marks an error of raqib's own store (disk full, read-only
	// file), not of the feed: a one-shot run then fails.
	StoreFailed bool
	// Interrupted marks a poll stopped by shutdown: it is not the feed's
	// failure, and nothing of it was saved (the next run polls it again).
	Interrupted bool
	Took        time.Duration
}

// interrupted reports a poll cut short by ctx (shutdown), which records
// nothing: a feed is not backed off for raqib's own stop.
func interrupted(ctx context.Context, res *Result) bool {
	if ctx.Err() == nil {
		return false
	}
	res.Err, res.Interrupted = fmt.Errorf("interrupted before it finished: %w", context.Cause(ctx)), true
	return true
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// State returns the stored state of a feed, reset when the configuration
// names another URL than the one the state was made for.
func (p *Poller) State(ctx context.Context, f config.Feed) (*storage.FeedState, error) {
	st, err := p.Store.Feed(ctx, f.Name)
	if errors.Is(err, storage.ErrNotFound) {
		st, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p.state(f, st), nil
}

// state is the state to poll f with, given its stored one (nil: none).
func (p *Poller) state(f config.Feed, stored *storage.FeedState) *storage.FeedState {
	st := stored
	if pending := p.pendingState(f.Name); pending != nil {
		st = pending
	}
	if st == nil {
		return &storage.FeedState{Name: f.Name, URL: f.URL, ConfiguredURL: f.URL}
	}
	if st.ConfiguredURL != f.URL {
		st.URL, st.ConfiguredURL = f.URL, f.URL
		st.ETag, st.LastModified, st.BodyHash = "", "", ""
		st.Disabled, st.Failures, st.RetryAfter = "", 0, time.Time{}
	}
	return st
}

// Poll fetches one feed and ingests what is new. With force, backoff after
// failures is ignored (a one-shot run asked for now), but a server's own
// Retry-After and a disabled feed are still respected.
func (p *Poller) Poll(ctx context.Context, f config.Feed, force bool) (res Result) {
	return p.poll(ctx, f, force, nil, time.Time{})
}

// PollScheduled is a scheduled poll. In a fleet, a feed that another
// daemon has polled since the given time is not polled again.
func (p *Poller) PollScheduled(ctx context.Context, f config.Feed, since time.Time) (res Result) {
	return p.poll(ctx, f, false, nil, since)
}

// renewLease renews the feed's lease at a third of its length until done.
func (p *Poller) renewLease(ctx context.Context, feed string, done <-chan struct{}) {
	ttl := p.Timeout + leaseMargin
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if ok, err := p.Leases.LeaseFeed(ctx, feed, ttl); err != nil || !ok {
				p.log().Warn("renewing a feed's lease failed", "feed", feed, "held", ok, "error", err)
			}
		}
	}
}

// poll is Poll with the feed's stored state read beforehand (nil: read it
// now), as PollAll reads every feed's in one transaction, and the tick of
// a scheduled poll (zero for none).
func (p *Poller) poll(ctx context.Context, f config.Feed, force bool, stored *storage.FeedState, tick time.Time) (res Result) {
	start := p.now()
	res.Feed = f.Name
	defer func() {
		res.Took = time.Since(start)
		if p.OnResult != nil {
			p.OnResult(res)
		}
	}()
	var releaseLease func()
	if p.Leases != nil {
		ok, err := p.Leases.LeaseFeed(ctx, f.Name, p.Timeout+leaseMargin)
		if err != nil {
			res.Err, res.StoreFailed = fmt.Errorf("lease: %w", err), true
			return res
		}
		if !ok {
			res.Skipped = "another daemon is polling it"
			return res
		}
		// A poll may outlast its lease (a worker's wait, a commit behind
		// the story lock): renew it while the poll runs, so that no other
		// daemon polls the feed meanwhile.
		renewing, renewed := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(renewed)
			p.renewLease(ctx, f.Name, renewing)
		}()
		// Renewal stops, and its last call returns, before the lease is
		// released: a late renewal must not take the lease back.
		stopRenewing := sync.OnceFunc(func() { close(renewing); <-renewed })
		defer stopRenewing()
		releaseLease = func() {
			stopRenewing()
			if err := p.Leases.ReleaseFeed(context.WithoutCancel(ctx), f.Name); err != nil {
				p.log().Warn("releasing a feed's lease failed; it runs out by itself", "feed", f.Name, "error", err)
			}
		}
		defer func() {
			if releaseLease != nil {
				releaseLease()
			}
		}()
		stored = nil // another daemon may have polled it since it was read
	}
	var st *storage.FeedState
	if stored != nil {
		st = p.state(f, stored)
	} else {
		var err error
		if st, err = p.State(ctx, f); err != nil {
			res.Err = fmt.Errorf("load state: %w", err)
			return res
		}
	}
	if st.Disabled != "" {
		res.Skipped = "disabled: " + st.Disabled
		return res
	}
	if p.Leases != nil && !tick.IsZero() && st.PolledBy != p.Daemon && !st.LastPoll.Before(tick) {
		res.Skipped = "polled by another daemon at " + st.LastPoll.Format(time.RFC3339)
		return res
	}
	if st.RetryAfter.After(start) && (!force || st.LastStatus == http.StatusTooManyRequests || st.LastStatus == http.StatusServiceUnavailable) {
		res.Skipped = "backing off until " + st.RetryAfter.Format(time.RFC3339)
		return res
	}

	// Only times and counts change when a healthy feed answers 304 with
	// the validators it had: that state may be written behind.
	quiet := st.Failures == 0 && st.LastError == "" && st.RetryAfter.IsZero() && !st.LastSuccess.IsZero()
	validators := [3]string{st.URL, st.ETag, st.LastModified}
	lastStatus := st.LastStatus
	// A worker is taken when a body arrives, not while the server thinks:
	// a slow server holds up no feed behind it, and the bodies in memory
	// are the workers' few.
	release := func() {}
	defer func() { release() }()
	admit := func(ctx context.Context) error {
		r, err := p.worker(ctx)
		if err != nil {
			return err
		}
		release = r
		return nil
	}
	var took time.Duration
	resp, err := p.Fetcher.Fetch(ctx, Request{URL: st.URL, Configured: f.URL, ETag: st.ETag, LastModified: st.LastModified, Timeout: p.Timeout, BeforeBody: admit, Took: &took})
	st.LastPoll, st.PolledBy = start, p.Daemon
	st.Polls++
	st.FetchMS = took.Milliseconds()
	if err != nil {
		if !interrupted(ctx, &res) {
			p.fail(ctx, st, err, &res)
		}
		return res
	}
	res.Status = resp.Status
	st.LastStatus = resp.Status
	if resp.PermanentURL != "" && resp.PermanentURL != st.URL {
		p.log().Info("feed moved permanently", "feed", f.Name, "from", config.RedactURL(st.URL), "to", config.RedactURL(resp.PermanentURL))
		st.URL = resp.PermanentURL
	}
	if resp.NotModified() {
		res.NotModified = true
		p.succeed(st, resp)
		if quiet && lastStatus == http.StatusNotModified && validators == [3]string{st.URL, st.ETag, st.LastModified} {
			// In a fleet the lease is kept until the state is written:
			// the daemon that polls the feed next must read it.
			p.deferState(ctx, st, releaseLease)
			releaseLease = nil
			return res
		}
		if err := p.writeNow(st.Name, func() error { return p.Store.PutFeed(ctx, st) }); err != nil {
			res.Err, res.StoreFailed = fmt.Errorf("save state: %w", err), true
		}
		return res
	}
	sum := sha256.Sum256(resp.Body)
	hash := hex.EncodeToString(sum[:16])
	if hash == st.BodyHash {
		// The server ignores conditional GET but sends what it sent before.
		res.Unchanged = true
		p.succeed(st, resp)
		if err := p.writeNow(st.Name, func() error { return p.Store.PutFeed(ctx, st) }); err != nil {
			res.Err, res.StoreFailed = fmt.Errorf("save state: %w", err), true
		}
		return res
	}
	if err := p.parseBudget().acquire(ctx, int64(len(resp.Body))); err != nil {
		interrupted(ctx, &res)
		return res
	}
	parsed, err := Parse(resp.Body, resp.ContentType, f.Language)
	var items []*storage.Item
	if err == nil {
		items = ToItems(f.Name, f.Language, parsed, p.now())
	}
	p.parseBudget().release(int64(len(resp.Body)))
	if err != nil {
		p.fail(ctx, st, err, &res)
		return res
	}
	res.Items = len(items)
	p.succeed(st, resp)
	st.BodyHash = hash
	// The state (validators, body hash) advances in the same transaction
	// as the items: a crash before it commits refetches the same body.
	ingest := func() (*storage.CommitResult, error) { return p.Ingester.Ingest(ctx, st, items) }
	if s, ok := p.Ingester.(Stager); ok {
		commit, err := s.Stage(ctx, items)
		if err != nil {
			return p.storeFailed(ctx, f, err, &res)
		}
		// The worker goes to the next feed; the feeds waiting to commit
		// are as many as the workers at most, so that what they hold in
		// memory stays bounded when the commits fall behind.
		done, err := p.queue(ctx)
		if err != nil {
			interrupted(ctx, &res)
			return res
		}
		defer done()
		release()
		release = func() {}
		ingest = func() (*storage.CommitResult, error) { return commit(ctx, st) }
	}
	var cr *storage.CommitResult
	err = p.writeNow(st.Name, func() (err error) {
		cr, err = ingest()
		return err
	})
	if err != nil {
		return p.storeFailed(ctx, f, err, &res)
	}
	res.New = len(cr.Stored)
	for _, it := range cr.Stored {
		if it.DuplicateOf != "" {
			res.Duplicates++
		}
	}
	return res
}

// storeFailed records that the feed's items could not be stored.
func (p *Poller) storeFailed(ctx context.Context, f config.Feed, err error, res *Result) Result {
	if interrupted(ctx, res) {
		return *res
	}
	res.Err, res.StoreFailed = fmt.Errorf("store items: %w", err), true
	p.log().Error("storing a feed's items failed; the fetch will be repeated", "feed", f.Name, "error", err)
	return *res
}

// redactedError is an error whose text has lost the feed URL's
// credentials; errors.Is and As still see what it wraps.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (p *Poller) succeed(st *storage.FeedState, resp *Response) {
	st.LastSuccess = st.LastPoll
	st.LastError, st.Failures = "", 0
	st.RetryAfter = time.Time{}
	if !resp.NotModified() || resp.ETag != "" {
		st.ETag = resp.ETag
	}
	if !resp.NotModified() || resp.LastModified != "" {
		st.LastModified = resp.LastModified
	}
}

// fail records an error and schedules the next attempt with capped
// exponential backoff and jitter, or the server's Retry-After.
func (p *Poller) fail(ctx context.Context, st *storage.FeedState, err error, res *Result) {
	// The error may quote the URL (url.Error does): its credentials go.
	err = &redactedError{err: err, msg: config.RedactText(err.Error(), append(config.URLSecrets(st.URL), config.URLSecrets(st.ConfiguredURL)...))}
	res.Err = err
	st.Failures++
	st.LastError = err.Error()
	st.LastErrorAt = st.LastPoll
	var he *HTTPError
	var wait time.Duration
	if errors.As(err, &he) {
		st.LastStatus = he.Status
		res.Status = he.Status
		if he.Status == http.StatusGone {
			st.Disabled = "410 Gone at " + st.LastPoll.Format(time.RFC3339)
			p.log().Warn("feed disabled: the server says it is gone for good", "feed", st.Name, "url", config.RedactURL(st.URL))
		}
		wait = he.RetryAfter
	} else {
		st.LastStatus = 0
	}
	if wait == 0 {
		wait = Backoff(st.Failures, p.MaxBackoff)
	} else if p.MaxBackoff > 0 && wait > p.MaxBackoff {
		wait = p.MaxBackoff
	}
	st.RetryAfter = st.LastPoll.Add(wait)
	p.log().Warn("poll failed", "feed", st.Name, "error", err, "failures", st.Failures, "retry_after", st.RetryAfter.Format(time.RFC3339))
	if perr := p.writeNow(st.Name, func() error { return p.Store.PutFeed(ctx, st) }); perr != nil {
		res.Err, res.StoreFailed = fmt.Errorf("%w; and saving the feed's state failed: %v", err, perr), true
	}
}

// Backoff is the wait after n consecutive failures: 1m doubling, capped,
// with ±20% jitter so that feeds failing together do not retry together.
func Backoff(n int, max time.Duration) time.Duration {
	if max <= 0 {
		max = 6 * time.Hour
	}
	d := time.Minute
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

// PollAll polls feeds, at most inFlight at once (and Workers of them
// parsed and ingested at once), and returns every result in the order of
// feeds. The feeds whose last fetch took longest start first, so that the
// slowest servers' waits overlap the rest of the cycle instead of ending it.
func (p *Poller) PollAll(ctx context.Context, feeds []config.Feed, inFlight int, force bool) []Result {
	return p.PollAllSince(ctx, feeds, inFlight, force, time.Time{})
}

// PollAllSince is PollAll in a fleet: a feed that another daemon has
// polled since the given time is not polled again, so that one-shot runs
// started together share the feeds.
func (p *Poller) PollAllSince(ctx context.Context, feeds []config.Feed, inFlight int, force bool, since time.Time) []Result {
	if inFlight < 1 {
		inFlight = 1
	}
	results := make([]Result, len(feeds))
	jobs := make(chan int)
	var wg sync.WaitGroup
	states, order := p.slowestFirst(ctx, feeds)
	for w := 0; w < min(inFlight, len(feeds)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = p.poll(ctx, feeds[i], force, states[i], since)
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	p.FlushStates(ctx)
	return results
}

// slowestFirst reads the feeds' stored states (nil for those without one)
// and orders the feeds' indexes by their last fetch's time, longest first
// (the configuration's order for those never fetched).
func (p *Poller) slowestFirst(ctx context.Context, feeds []config.Feed) ([]*storage.FeedState, []int) {
	states := make([]*storage.FeedState, len(feeds))
	order := make([]int, len(feeds))
	for i := range order {
		order[i] = i
	}
	all, err := p.Store.Feeds(ctx)
	if err != nil {
		return states, order // each poll reads its own, and says what is wrong
	}
	byName := make(map[string]*storage.FeedState, len(all))
	for _, st := range all {
		byName[st.Name] = st
	}
	took := make([]int64, len(feeds))
	for i, f := range feeds {
		if st := byName[f.Name]; st != nil {
			states[i], took[i] = st, st.FetchMS
		} else {
			states[i] = &storage.FeedState{Name: f.Name, URL: f.URL, ConfiguredURL: f.URL}
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(took[b], took[a]) })
	return states, order
}

// Offset spreads feeds that share a schedule over the jitter window: a
// stable per-feed delay, so each feed keeps an even period.
func Offset(name string, jitter time.Duration) time.Duration {
	if jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(jitter))
}
