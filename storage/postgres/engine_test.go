package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// A cursor is the engine's own token: another's (the embedded engine's
// hex) is refused, and the error names it.
func TestCursorTokens(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	it := &storage.Item{ID: "a", Feed: "f", Title: "a", Keys: []string{"url:a"}, Cluster: "a", Fetched: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
	tok := s.Cursor(it)
	if !strings.HasPrefix(tok, "p1.") {
		t.Errorf("cursor %q", tok)
	}
	if got, err := s.Items(ctx, storage.ListOptions{Before: tok}); err != nil || len(got) != 0 {
		t.Errorf("after the only item: %v, %v", got, err)
	}
	for _, bad := range []string{"9c3a6b5ec1e000000000000000000001", "p1.", "p1.AAAAAAAAAAAAAAAAAAAAAA", tok + "x"} {
		_, err := s.Items(ctx, storage.ListOptions{Before: bad})
		if !errors.Is(err, storage.ErrBadCursor) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("Items(before %q): %v", bad, err)
		}
	}
	if _, _, err := s.ListAlerts(ctx, storage.AlertListOptions{Before: tok}); !errors.Is(err, storage.ErrBadCursor) {
		t.Errorf("an item cursor taken for an alert listing's: %v", err)
	}
}

// An empty fingerprint is one: it is given back, and the item is a
// document of the index.
func TestEmptyFingerprint(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	it := &storage.Item{ID: "a", Feed: "f", Title: "a", Keys: []string{"url:a"}, Cluster: "a", Fetched: time.Now(), Fingerprint: []byte{}}
	if _, err := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
	if fp, err := s.Fingerprint(ctx, "a"); err != nil || len(fp) != 0 {
		t.Errorf("Fingerprint = %v, %v", fp, err)
	}
	n := 0
	if err := s.Fingerprints(ctx, time.Time{}, func(f storage.Fingerprint) error {
		if string(f.DocID) != "a" || len(f.Data) != 0 {
			t.Errorf("Fingerprints gave %q %v", f.DocID, f.Data)
		}
		n++
		return nil
	}); err != nil || n != 1 {
		t.Errorf("Fingerprints: %d, %v", n, err)
	}
}

// A prune of more than a batch deletes all it should, in several
// transactions, and leaves no rule row, text key or fingerprint of what
// went.
func TestPruneInBatches(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	old, now := time.Now().Add(-100*24*time.Hour), time.Now()
	const n = 2*pruneBatch + 7
	var items []*storage.Item
	var alerts []*storage.Alert
	for i := range n + 3 {
		id := fmt.Sprintf("i%05d", i)
		fetched := old.Add(time.Duration(i) * time.Second)
		if i >= n {
			fetched = now
		}
		items = append(items, &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id, "guid:" + id}, Cluster: id, Fetched: fetched,
			TextHash: "t" + id, Rules: []string{"r"}, Fingerprint: []byte{1}, Samples: []byte{2}})
		if i%1000 == 0 { // kept, with its story, by a pending alert
			alerts = append(alerts, &storage.Alert{ID: "al" + id, Rule: "r", Channel: "log", ItemID: id, Cluster: id, State: storage.AlertPending, Created: old})
		}
	}
	if _, err := s.Commit(ctx, &storage.Batch{Items: items, Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	kept := len(alerts)
	got, err := s.Prune(ctx, now.Add(-90*24*time.Hour))
	if err != nil || got != n-kept {
		t.Fatalf("Prune = %d, %v; want %d", got, err, n-kept)
	}
	var left, rules, texts, tombs, stories int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM item_rules),
		(SELECT count(*) FROM keys WHERE starts_with(key, 'text:')), (SELECT count(*) FROM keys WHERE item IS NULL AND pruned IS NOT NULL),
		(SELECT count(*) FROM stories)`).Scan(&left, &rules, &texts, &tombs, &stories); err != nil {
		t.Fatal(err)
	}
	want := kept + 3
	if left != want || rules != want || texts != want || tombs != 2*(n-kept) || stories != want {
		t.Errorf("after the prune: %d items, %d rule rows, %d text keys, %d tombstones, %d stories; want %d, %d, %d, %d, %d",
			left, rules, texts, tombs, stories, want, want, want, 2*(n-kept), want)
	}
	if id, err := s.LookupKeys(ctx, []string{"guid:i00001"}); err != nil || id != storage.Pruned {
		t.Errorf("a pruned item's key: %q, %v", id, err)
	}
	// With a cutoff past now, every item goes but those pending alerts
	// need, and every tombstone (those just laid too).
	if got, err := s.Prune(ctx, now.Add(time.Minute)); err != nil || got != 3 {
		t.Fatalf("the second Prune = %d, %v; want 3", got, err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM keys WHERE item IS NULL`).Scan(&tombs); err != nil || tombs != 0 {
		t.Errorf("%d tombstones after their retention, %v", tombs, err)
	}
	n2 := 0
	s.Fingerprints(ctx, time.Time{}, func(f storage.Fingerprint) error {
		if !bytes.Equal(f.Data, []byte{2}) {
			t.Errorf("samples of %s: %v", f.DocID, f.Data)
		}
		n2++
		return nil
	})
	if n2 != kept {
		t.Errorf("%d documents after the second prune, want the %d pending alerts keep", n2, kept)
	}
}
