package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path)
	if !errors.Is(err, storage.ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want under a second", d)
	}
}

func TestCommitSkipsKnownKeysAndPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(id string, keys ...string) *storage.Item {
		return &storage.Item{ID: id, Feed: "f", Title: "عنوان " + id, Keys: keys, Cluster: id, Fetched: now}
	}
	feed := &storage.FeedState{Name: "f", URL: "http://x/", ETag: `"1"`}
	res, err := s.Commit(ctx, &storage.Batch{Feed: feed, Items: []*storage.Item{mk("a", "url:http://x/a"), mk("b", "url:http://x/b")}})
	if err != nil || len(res.Stored) != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	// b again under another key it also has, and c new.
	res, err = s.Commit(ctx, &storage.Batch{Feed: feed, Items: []*storage.Item{mk("b2", "guid:f:9", "url:http://x/b"), mk("c", "url:http://x/c")}})
	if err != nil || len(res.Stored) != 1 || len(res.Skipped) != 1 || res.Stored[0].ID != "c" {
		t.Fatalf("%v %+v", err, res)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.Feed(ctx, "f")
	if err != nil || f.Items != 3 || f.ETag != `"1"` {
		t.Errorf("feed after reopen: %+v %v", f, err)
	}
	items, _ := s.Items(ctx, storage.ListOptions{})
	if len(items) != 3 {
		t.Errorf("%d items after reopen", len(items))
	}
	if id, _ := s.LookupKeys(ctx, []string{"guid:f:9"}); id != "" {
		t.Errorf("a skipped item's keys must not be stored, found %q", id)
	}
}

func TestSeedsIdempotent(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	seeds := []*storage.Seed{{Name: "a.txt", Text: "نص", Hash: "h1"}, {Name: "b.txt", Text: "نص آخر", Hash: "h2"}}
	for _, sd := range seeds {
		sd.Story = &storage.Cluster{ID: sd.ID(), Size: 1, Feeds: []string{"seeds"}}
	}
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
	if err != nil || c.Size != 1 || !reflect.DeepEqual(c.Feeds, []string{"seeds"}) {
		t.Errorf("seed cluster %+v %v", c, err)
	}
}

// tempStore is a new store in the test's temporary folder.
func tempStore(t *testing.T) *Bolt {
	t.Helper()
	s, _ := storeAt(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// storeAt is a new store in the test's temporary folder, and its path,
// for a test that closes and opens it again.
func storeAt(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// reopenMigrating closes s and opens its file again, which migrates it in
// transactions of chunk entries. The store it returns closes with the
// test.
func reopenMigrating(t *testing.T, s *Bolt, path string, chunk int) *Bolt {
	t.Helper()
	s.Close()
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = chunk
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPruneKeepsKeysPendingAlertsAndSeeds(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	old, now := time.Now().Add(-100*24*time.Hour), time.Now()
	mk := func(id string, fetched time.Time) *storage.Item {
		return &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:http://x/" + id}, Cluster: id, Fetched: fetched, Fingerprint: []byte{1, 0, 0, 0}, TextHash: "t-" + id}
	}
	s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Fingerprint: []byte{1, 0, 0, 0}}})
	s.Commit(ctx, &storage.Batch{Items: []*storage.Item{mk("old", old), mk("old-alerted", old), mk("new", now)},
		Alerts: []*storage.Alert{{ID: "a1", ItemID: "old-alerted", State: storage.AlertPending}}})
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
	if id, _ := s.LookupKeys(ctx, []string{"url:http://x/old"}); id != storage.Pruned {
		t.Errorf("the pruned item's key gives %q: the feed would bring it back", id)
	}
	if res, err := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{mk("old", old)}}); err != nil || len(res.Stored) != 0 {
		t.Errorf("a pruned item was stored again: %v %v", res, err)
	}
	if id, _ := s.LookupKeys(ctx, []string{"url:http://x/new"}); id != "new" {
		t.Errorf("a stored item's key gives %q", id)
	}
	// An exact copy of a pruned text is a new item; of a stored one, a copy.
	for key, want := range map[string]string{"text:t-old": "", "text:t-new": "new"} {
		if id, _ := s.LookupKeys(ctx, []string{key}); id != want {
			t.Errorf("%s gives %q, want %q", key, id, want)
		}
	}
	if _, err := s.Fingerprint(ctx, "seed:s.txt"); err != nil {
		t.Error("seed fingerprint pruned")
	}
	if _, err := s.Fingerprint(ctx, "old"); err == nil {
		t.Error("old fingerprint kept")
	}
	items, _ := s.Items(ctx, storage.ListOptions{})
	if len(items) != 2 {
		t.Errorf("%d items listed", len(items))
	}

	// One retention period later the tombstones go, and the keys with them;
	// a key given to another item since an older tomb was laid stays.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bKeys).Put([]byte("url:http://x/reused"), []byte("someone")); err != nil {
			return err
		}
		return tx.Bucket(bTombs).Put(append(u64(1), "url:http://x/reused"...), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.LookupKeys(ctx, []string{"url:http://x/old"}); id != "" {
		t.Errorf("a tombstone outlived its retention: %q", id)
	}
	if id, _ := s.LookupKeys(ctx, []string{"url:http://x/reused"}); id != "someone" {
		t.Errorf("sweeping an old tomb took a live key: %q", id)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bTombs).Stats().KeyN; n != 0 {
			t.Errorf("%d tombs left after a prune with a cutoff past them all", n)
		}
		return nil
	})
}

// Stories whose last item is older than the cutoff go with their items,
// and so do their alerts that are not pending; a story still told keeps
// its old alert, so that it does not alert again.
func TestPruneStoriesAndTheirAlerts(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	old, now := time.Now().Add(-100*24*time.Hour), time.Now()
	mk := func(id, story string, fetched time.Time) *storage.Item {
		return &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: story, Fetched: fetched}
	}
	s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Imported: old}})
	s.Commit(ctx, &storage.Batch{Items: []*storage.Item{mk("gone", "gone", old), mk("held", "held", old), mk("long1", "long", old), mk("copy", "seed:s.txt", old)},
		Alerts: []*storage.Alert{
			{ID: "a-gone", ItemID: "gone", Cluster: "gone", State: storage.AlertPending, Created: old},
			{ID: "a-held", ItemID: "held", Cluster: "held", State: storage.AlertPending, Created: old},
			{ID: "a-long", ItemID: "long1", Cluster: "long", State: storage.AlertPending, Created: old},
		}})
	for _, id := range []string{"a-gone", "a-long"} {
		a, _ := s.Alert(ctx, id)
		a.State = storage.AlertDelivered
		if err := s.UpdateAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	s.Commit(ctx, &storage.Batch{Items: []*storage.Item{mk("long2", "long", now)}})
	if _, err := s.Prune(ctx, now.Add(-90*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for id, kept := range map[string]bool{"gone": false, "held": true, "long": true, "seed:s.txt": true} {
		if _, err := s.Cluster(ctx, id); (err == nil) != kept {
			t.Errorf("story %s: kept %v, want %v", id, err == nil, kept)
		}
	}
	for id, kept := range map[string]bool{"a-gone": false, "a-held": true, "a-long": true} {
		if _, err := s.Alert(ctx, id); (err == nil) != kept {
			t.Errorf("alert %s: kept %v, want %v", id, err == nil, kept)
		}
	}
	cs, _ := s.Clusters(ctx, time.Time{}, 0)
	if len(cs) != 3 {
		t.Errorf("story list after pruning: %d stories, want 3", len(cs))
	}
	checkAlertIndex(t, s)
}

// An item's story is read from the ids bucket; a file written before the
// cluster was kept there still answers, from the item itself.
func TestItemClusterNewAndOldFiles(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	long := strings.Repeat("نص طويل يضغط ", 200) // large enough to be stored deflated
	items := []*storage.Item{
		{ID: "a", Feed: "f", Title: "أ", Summary: long, Keys: []string{"url:a"}, Cluster: "a"},
		{ID: "b", Feed: "f", Title: "ب", Keys: []string{"url:b"}, Cluster: "a", DuplicateOf: "a"},
		{ID: "c", Feed: "f", Title: "ج", Keys: []string{"url:c"}, Cluster: "seed:x.txt"},
	}
	if _, err := s.Commit(ctx, &storage.Batch{Items: items}); err != nil {
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
	if _, err := s.ItemCluster(ctx, "zzz"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown item: %v", err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("prune of both formats: %d, %v", n, err)
	}
}

// A schema 1 file keyed items' fingerprints and samples by item id; Open
// re-keys them by sequence number, in several transactions, and goes on
// from a file where a crash left some entries moved and some not.
func TestMigrateDocsBySeq(t *testing.T) {
	ctx := context.Background()
	s, path := storeAt(t)
	fetched := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var items []*storage.Item
	for i := 0; i < 7; i++ {
		id := fmt.Sprintf("%020x", i+1)
		items = append(items, &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: id, Fetched: fetched,
			Fingerprint: []byte{1, byte(i)}, Samples: []byte{2, byte(i)}})
	}
	s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Fingerprint: []byte{3}, Samples: []byte{4}}})
	if _, err := s.Commit(ctx, &storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	// Write five of the items' entries back as schema 1 had them; two stay
	// moved, as a crash during the migration would leave them.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		prints, samples := tx.Bucket(bPrints), tx.Bucket(bSamples)
		for _, it := range items[:5] {
			seq := u64(it.Seq)
			if err := prints.Delete(seq); err != nil {
				return err
			}
			if err := samples.Delete(seq); err != nil {
				return err
			}
			if err := prints.Put([]byte(it.ID), printValue(it.Fetched, it.Fingerprint)); err != nil {
				return err
			}
			if err := samples.Put([]byte(it.ID), printValue(it.Fetched, it.Samples)); err != nil {
				return err
			}
		}
		// An entry whose item is gone is dropped.
		if err := samples.Put([]byte("00000000000000000fff"), printValue(fetched, []byte{9})); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("schema"), u64(1))
	}); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrating(t, s, path, 2)
	got := map[string]storage.Fingerprint{}
	if err := s.Fingerprints(ctx, fetched.Add(-time.Hour), func(f storage.Fingerprint) error {
		got[string(f.DocID)] = storage.Fingerprint{Date: f.Date, Data: bytes.Clone(f.Data)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(items)+1 {
		t.Errorf("%d documents after the migration, want %d: %v", len(got), len(items)+1, got)
	}
	for _, it := range items {
		f := got[it.ID]
		if !bytes.Equal(f.Data, it.Samples) || !f.Date.Equal(fetched) {
			t.Errorf("samples of %s: %+v", it.ID, f)
		}
		fp, err := s.Fingerprint(ctx, it.ID)
		if err != nil || !bytes.Equal(fp, it.Fingerprint) {
			t.Errorf("fingerprint of %s: %v %v", it.ID, fp, err)
		}
	}
	if f := got["seed:s.txt"]; !bytes.Equal(f.Data, []byte{4}) {
		t.Errorf("seed samples %+v", f)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint64(tx.Bucket(bMeta).Get([]byte("schema"))); v != SchemaVersion {
			t.Errorf("schema %d after the migration", v)
		}
		for _, b := range [][]byte{bPrints, bSamples} {
			tx.Bucket(b).ForEach(func(k, _ []byte) error {
				if !isSeqKey(k) && !bytes.HasPrefix(k, []byte("seed:")) {
					t.Errorf("%s still holds the old key %q", b, k)
				}
				return nil
			})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Pruning removes the re-keyed entries with their items.
	if n, err := s.Prune(ctx, fetched.Add(time.Hour)); err != nil || n != len(items) {
		t.Fatalf("pruned %d, %v", n, err)
	}
	n := 0
	s.Fingerprints(ctx, time.Time{}, func(storage.Fingerprint) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d documents after pruning every item, want the seed", n)
	}
}

// TestPruneFindsWhatToDeleteFromAnIndex: pruning decoded items from the
// oldest date in one write transaction until it had found enough to
// delete, so a store of old-dated items seen recently (a feed's archive)
// held the writer for a scan of everything, every hour, with nothing to
// prune. It reads the fetched index now, decodes only what it deletes, and
// deletes in short transactions.
func TestPruneFindsWhatToDeleteFromAnIndex(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	now := time.Now()
	published := time.Date(2015, 7, 1, 0, 0, 0, 0, time.UTC)
	var batch []*storage.Item
	const recent, expired = 6000, 2500
	for i := range recent + expired {
		fetched := now
		if i%3 == 0 && i/3 < expired {
			fetched = now.Add(-48 * time.Hour)
		}
		id := fmt.Sprintf("i%05d", i)
		batch = append(batch, &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: id, Published: published.Add(time.Duration(i) * time.Minute), Fetched: fetched})
	}
	if _, err := s.Commit(ctx, &storage.Batch{Items: batch}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, now.Add(-time.Hour*72)); err != nil || n != 0 {
		t.Fatalf("nothing to prune: pruned %d, %v", n, err)
	}
	if d := s.pruneDecodes.Load(); d != 0 {
		t.Errorf("with nothing to prune, pruning decoded %d items", d)
	}
	n, err := s.Prune(ctx, now.Add(-time.Hour))
	if err != nil || n != expired {
		t.Fatalf("pruned %d, %v; want %d", n, err, expired)
	}
	if d := s.pruneDecodes.Load(); d != expired {
		t.Errorf("pruning %d items decoded %d", expired, d)
	}
	if _, err := s.Item(ctx, "i00000"); err == nil {
		t.Error("an item first seen two days ago outlived a one-hour retention")
	}
	if _, err := s.Item(ctx, "i00001"); err != nil {
		t.Errorf("a recent item was pruned: %v", err)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bFetched).Stats().KeyN; got != recent {
			t.Errorf("fetched index holds %d keys, want %d", got, recent)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
