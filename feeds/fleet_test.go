package feeds_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/postgres"
	"github.com/raqib/raqib/storage/postgres/pgtest"
)

// Two daemons on one database, each with its poller: a scheduled poll
// leaves a feed that the other polled since, but not one this daemon
// polled itself (its own schedule decides that), and a feed another
// daemon is polling now is left to it.
func TestScheduledPollsInAFleet(t *testing.T) {
	ctx := context.Background()
	var fetches atomic.Int32
	hold := make(chan struct{})
	var holding atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if holding.Load() {
			<-hold
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>خبر</title><link>http://x.example/1</link></item></channel></rss>`))
	}))
	defer srv.Close()
	dsn := pgtest.FreshDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var pollers []*feeds.Poller
	for _, id := range []string{"a", "b"} {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Join(ctx, storage.Daemon{ID: id, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		pipe, err := pipeline.New(ctx, st, 24*time.Hour, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		pollers = append(pollers, &feeds.Poller{Store: st, Fetcher: feeds.NewFetcher(feeds.FetchOptions{}), Ingester: pipe, Timeout: 5 * time.Second, Log: log, Leases: st, Daemon: id})
	}
	a, b := pollers[0], pollers[1]
	f := config.Feed{Name: "f", URL: srv.URL}
	since := time.Now().Add(-time.Hour)
	if r := a.PollScheduled(ctx, f, since); r.Skipped != "" || r.Err != nil || r.New != 1 {
		t.Fatalf("a's first poll: %+v", r)
	}
	if r := a.PollScheduled(ctx, f, since); r.Skipped != "" || r.Err != nil {
		t.Errorf("a left its own feed because it polled it itself: %+v", r)
	}
	if r := b.PollScheduled(ctx, f, since); !strings.Contains(r.Skipped, "polled by another daemon") {
		t.Errorf("b polled a feed a polled since: %+v", r)
	}
	if r := b.PollScheduled(ctx, f, time.Now()); r.Skipped != "" || r.Err != nil {
		t.Errorf("b's poll after a's: %+v", r)
	}
	// While a polls it, b leaves it.
	holding.Store(true)
	done := make(chan feeds.Result)
	go func() { done <- a.Poll(ctx, f, true) }()
	for deadline := time.Now().Add(10 * time.Second); fetches.Load() < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a's held poll never reached the server")
		}
	}
	if r := b.Poll(ctx, f, true); !strings.Contains(r.Skipped, "another daemon is polling it") {
		t.Errorf("b polled a feed a was polling: %+v", r)
	}
	holding.Store(false)
	close(hold)
	if r := <-done; r.Err != nil {
		t.Errorf("a's held poll: %+v", r)
	}
	if n := fetches.Load(); n != 4 {
		t.Errorf("%d fetches, want 4", n)
	}
}
