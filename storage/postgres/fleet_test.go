package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// twoDaemons opens two stores on one database, joined as daemons a and b.
func twoDaemons(t *testing.T) (*Store, *Store) {
	t.Helper()
	ctx := context.Background()
	dsn := freshDB(t)
	var out []*Store
	for _, id := range []string{"a", "b"} {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Join(ctx, storage.Daemon{ID: id, Host: "h", PID: 1, Version: "test", Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out[0], out[1]
}

func TestFeedLeases(t *testing.T) {
	ctx := context.Background()
	a, b := twoDaemons(t)
	lease := func(s *Store, feed string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.LeaseFeed(ctx, feed, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease(a, "f", time.Minute) || lease(b, "f", time.Minute) {
		t.Fatal("a feed leased by one daemon was leased by the other too, or not at all")
	}
	if !lease(a, "f", time.Minute) {
		t.Error("a daemon could not renew its own lease")
	}
	if !lease(b, "g", time.Minute) {
		t.Error("another feed was not free")
	}
	ds, err := a.Daemons(ctx)
	if err != nil || len(ds) != 2 {
		t.Fatalf("daemons: %+v %v", ds, err)
	}
	for _, d := range ds {
		if d.FeedLeases != 1 || time.Since(d.Heartbeat) > time.Minute {
			t.Errorf("daemon %s: %d feed leases, heartbeat %v", d.ID, d.FeedLeases, d.Heartbeat)
		}
	}
	if err := a.ReleaseFeed(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if !lease(b, "f", 300*time.Millisecond) {
		t.Error("a released feed was not free")
	}
	if err := a.ReleaseFeed(ctx, "f"); err != nil || lease(a, "f", time.Minute) {
		t.Error("a daemon released another's lease")
	}
	time.Sleep(400 * time.Millisecond)
	if !lease(a, "f", time.Minute) {
		t.Error("a lease that ran out (its daemon died) was not taken over")
	}
	// Two daemons racing for a free feed, four tries each: one daemon
	// wins, and its later tries renew its own lease.
	type try struct {
		daemon string
		ok     bool
	}
	tries := make(chan try, 8)
	for i := range 8 {
		s := []*Store{a, b}[i%2]
		go func() {
			ok, err := s.LeaseFeed(ctx, "race", time.Minute)
			if err != nil {
				t.Error(err)
			}
			tries <- try{s.daemon, ok}
		}()
	}
	wins := map[string]int{}
	for range 8 {
		if tr := <-tries; tr.ok {
			wins[tr.daemon]++
		}
	}
	if len(wins) != 1 || (wins["a"] != 4 && wins["b"] != 4) {
		t.Errorf("wins by daemon: %v, want all four of one daemon's", wins)
	}
}

func TestStoryLockIsFleetWide(t *testing.T) {
	ctx := context.Background()
	a, b := twoDaemons(t)
	unlock, err := a.LockStories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.LockStories(short); err == nil {
		t.Fatal("two daemons held the story lock at once")
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.LockStories(ctx)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("b took the lock while a held it: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A daemon that dies holding the lock lets go of it: its connection
	// ends (the server ends it here, as a crash or a cut network would).
	unlock, err = a.LockStories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	within, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	u, err := b.LockStories(within)
	if err != nil {
		t.Fatalf("the lock of a dead connection was not let go: %v", err)
	}
	u()
}

func TestPrintsAfterAndAlertLeases(t *testing.T) {
	ctx := context.Background()
	a, b := twoDaemons(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var items []*storage.Item
	var alerts []*storage.Alert
	for _, id := range []string{"i1", "i2", "i3"} {
		items = append(items, &storage.Item{ID: id, Feed: "f", Title: id, Cluster: id, Keys: []string{"url:" + id}, Fetched: now, Fingerprint: []byte("fp-" + id), Samples: []byte("s-" + id)})
		alerts = append(alerts, &storage.Alert{ID: "al_" + id, Rule: "r", Channel: "c", ItemID: id, Cluster: id, State: storage.AlertPending, Created: now})
	}
	seq0, err := b.LastSeq(ctx)
	if err != nil || seq0 != 0 {
		t.Fatalf("last seq of an empty store: %d %v", seq0, err)
	}
	if _, err := a.Commit(ctx, &storage.Batch{Items: items[:2], Alerts: alerts[:2]}); err != nil {
		t.Fatal(err)
	}
	mid, _ := b.LastSeq(ctx)
	if _, err := a.Commit(ctx, &storage.Batch{Items: items[2:], Alerts: alerts[2:]}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	var last uint64
	if err := b.PrintsAfter(ctx, mid, func(seq uint64, f storage.Fingerprint) error {
		if seq <= last || string(f.Data) != "s-"+string(f.DocID) || !f.Date.Equal(now) {
			t.Errorf("print %d %s %q %v", seq, f.DocID, f.Data, f.Date)
		}
		last = seq
		seen = append(seen, string(f.DocID))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"i3"}) {
		t.Errorf("after seq %d: %v, want the item committed since", mid, seen)
	}

	ids := []string{"al_i1", "al_i2", "al_i3", "al_nosuch"}
	got, err := a.LeaseAlerts(ctx, ids, time.Minute)
	if err != nil || len(got) != 3 {
		t.Fatalf("a leased %v %v, want the three pending alerts", got, err)
	}
	if got, err := b.LeaseAlerts(ctx, ids, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("b leased %v %v of alerts a holds", got, err)
	}
	if err := a.ReleaseAlerts(ctx, []string{"al_i1"}); err != nil {
		t.Fatal(err)
	}
	delivered := *alerts[1]
	delivered.State = storage.AlertDelivered
	if err := a.UpdateAlert(ctx, &delivered); err != nil {
		t.Fatal(err)
	}
	a.ReleaseAlerts(ctx, []string{"al_i2"})
	if got, err := b.LeaseAlerts(ctx, ids, time.Minute); err != nil || !slices.Equal(got, []string{"al_i1"}) {
		t.Errorf("b leased %v %v, want the alert a released (not the delivered one, not a's)", got, err)
	}
	ds, _ := a.Daemons(ctx)
	for _, d := range ds {
		if want := map[string]int{"a": 1, "b": 1}[d.ID]; d.AlertLeases != want {
			t.Errorf("daemon %s holds %d alert leases, want %d", d.ID, d.AlertLeases, want)
		}
	}
	// A daemon that stops leaves: its leases and its row go.
	b.Close()
	if ds, err := a.Daemons(ctx); err != nil || len(ds) != 1 || ds[0].ID != "a" {
		t.Errorf("after b stopped: %+v %v", ds, err)
	}
	if got, err := a.LeaseAlerts(ctx, []string{"al_i1"}, time.Minute); err != nil || len(got) != 1 {
		t.Errorf("b's lease outlived it: %v %v", got, err)
	}
	var unjoined Store
	if _, err := unjoined.LeaseAlerts(ctx, ids, time.Minute); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("a store that has not joined leased: %v", err)
	}
}

func TestHealthyFollowsTheHeartbeat(t *testing.T) {
	a, _ := twoDaemons(t)
	if err := a.Healthy(); err != nil {
		t.Fatalf("just joined: %v", err)
	}
	a.lastBeat.Store(time.Now().Add(-time.Minute).UnixNano())
	if err := a.Healthy(); err == nil || !strings.Contains(err.Error(), "heartbeat") {
		t.Errorf("a minute without a heartbeat: %v", err)
	}
	var reader Store // a read command joins nothing and is always healthy
	if err := reader.Healthy(); err != nil {
		t.Errorf("a store that has not joined: %v", err)
	}
}
