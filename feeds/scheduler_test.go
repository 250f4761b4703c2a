package feeds_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
)

// Polls fire on the schedule, and a slow poll never overlaps the next one.
func TestSchedulerNoOverlap(t *testing.T) {
	body := testdata(t, "feed.json")
	var cur, peak, total atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		total.Add(1)
		if n > peak.Load() {
			peak.Store(n)
		}
		time.Sleep(1500 * time.Millisecond) // longer than the 1s period
		cur.Add(-1)
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	s := &feeds.Scheduler{Poller: e.poller, Feeds: []config.Feed{{Name: "slow", URL: srv.URL}}, Default: "@every 1s", InFlight: 4, PollNow: true}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if peak.Load() != 1 {
		t.Errorf("a feed's polls overlapped: peak %d", peak.Load())
	}
	if total.Load() < 2 {
		t.Errorf("only %d polls in 3.5s on @every 1s", total.Load())
	}
}

func TestOffsetSpreadsFeeds(t *testing.T) {
	seen := map[time.Duration]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		o := feeds.Offset(name, time.Minute)
		if o < 0 || o >= time.Minute || o != feeds.Offset(name, time.Minute) {
			t.Fatalf("offset %v", o)
		}
		seen[o.Truncate(time.Second)] = true
	}
	if len(seen) < 6 {
		t.Errorf("offsets bunch together: %v", seen)
	}
}
