package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// Pruning's tests use the real clock: an engine may lay its tombstones at
// the time of the prune.
const day = 24 * time.Hour

func testPruneKeepsKeysPendingAlertsAndSeeds(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := now()
	old, cutoff := now.Add(-100*day), now.Add(-90*day)
	mk := func(id string, fetched time.Time) *storage.Item {
		return &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:http://x/" + id}, Cluster: id, Fetched: fetched, Rules: []string{"r"},
			Fingerprint: []byte{1, 0, 0, 0}, Samples: []byte{2}, TextHash: "t-" + id}
	}
	sd := &storage.Seed{Name: "s.txt", Text: "نص", Hash: "h", Date: old.Add(-day), Imported: old, Fingerprint: []byte{1, 0, 0, 0}, Samples: []byte{3}}
	sd.Story = &storage.Cluster{ID: sd.ID(), Size: 1, Feeds: []string{"seeds"}, Title: "s.txt", First: old, Updated: old}
	if _, err := s.PutSeeds(ctx, []*storage.Seed{sd}); err != nil {
		t.Fatal(err)
	}
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("old", old), mk("old-alerted", old), mk("new", now)},
		Alerts: []*storage.Alert{{ID: "a1", Rule: "r", Channel: "log", ItemID: "old-alerted", Cluster: "old-alerted", State: storage.AlertPending, Created: old}}})

	n, err := s.Prune(ctx, cutoff)
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	_, err = s.Item(ctx, "old")
	wantNotFound(t, "Item(old), pruned", err)
	_, err = s.ItemCluster(ctx, "old")
	wantNotFound(t, "ItemCluster(old), pruned", err)
	_, err = s.Fingerprint(ctx, "old")
	wantNotFound(t, "Fingerprint(old), pruned", err)
	_, err = s.Cluster(ctx, "old")
	wantNotFound(t, "Cluster(old), a story whose last item was pruned", err)
	for _, id := range []string{"old-alerted", "new"} {
		if _, err := s.Item(ctx, id); err != nil {
			t.Errorf("%s pruned: %v", id, err)
		}
		if _, err := s.Fingerprint(ctx, id); err != nil {
			t.Errorf("%s's fingerprint pruned: %v", id, err)
		}
		if _, err := s.Cluster(ctx, id); err != nil {
			t.Errorf("%s's story pruned: %v", id, err)
		}
	}
	if a, err := s.Alert(ctx, "a1"); err != nil || a.State != storage.AlertPending {
		t.Errorf("the pending alert: %+v, %v", a, err)
	}
	if n, err := s.ItemCount(ctx); err != nil || n != 2 {
		t.Errorf("ItemCount after pruning = %d, %v; want 2", n, err)
	}

	// The keys stay: a feed that still lists the item does not bring it back.
	lookup := func(key string) string {
		t.Helper()
		id, err := s.LookupKeys(ctx, []string{key})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := lookup("url:http://x/old"); id != storage.Pruned {
		t.Errorf("the pruned item's key gives %q, want storage.Pruned: the feed would bring it back", id)
	}
	if id, err := s.LookupKeys(ctx, []string{"url:nosuch", "url:http://x/old"}); err != nil || id != storage.Pruned {
		t.Errorf("LookupKeys of an unknown key and a pruned one: %q, %v", id, err)
	}
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{mk("old", old)}})
	checkResult(t, "the pruned item again", res, nil, []string{"old"})
	_, err = s.Item(ctx, "old")
	wantNotFound(t, "Item(old), committed again after its prune", err)
	for key, want := range map[string]string{"url:http://x/new": "new", "url:http://x/old-alerted": "old-alerted", "text:t-new": "new", "text:t-old-alerted": "old-alerted"} {
		if id := lookup(key); id != want {
			t.Errorf("LookupKeys(%s) = %q, want %q", key, id, want)
		}
	}
	// A pruned text leads to no stored item: a copy of it is new.
	if id := lookup("text:t-old"); id != "" && id != storage.Pruned {
		t.Errorf(`LookupKeys("text:t-old"), a pruned item's text: %q`, id)
	}

	// Seeds are never pruned.
	if _, err := s.Fingerprint(ctx, "seed:s.txt"); err != nil {
		t.Errorf("seed fingerprint pruned: %v", err)
	}
	if _, err := s.Seed(ctx, "s.txt"); err != nil {
		t.Errorf("seed pruned: %v", err)
	}
	if _, err := s.Cluster(ctx, "seed:s.txt"); err != nil {
		t.Errorf("seed's story pruned: %v", err)
	}

	// No listing holds the pruned item.
	for _, opt := range []storage.ListOptions{{}, {WithDuplicates: true}, {Feed: "f"}, {Rule: "r"}, {Rule: "r", WithDuplicates: true}} {
		got, err := s.Items(ctx, opt)
		if err != nil || !sameStrings(itemIDs(got), []string{"new", "old-alerted"}) {
			t.Errorf("Items(%s) after pruning: %v, %v", describe(opt), itemIDs(got), err)
		}
	}
	if got, err := s.RuleStories(ctx, storage.ListOptions{Rule: "r"}); err != nil || !sameStrings(itemIDs(got), []string{"new", "old-alerted"}) {
		t.Errorf("RuleStories after pruning: %v, %v", itemIDs(got), err)
	}
	var docs []string
	if err := s.Fingerprints(ctx, time.Time{}, func(f storage.Fingerprint) error { docs = append(docs, string(f.DocID)); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(docs), []string{"new", "old-alerted", "seed:s.txt"}) {
		t.Errorf("Fingerprints after pruning: %v", docs)
	}
	recent := 0
	if err := s.RecentFingerprints(ctx, func([]byte) error { recent++; return nil }); err != nil || recent != 2 {
		t.Errorf("RecentFingerprints after pruning: %d, %v; want 2", recent, err)
	}

	// Pruning again prunes nothing, and the key stays.
	if n, err := s.Prune(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("a second Prune = %d, %v; want 0", n, err)
	}
	if id := lookup("url:http://x/old"); id != storage.Pruned {
		t.Errorf("after a second prune the pruned item's key gives %q", id)
	}
	// Once the alert is delivered, its item goes.
	a, err := s.Alert(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	a.State, a.Delivered = storage.AlertDelivered, now
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, cutoff); err != nil || n != 1 {
		t.Errorf("Prune once the alert went out = %d, %v; want 1", n, err)
	}
	_, err = s.Item(ctx, "old-alerted")
	wantNotFound(t, "Item(old-alerted) once its alert went out", err)
	if id := lookup("url:http://x/old-alerted"); id != storage.Pruned {
		t.Errorf("the key of an item pruned later gives %q", id)
	}
}

// Stories whose last item is older than the cutoff go with their items,
// and so do their alerts that are not pending; a story still told keeps
// its old alert, so that it does not alert again.
func testPruneStoriesAndTheirAlerts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := now()
	old, cutoff := now.Add(-100*day), now.Add(-90*day)
	mk := func(id, story string, fetched time.Time) *storage.Item {
		it := &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: story, Fetched: fetched}
		if story != id {
			it.DuplicateOf = story
		}
		return it
	}
	if _, err := s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Imported: old}}); err != nil {
		t.Fatal(err)
	}
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("gone", "gone", old), mk("held", "held", old), mk("long1", "long", old), mk("copy", "seed:s.txt", old)},
		Alerts: []*storage.Alert{
			{ID: "a-gone", Rule: "r", Channel: "log", ItemID: "gone", Cluster: "gone", State: storage.AlertPending, Created: old},
			{ID: "a-held", Rule: "r", Channel: "log", ItemID: "held", Cluster: "held", State: storage.AlertPending, Created: old},
			{ID: "a-long", Rule: "r", Channel: "log", ItemID: "long1", Cluster: "long", State: storage.AlertPending, Created: old},
			{ID: "a-copy", Rule: "r", Channel: "log", ItemID: "copy", Cluster: "seed:s.txt", State: storage.AlertFailed, Created: old},
		}})
	for _, id := range []string{"a-gone", "a-long"} {
		a, err := s.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		a.State = storage.AlertDelivered
		if err := s.UpdateAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("long2", "long", now)}})
	n, err := s.Prune(ctx, cutoff)
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3 (gone, long1, copy)", n, err)
	}
	for id, kept := range map[string]bool{"gone": false, "held": true, "long": true, "seed:s.txt": true} {
		if _, err := s.Cluster(ctx, id); (err == nil) != kept {
			t.Errorf("story %s: kept %v (%v), want %v", id, err == nil, err, kept)
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("story %s: %v, want storage.ErrNotFound", id, err)
		}
	}
	for id, kept := range map[string]bool{"gone": false, "held": true, "long1": false, "long2": true, "copy": false} {
		if _, err := s.Item(ctx, id); (err == nil) != kept {
			t.Errorf("item %s: kept %v (%v), want %v", id, err == nil, err, kept)
		}
	}
	for id, kept := range map[string]bool{"a-gone": false, "a-held": true, "a-long": true, "a-copy": true} {
		if _, err := s.Alert(ctx, id); (err == nil) != kept {
			t.Errorf("alert %s: kept %v (%v), want %v", id, err == nil, err, kept)
		}
	}
	cs, err := s.Clusters(ctx, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(clusterIDs(cs)); !slices.Equal(got, []string{"held", "long", "seed:s.txt"}) {
		t.Errorf("story list after pruning: %v, want held, long and the seed's", got)
	}
	all, err := s.Alerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(alertIDs(all)); !slices.Equal(got, []string{"a-copy", "a-held", "a-long"}) {
		t.Errorf("alerts after pruning: %v", got)
	}
	listed, _, err := s.ListAlerts(ctx, storage.AlertListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(alertIDs(listed)); !slices.Equal(got, []string{"a-copy", "a-held", "a-long"}) {
		t.Errorf("alerts listed after pruning: %v", got)
	}
	if n, err := s.ItemCount(ctx); err != nil || n != 2 {
		t.Errorf("ItemCount after pruning = %d, %v; want 2", n, err)
	}
}

// Pruning a store of many stories leaves the listings of what is left.
func testPruneListings(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	cutoff := l.base.Add(20 * time.Hour)
	before := l.wantStories()
	want := l.prune(cutoff)
	n, err := s.Prune(t.Context(), cutoff)
	if err != nil || n != want || n == 0 {
		t.Fatalf("Prune = %d, %v; want %d", n, err, want)
	}
	if c, err := s.ItemCount(t.Context()); err != nil || c != len(l.items)-n {
		t.Errorf("ItemCount after pruning = %d, %v; want %d", c, err, len(l.items)-n)
	}
	l.checkItems(t)
	l.checkRuleStories(t)
	checkStoryItems(t, l)
	checkStoryRules(t, l)
	var stories []string
	for id, c := range before {
		kept := !c.Updated.Before(cutoff) || storage.IsSeedStory(id)
		if kept {
			stories = append(stories, id)
		}
		if _, err := s.Cluster(t.Context(), id); (err == nil) != kept {
			t.Errorf("story %s, last updated %v: kept %v (%v), want %v", id, c.Updated, err == nil, err, kept)
		}
	}
	cs, err := s.Clusters(t.Context(), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(clusterIDs(cs)); !slices.Equal(got, sorted(stories)) {
		t.Errorf("stories listed after pruning:\n got %v\nwant %v", got, sorted(stories))
	}
}
