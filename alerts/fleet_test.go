package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/postgres"
	"github.com/raqib/raqib/storage/postgres/pgtest"
)

// Daemon a's lease of an alert is its send timeout and 15 s, and the
// outcome is recorded when `concurrency` outcomes have gathered (or the
// round's last): a slow success waits for the other sender's next
// message, past the lease. Renewed until the record, the lease keeps
// daemon b, healthy and polling its outbox, from sending it again.
func TestFleetLeaseHeldUntilTheRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("about 40 s")
	}
	ctx := context.Background()
	dsn := pgtest.FreshDB(t)
	var st []*postgres.Store
	for _, id := range []string{"a", "b"} {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Join(ctx, storage.Daemon{ID: id, Host: "h", PID: 1, Version: "t", Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		st = append(st, s)
	}
	delay := map[string]time.Duration{"P": 0, "Y": 19 * time.Second, "O": 19500 * time.Millisecond, "Z": 19 * time.Second}
	start := time.Now()
	var mu sync.Mutex
	got := map[string][]time.Duration{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n struct{ Item struct{ ID string } }
		json.Unmarshal(body, &n)
		mu.Lock()
		first := len(got[n.Item.ID]) == 0
		got[n.Item.ID] = append(got[n.Item.ID], time.Since(start).Round(100*time.Millisecond))
		mu.Unlock()
		if first {
			time.Sleep(delay[n.Item.ID])
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var items []*storage.Item
	var as []*storage.Alert
	for i, id := range []string{"P", "Y", "O", "Z"} {
		items = append(items, &storage.Item{ID: id, Feed: "f", Title: id, Cluster: id, Keys: []string{"url:" + id}, Fetched: now})
		as = append(as, &storage.Alert{ID: "al_" + id, Rule: "r", Channel: "hook", ItemID: id, Cluster: id, State: storage.AlertPending, Created: now.Add(time.Duration(i) * time.Millisecond)})
	}
	if _, err := st[0].Commit(ctx, &storage.Batch{Items: items, Alerts: as}); err != nil {
		t.Fatal(err)
	}
	disp := func(s *postgres.Store) *alerts.Dispatcher {
		snd, _ := alerts.NewSender(config.Channel{Name: "hook", Type: "webhook", URL: srv.URL, Secret: "k", Timeout: config.Duration(time.Minute)}, quiet)
		return &alerts.Dispatcher{Store: s, Senders: map[string]alerts.Sender{"hook": snd}, Leases: s, Timeout: 20 * time.Second,
			Concurrency: map[string]int{"hook": 2}, MaxAttempts: 10, Log: quiet}
	}
	a, b := disp(st[0]), disp(st[1])
	done := make(chan struct{})
	go func() { a.Round(ctx, false); close(done) }()
	time.Sleep(36 * time.Second)
	b.Round(ctx, false) // b's ordinary round, 36 s in
	<-done
	if len(got) != 4 {
		t.Errorf("received: %v", got)
	}
	for id, ts := range got {
		if len(ts) > 1 {
			t.Errorf("alert %s sent %d times by two healthy daemons, at %v", id, len(ts), ts)
		}
	}
}
