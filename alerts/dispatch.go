package alerts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/raqib/raqib/storage"
)

// Dispatcher delivers the outbox: every pending alert whose time has come
// goes to its channel; a success marks it delivered, a failure schedules the
// next attempt with backoff, and after MaxAttempts (or a permanent error)
// it is marked failed. Nothing is dropped silently: failed alerts stay in
// the store for `raqib alerts list --failed` and `raqib alerts retry`.
type Dispatcher struct {
	Store       storage.Store
	Senders     map[string]Sender
	MaxAttempts int
	Timeout     time.Duration // per delivery
	// Timeouts are the channels' own, in place of Timeout: how long a
	// fleet's lease of their alerts lasts follows them.
	Timeouts map[string]time.Duration
	Log      *slog.Logger
	Now      func() time.Time
	// OnDelivery, if set, sees each attempt's outcome (metrics).
	OnDelivery func(a *storage.Alert, err error)

	// Concurrency is how many messages a channel sends at once (default
	// defaultConcurrency).
	Concurrency map[string]int
	// Leases, when several daemons share the outbox, makes each message
	// sent by one of them.
	Leases AlertLeaser

	once  sync.Once
	lanes map[string]*lane // channel name ("" for alerts of no configured channel)

	// unrecorded holds outcomes sent but not yet recorded (the store
	// refused the write: a full disk). Until they are recorded no round
	// sends anything: in the store they are still pending and due, and
	// every round would send them again.
	unrecordedMu sync.Mutex
	unrecorded   []*storage.Alert
}

// recordLeftovers records the outcomes an earlier round could not.
func (d *Dispatcher) recordLeftovers(ctx context.Context) error {
	d.unrecordedMu.Lock()
	defer d.unrecordedMu.Unlock()
	if len(d.unrecorded) == 0 {
		return nil
	}
	if err := d.Store.UpdateAlerts(context.WithoutCancel(ctx), d.unrecorded); err != nil {
		return fmt.Errorf("record the outcomes of %d alerts sent earlier (nothing is sent until they are): %w", len(d.unrecorded), err)
	}
	d.release(ctx, d.unrecorded)
	d.unrecorded = nil
	return nil
}

// AlertLeaser leases alerts to the daemons of a fleet (storage.Fleet).
type AlertLeaser interface {
	LeaseAlerts(ctx context.Context, ids []string, ttl time.Duration) ([]string, error)
	ReleaseAlerts(ctx context.Context, ids []string) error
}

// leaseMargin is how long an alert's lease outlasts its delivery's
// timeout: the record of the outcome. A daemon that dies mid-delivery
// holds its alerts that much longer; then another sends them, under the
// same id.
const leaseMargin = 15 * time.Second

// keepLeased renews, in a fleet, the leases of a message's alerts until
// stop is called: from the claim to the record of the outcome, which may
// wait for other messages' sends, and a lease that ran out meanwhile let
// another daemon, healthy, send the message again.
func (d *Dispatcher) keepLeased(ctx context.Context, group []*storage.Alert) (stop func()) {
	if d.Leases == nil {
		return func() {}
	}
	ttl := d.sendTimeout(group[0].Channel) + leaseMargin
	ids := alertIDs(group)
	// Not the round's context: a stop's outcomes are still recorded, and
	// held till then.
	ctx, stop = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := d.Leases.LeaseAlerts(ctx, ids, ttl); err != nil && ctx.Err() == nil {
					d.Log.Warn("renewing alerts' leases failed", "alerts", len(ids), "error", err)
				}
			}
		}
	}()
	return stop
}

// claim leases a message's alerts for this daemon, in a fleet: false
// when another daemon holds one of them or has sent it since the round
// read the outbox.
func (d *Dispatcher) claim(ctx context.Context, group []*storage.Alert) (bool, error) {
	if d.Leases == nil {
		return true, nil
	}
	ids := alertIDs(group)
	got, err := d.Leases.LeaseAlerts(ctx, ids, d.sendTimeout(group[0].Channel)+leaseMargin)
	if err != nil {
		return false, err
	}
	ok := len(got) == len(ids)
	for _, a := range group {
		if !ok {
			break
		}
		// Held now, the alert is as the last daemon to hold it left it.
		cur, err := d.Store.Alert(ctx, a.ID)
		if err != nil {
			d.release(ctx, group)
			return false, err
		}
		ok = cur.State == storage.AlertPending && cur.Attempts == a.Attempts && cur.Batch == a.Batch
	}
	if !ok {
		d.Leases.ReleaseAlerts(context.WithoutCancel(ctx), got)
	}
	return ok, nil
}

// release gives back a fleet's leases of alerts this daemon is done with.
func (d *Dispatcher) release(ctx context.Context, alerts []*storage.Alert) {
	if d.Leases == nil || len(alerts) == 0 {
		return
	}
	if err := d.Leases.ReleaseAlerts(context.WithoutCancel(ctx), alertIDs(alerts)); err != nil {
		d.Log.Warn("releasing alerts' leases failed; they run out by themselves", "alerts", len(alerts), "error", err)
	}
}

func alertIDs(alerts []*storage.Alert) []string {
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i] = a.ID
	}
	return ids
}

// sendTimeout bounds one message's delivery to a channel.
func (d *Dispatcher) sendTimeout(channel string) time.Duration {
	if c := d.Timeouts[channel]; c > 0 {
		return c // the channel's own, longer or shorter
	}
	return cmp.Or(d.Timeout, 30*time.Second)
}

// A lane is one channel's delivery: its own rounds and senders, so that a
// slow or hanging channel holds back nobody else's alerts.
type lane struct {
	mu   sync.Mutex // one round at a time
	wake chan struct{}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.lanes = map[string]*lane{"": {wake: make(chan struct{}, 1)}}
		for name := range d.Senders {
			d.lanes[name] = &lane{wake: make(chan struct{}, 1)}
		}
	})
}

// laneOf is the lane an alert is delivered in.
func (d *Dispatcher) laneOf(a *storage.Alert) string {
	if _, ok := d.Senders[a.Channel]; ok {
		return a.Channel
	}
	return ""
}

// Wake asks a running dispatcher to look at the outbox now (new alerts).
func (d *Dispatcher) Wake() {
	d.init()
	for _, l := range d.lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is done, each channel in a lane of its own.
// Pending alerts left by an earlier run are attempted at once, without
// waiting out the backoff that run set: the restart may well be the fix.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	var lanes sync.WaitGroup
	for name := range d.lanes {
		lanes.Go(func() { d.runLane(ctx, name) })
	}
	lanes.Wait()
	return nil
}

func (d *Dispatcher) runLane(ctx context.Context, name string) {
	l := d.lanes[name]
	force := true
	for {
		next, err := d.roundLane(ctx, name, force)
		force = false
		if err != nil && ctx.Err() == nil {
			d.Log.Error("alert delivery round failed", "channel", name, "error", err)
		}
		wait := time.Second
		if !next.IsZero() {
			if w := time.Until(next); w < wait {
				wait = max(w, 10*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-time.After(wait):
		}
	}
}

// Round attempts every alert that is due (with force, every pending alert,
// due or not), each channel's in its lane, and returns when the next one
// falls due.
func (d *Dispatcher) Round(ctx context.Context, force bool) (time.Time, error) {
	d.init()
	var (
		mu    sync.Mutex
		next  time.Time
		first error
		lanes sync.WaitGroup
	)
	for name := range d.lanes {
		lanes.Go(func() {
			n, err := d.roundLane(ctx, name, force)
			mu.Lock()
			defer mu.Unlock()
			if !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next = n
			}
			if err != nil && first == nil {
				first = err
			}
		})
	}
	lanes.Wait()
	return next, first
}

// roundLane is one channel's round.
func (d *Dispatcher) roundLane(ctx context.Context, name string, force bool) (time.Time, error) {
	l := d.lanes[name]
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := d.recordLeftovers(ctx); err != nil {
		return time.Time{}, err
	}
	all, err := d.Store.Alerts(ctx, storage.AlertPending)
	if err != nil {
		return time.Time{}, fmt.Errorf("list pending alerts: %w", err)
	}
	var pending []*storage.Alert
	for _, a := range all {
		if d.laneOf(a) == name {
			pending = append(pending, a)
		}
	}
	now := d.now()
	var next time.Time
	due := func(t time.Time) bool {
		if force || !t.After(now) {
			return true
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
		return false
	}
	// A digest that failed went out as one message, under one id (its
	// Batch): when any of its alerts is due, all of it goes again, as that
	// message, or a receiver that drops an id it has seen would drop the
	// rest of it.
	dueBatch := map[string]bool{}
	for _, a := range pending {
		if !a.Digest.IsZero() && a.Batch != "" && !a.Digest.After(now) && (force || !a.NextTry.After(now)) {
			dueBatch[a.Batch] = true
		}
	}
	groups := map[string][]*storage.Alert{}
	var order []string
	for _, a := range pending {
		// A digest leaves when its window closes, forced round or not: a
		// start or a one-shot run that sent it early split one digest
		// into as many messages as there were runs.
		if !a.Digest.IsZero() && a.Digest.After(now) {
			if next.IsZero() || a.Digest.Before(next) {
				next = a.Digest
			}
			continue
		}
		if !due(a.NextTry) && !(a.Batch != "" && dueBatch[a.Batch]) {
			continue
		}
		key := a.ID
		if !a.Digest.IsZero() {
			// A digest: one message per rule, channel and due time.
			key = a.Batch
			if key == "" {
				key = "digest:" + a.Rule + "\x00" + a.Channel + "\x00" + a.Digest.UTC().Format(time.RFC3339)
			}
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], a)
	}
	// Messages go out a few at a time (the channel's concurrency), and
	// their outcomes are recorded in shared transactions of at least that
	// many (or the last few), more when they come in faster than they are
	// written, up to recordAtOnce: one
	// write per alert would queue each behind the item commits of a busy
	// poll cycle, and senders waiting for each record would leave a burst
	// of a thousand alerts seconds to go out. A crash between a send and
	// its record sends that message again, under the same id.
	work := make(chan string)
	type outcome struct {
		key string
		err error
	}
	outcomes := make(chan outcome, recordAtOnce)
	var senders sync.WaitGroup
	// The leases of the messages claimed and not yet recorded, renewed
	// until they are (keepLeased).
	var leasedMu sync.Mutex
	leased := map[string]func(){}
	unlease := func(key string) {
		leasedMu.Lock()
		stop := leased[key]
		delete(leased, key)
		leasedMu.Unlock()
		if stop != nil {
			stop()
		}
	}
	defer func() {
		leasedMu.Lock()
		defer leasedMu.Unlock()
		for _, stop := range leased {
			stop()
		}
	}()
	sendAtOnce := d.concurrency(name)
	for range min(sendAtOnce, len(order)) {
		senders.Go(func() {
			for key := range work {
				ok, err := d.claim(ctx, groups[key])
				if err != nil {
					d.Log.Warn("leasing alerts failed; another round sends them", "alerts", len(groups[key]), "error", err)
				}
				if !ok {
					outcomes <- outcome{key, errLeased}
					continue
				}
				stop := d.keepLeased(ctx, groups[key])
				leasedMu.Lock()
				leased[key] = stop
				leasedMu.Unlock()
				outcomes <- outcome{key, d.deliver(ctx, groups[key])}
			}
		})
	}
	go func() {
		defer close(outcomes)
		defer senders.Wait()
		defer close(work)
		for _, key := range order {
			select {
			case work <- key:
			case <-ctx.Done():
				return
			}
		}
	}()
	var batch []outcome
	record := func() {
		var done []*storage.Alert
		for _, o := range batch {
			done = append(done, groups[o.key]...)
		}
		// What was sent is recorded even after a signal: the record is
		// short, and without it the message would go out again.
		if err := d.Store.UpdateAlerts(context.WithoutCancel(ctx), done); err != nil {
			// Kept, and recorded before the next round sends anything;
			// their leases stay until then (or run out).
			d.Log.Error("record alert outcomes; nothing more is sent until they are recorded", "alerts", len(done), "error", err)
			d.unrecordedMu.Lock()
			d.unrecorded = append(d.unrecorded, done...)
			d.unrecordedMu.Unlock()
		} else {
			d.release(ctx, done)
		}
		for _, o := range batch {
			unlease(o.key)
		}
		if d.OnDelivery != nil {
			for _, o := range batch {
				for _, a := range groups[o.key] {
					d.OnDelivery(a, o.err)
				}
			}
		}
		batch = batch[:0]
	}
	left := len(order)
	for o := range outcomes {
		left--
		if o.err == errInterrupted || o.err == errLeased {
			if o.err == errInterrupted {
				unlease(o.key)
				d.release(ctx, groups[o.key])
			}
			if left == 0 && len(batch) > 0 {
				record()
			}
			continue
		}
		batch = append(batch, o)
		// A record waits for a sender's worth of outcomes, or the last;
		// while one is written, more come in, and the next takes them all.
		if len(batch) >= sendAtOnce && len(outcomes) == 0 || len(batch) >= recordAtOnce || left == 0 {
			record()
		}
	}
	if len(batch) > 0 {
		record()
	}
	return next, ctx.Err()
}

// errInterrupted is a delivery cut short by shutdown; errLeased one that
// another daemon of the fleet makes.
var (
	errInterrupted = errors.New("delivery interrupted by shutdown")
	errLeased      = errors.New("another daemon sends it")
)

// defaultConcurrency is how many messages a channel sends at once unless
// configured, and recordAtOnce the most outcomes recorded in one
// transaction.
const (
	defaultConcurrency = 8
	recordAtOnce       = 64
)

func (d *Dispatcher) concurrency(channel string) int {
	if n := d.Concurrency[channel]; n > 0 {
		return n
	}
	return defaultConcurrency
}

// deliver sends one message for a group of alerts (one, or a digest's) and
// sets the outcome on each, for the caller to record.
func (d *Dispatcher) deliver(ctx context.Context, group []*storage.Alert) error {
	a0 := group[0]
	n := &Notification{ID: a0.ID, Rule: a0.Rule, Created: a0.Created}
	if !a0.Digest.IsZero() {
		n.Digest = true
		n.ID = a0.Batch
		if n.ID == "" {
			ids := make([]string, len(group))
			for i, a := range group {
				ids[i] = a.ID
			}
			sort.Strings(ids)
			h := sha256.New()
			for _, id := range ids {
				h.Write([]byte(id))
			}
			n.ID = "dg_" + hex.EncodeToString(h.Sum(nil)[:12])
		}
	}
	var err error
	for _, a := range group {
		info, ierr := d.itemInfo(ctx, a)
		if ierr != nil {
			err = ierr
			break
		}
		if n.Digest {
			n.Items = append(n.Items, *info)
		} else {
			n.Item = info
		}
	}
	sender, ok := d.Senders[a0.Channel]
	switch {
	case err != nil:
	case !ok:
		err = &DeliveryError{Err: fmt.Errorf("no channel named %q in the configuration", a0.Channel)}
	default:
		sctx, cancel := context.WithTimeout(ctx, d.sendTimeout(a0.Channel))
		err = sender.Send(sctx, n)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		// Shutdown cut the attempt short: it is not the channel's failure
		// and is not counted; the alerts stay pending as they were, and the
		// next run sends them under the same id.
		return errInterrupted
	}
	now := d.now()
	// One wait for the message: its alerts come due together, and go
	// again together.
	wait := backoff(a0.Attempts + 1)
	var de *DeliveryError
	if errors.As(err, &de) && de.RetryAfter > wait {
		wait = min(de.RetryAfter, time.Hour)
	}
	for _, a := range group {
		a.Attempts++
		if n.Digest {
			a.Batch = n.ID
		}
		if err == nil {
			a.State, a.Delivered, a.LastError = storage.AlertDelivered, now, ""
		} else {
			a.LastError = err.Error()
			permanent := de != nil && de.Permanent
			max := d.MaxAttempts
			if max <= 0 {
				max = 10
			}
			if permanent || a.Attempts >= max {
				a.State = storage.AlertFailed
				d.Log.Error("alert failed for good", "alert", a.ID, "rule", a.Rule, "channel", a.Channel, "attempts", a.Attempts, "error", err)
			} else {
				a.NextTry = now.Add(wait)
				d.Log.Warn("alert delivery failed; will retry", "alert", a.ID, "channel", a.Channel, "attempt", a.Attempts, "next_try", a.NextTry.Format(time.RFC3339), "error", err)
			}
		}
	}
	return err
}

// backoff after n failed attempts: 5s doubling to an hour, ±20% jitter.
func backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// waiting reports an alert of a digest whose window is still open: not
// undelivered, only not due.
func (d *Dispatcher) waiting(a *storage.Alert) bool {
	return !a.Digest.IsZero() && a.Digest.After(d.now())
}

// Waiting counts the alerts held for digests whose windows are open.
func (d *Dispatcher) Waiting(ctx context.Context) (int, error) {
	pending, err := d.Store.Alerts(ctx, storage.AlertPending)
	n := 0
	for _, a := range pending {
		if d.waiting(a) {
			n++
		}
	}
	return n, err
}

func (d *Dispatcher) itemInfo(ctx context.Context, a *storage.Alert) (*ItemInfo, error) {
	it, err := d.Store.Item(ctx, a.ItemID)
	if err != nil {
		return nil, &DeliveryError{Err: fmt.Errorf("load item %s: %w", a.ItemID, err)}
	}
	info := &ItemInfo{ID: it.ID, Title: it.Title, URL: it.URL, Feed: it.Feed, Published: it.Published, Language: it.Language, Cluster: it.Cluster, ClusterSize: 1}
	summary := it.Summary
	if summary == "" {
		summary = it.Content
	}
	info.Summary = clip(textnormHTML(summary), 500)
	if c, err := d.Store.Cluster(ctx, it.Cluster); err == nil {
		info.ClusterSize, info.Outlets = c.Size, c.Feeds
	}
	return info, nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// Flush is what a one-shot run does: attempt every pending alert now, new or
// left by earlier runs, retrying failures a few times within a short bound,
// and leave what still fails pending for the next run. It returns how many
// of the alerts pending at its start were delivered, and how many are left.
func (d *Dispatcher) Flush(ctx context.Context, tries int, pause time.Duration) (delivered, pending int, err error) {
	// Only the alerts pending now are counted: the history of delivered
	// alerts grows without bound and is not read.
	before, err := d.Store.Alerts(ctx, storage.AlertPending)
	if err != nil || len(before) == 0 {
		return 0, 0, err
	}
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(pause):
			}
			pause *= 2
		}
		// The first round sends every pending alert now; the others keep
		// to each alert's backoff, or a one-shot run every few minutes
		// would spend several attempts a run and fail an alert for good
		// after an outage of a few runs.
		if _, err := d.Round(ctx, i == 0); err != nil {
			return 0, 0, err
		}
		left, err := d.Store.Alerts(ctx, storage.AlertPending)
		if err != nil {
			return 0, 0, err
		}
		pending = 0
		for _, a := range left {
			if !d.waiting(a) {
				pending++
			}
		}
		if pending == 0 {
			break
		}
	}
	for _, a := range before {
		now, err := d.Store.Alert(ctx, a.ID)
		if err != nil {
			return 0, 0, err
		}
		if now.State == storage.AlertDelivered {
			delivered++
		}
	}
	return delivered, pending, nil
}
