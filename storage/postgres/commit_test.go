package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// Two daemons (two stores on one database) that commit the same items at
// the same moment store each once, without an error: round after round,
// both start together; one lists the items in the other's reverse order
// (so that their locks cross), and some items are the same item under
// another id (a key shared, not the id).
func TestConcurrentCommitsStoreEachItemOnce(t *testing.T) {
	ctx := context.Background()
	dsn := freshDB(t)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const rounds, perRound = 60, 12
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// Each daemon polls a feed of its own, its state kept between polls.
	feeds := [2]*storage.FeedState{{Name: "daemon0"}, {Name: "daemon1"}}
	// batch is daemon d's view of round r: the same items, but that item
	// 5 of each round has an id of d's own (found by another feed's
	// link). The items of an even round tell a new story, those of an
	// odd round join it (whose row the commits then lock).
	batch := func(d, r int) *storage.Batch {
		var items []*storage.Item
		var alerts []*storage.Alert
		story := fmt.Sprintf("r%03d-i00", r-r%2) // an odd round's items join the story before
		for j := range perRound {
			id := fmt.Sprintf("r%03d-i%02d", r, j)
			if j == 5 {
				id = fmt.Sprintf("%s-d%d", id, d)
			}
			it := &storage.Item{ID: id, Feed: fmt.Sprint("f", j%3), Title: id, Keys: []string{"url:" + fmt.Sprintf("r%03d-i%02d", r, j), fmt.Sprintf("guid:d%d:%s", d, id)},
				Cluster: story, Fetched: base.Add(time.Duration(r*perRound+j) * time.Minute), TextHash: fmt.Sprintf("t-%d-%d", r, j),
				Rules: []string{"r"}, Fingerprint: []byte{1, byte(j)}, Samples: []byte{2, byte(j)}}
			if id != story {
				it.DuplicateOf = story
			}
			items = append(items, it)
			alerts = append(alerts, &storage.Alert{ID: "al-" + story + fmt.Sprint("-", j%2), Rule: "r", Channel: "log", ItemID: id, Cluster: story,
				State: storage.AlertPending, Created: it.Fetched})
		}
		if d == 1 {
			slices.Reverse(items)
		}
		return &storage.Batch{Feed: feeds[d], Items: items, Alerts: alerts}
	}
	retried := retries.Load()
	for r := range rounds {
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			res   [2]*storage.CommitResult
			errs  [2]error
		)
		for d := range 2 {
			b := batch(d, r)
			wg.Go(func() {
				<-start
				res[d], errs[d] = stores[d].Commit(ctx, b)
			})
		}
		close(start)
		wg.Wait()
		for d := range 2 {
			if errs[d] != nil {
				t.Fatalf("round %d, daemon %d: %v", r, d, errs[d])
			}
			if n := len(res[d].Stored) + len(res[d].Skipped); n != perRound {
				t.Fatalf("round %d, daemon %d: %d stored and skipped of %d", r, d, n, perRound)
			}
		}
		// Each item once, whoever stored it.
		both := len(res[0].Stored) + len(res[1].Stored)
		if both != perRound {
			t.Errorf("round %d: %d items stored by both daemons together, want %d (%v / %v)", r, both, perRound, itemIDsOf(res[0].Stored), itemIDsOf(res[1].Stored))
		}
	}
	t.Logf("%d commits tried again", retries.Load()-retried)
	s := stores[0]
	if n, err := s.ItemCount(ctx); err != nil || n != rounds*perRound {
		t.Fatalf("ItemCount = %d, %v; want %d", n, err, rounds*perRound)
	}
	var keys, rules, dupIDs int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM keys WHERE starts_with(key, 'url:')), (SELECT count(*) FROM item_rules),
		(SELECT count(*) FROM items WHERE id LIKE '%-d_')`).Scan(&keys, &rules, &dupIDs); err != nil {
		t.Fatal(err)
	}
	if keys != rounds*perRound || rules != rounds*perRound || dupIDs != rounds {
		t.Errorf("%d url keys, %d rule rows, %d items of a daemon's own id; want %d, %d, %d", keys, rules, dupIDs, rounds*perRound, rounds*perRound, rounds)
	}
	for r := 0; r < rounds; r += 2 {
		c, err := s.Cluster(ctx, fmt.Sprintf("r%03d-i00", r))
		if err != nil || c.Size != 2*perRound || len(c.Feeds) != 3 {
			t.Errorf("round %d's story: %+v, %v; want size %d, 3 feeds", r, c, err, 2*perRound)
		}
	}
	as, err := s.Alerts(ctx, "")
	if err != nil || len(as) != rounds {
		t.Errorf("%d alerts, %v; want %d (two a story)", len(as), err, rounds)
	}
	var total int
	for d := range 2 {
		f, err := stores[d].Feed(ctx, fmt.Sprint("daemon", d))
		if err != nil {
			t.Fatal(err)
		}
		if f.Items != feeds[d].Items {
			t.Errorf("feed %s stored with %d items, its state says %d", f.Name, f.Items, feeds[d].Items)
		}
		total += f.Items
	}
	if total != rounds*perRound {
		t.Errorf("the feeds count %d items, want %d", total, rounds*perRound)
	}
}

func itemIDsOf(items []*storage.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}
