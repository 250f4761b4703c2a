package storage

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = OpenBolt(path)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want under a second", d)
	}
}

func TestCommitSkipsKnownKeysAndPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(id string, keys ...string) *Item {
		return &Item{ID: id, Feed: "f", Title: "عنوان " + id, Keys: keys, Cluster: id, Fetched: now}
	}
	feed := &FeedState{Name: "f", URL: "http://x/", ETag: `"1"`}
	res, err := s.Commit(ctx, &Batch{Feed: feed, Items: []*Item{mk("a", "url:http://x/a"), mk("b", "url:http://x/b")}})
	if err != nil || len(res.Stored) != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	// b again under another key it also has, and c new.
	res, err = s.Commit(ctx, &Batch{Feed: feed, Items: []*Item{mk("b2", "guid:f:9", "url:http://x/b"), mk("c", "url:http://x/c")}})
	if err != nil || len(res.Stored) != 1 || len(res.Skipped) != 1 || res.Stored[0].ID != "c" {
		t.Fatalf("%v %+v", err, res)
	}
	s.Close()

	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.Feed(ctx, "f")
	if err != nil || f.Items != 3 || f.ETag != `"1"` {
		t.Errorf("feed after reopen: %+v %v", f, err)
	}
	items, _ := s.Items(ctx, ListOptions{})
	if len(items) != 3 {
		t.Errorf("%d items after reopen", len(items))
	}
	if id, _ := s.LookupKeys(ctx, []string{"guid:f:9"}); id != "" {
		t.Errorf("a skipped item's keys must not be stored, found %q", id)
	}
}

func TestSeedsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seeds := []*Seed{{Name: "a.txt", Text: "نص", Hash: "h1"}, {Name: "b.txt", Text: "نص آخر", Hash: "h2"}}
	if n, err := s.PutSeeds(ctx, seeds); n != 2 || err != nil {
		t.Fatalf("first import %d %v", n, err)
	}
	if n, _ := s.PutSeeds(ctx, seeds); n != 0 {
		t.Errorf("re-import added %d", n)
	}
	seeds[1].Hash = "h3" // the file was edited
	if n, _ := s.PutSeeds(ctx, seeds); n != 1 {
		t.Errorf("edited seed: %d updated", n)
	}
	c, err := s.Cluster(ctx, "seed:a.txt")
	if err != nil || c.Size != 1 {
		t.Errorf("seed cluster %+v %v", c, err)
	}
}

func TestPruneKeepsKeysPendingAlertsAndSeeds(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old, now := time.Now().Add(-100*24*time.Hour), time.Now()
	mk := func(id string, fetched time.Time) *Item {
		return &Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:http://x/" + id}, Cluster: id, Fetched: fetched, Fingerprint: []byte{1, 0, 0, 0}}
	}
	s.PutSeeds(ctx, []*Seed{{Name: "s.txt", Text: "نص", Hash: "h", Fingerprint: []byte{1, 0, 0, 0}}})
	s.Commit(ctx, &Batch{Items: []*Item{mk("old", old), mk("old-alerted", old), mk("new", now)},
		Alerts: []*Alert{{ID: "a1", ItemID: "old-alerted", State: AlertPending}}})
	n, err := s.Prune(ctx, now.Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if _, err := s.Item(ctx, "old"); err == nil {
		t.Error("old item still stored")
	}
	for _, id := range []string{"old-alerted", "new"} {
		if _, err := s.Item(ctx, id); err != nil {
			t.Errorf("%s pruned: %v", id, err)
		}
	}
	if id, _ := s.LookupKeys(ctx, []string{"url:http://x/old"}); id != "old" {
		t.Error("the pruned item's key is gone: the feed would bring it back")
	}
	if _, err := s.Fingerprint(ctx, "seed:s.txt"); err != nil {
		t.Error("seed fingerprint pruned")
	}
	if _, err := s.Fingerprint(ctx, "old"); err == nil {
		t.Error("old fingerprint kept")
	}
	items, _ := s.Items(ctx, ListOptions{})
	if len(items) != 2 {
		t.Errorf("%d items listed", len(items))
	}
}

// An item's story is read from the ids bucket; a file written before the
// cluster was kept there still answers, from the item itself.
func TestItemClusterNewAndOldFiles(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	long := strings.Repeat("نص طويل يضغط ", 200) // large enough to be stored deflated
	items := []*Item{
		{ID: "a", Feed: "f", Title: "أ", Summary: long, Keys: []string{"url:a"}, Cluster: "a"},
		{ID: "b", Feed: "f", Title: "ب", Keys: []string{"url:b"}, Cluster: "a", DuplicateOf: "a"},
		{ID: "c", Feed: "f", Title: "ج", Keys: []string{"url:c"}, Cluster: "seed:x.txt"},
	}
	if _, err := s.Commit(ctx, &Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	// Make c look like an item of an older file: its ids value is the
	// sequence number alone.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bIDs)
		return ids.Put([]byte("c"), bytes.Clone(ids.Get([]byte("c"))[:8]))
	}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"a": "a", "b": "a", "c": "seed:x.txt"} {
		got, err := s.ItemCluster(ctx, id)
		if err != nil || got != want {
			t.Errorf("ItemCluster(%s) = %q, %v; want %q", id, got, err, want)
		}
		it, err := s.Item(ctx, id)
		if err != nil || it.Cluster != want {
			t.Errorf("Item(%s) = %+v, %v", id, it, err)
		}
	}
	if it, _ := s.Item(ctx, "a"); it.Summary != long {
		t.Errorf("deflated item read back wrong: %d bytes", len(it.Summary))
	}
	if _, err := s.ItemCluster(ctx, "zzz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown item: %v", err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("prune of both formats: %d, %v", n, err)
	}
}
