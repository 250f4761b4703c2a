package boltstore

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

func TestThreadsAndSplits(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t)
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	mk := func(id, feed, cluster, dupOf, follows string, h int) *storage.Item {
		at := t0.Add(time.Duration(h) * time.Hour)
		return &storage.Item{ID: id, Feed: feed, Title: id, Cluster: cluster, DuplicateOf: dupOf, Follows: follows, Rules: []string{"quake"},
			Keys: []string{"url:" + id}, Published: at, Fetched: at}
	}
	batch := []*storage.Item{
		mk("report", "agency", "report", "", "", 0),
		mk("copy1", "daily", "report", "report", "", 1),
		mk("copy2", "daily", "report", "report", "", 2),
		mk("copy3", "portal", "report", "report", "", 3),
		mk("update", "agency", "update", "", "copy2", 24), // follows a copy: in the report's thread
		mk("reaction", "portal", "reaction", "", "update", 30),
	}
	// The pipeline decides the threads; the store records them.
	threads := map[string]string{"update": "report", "reaction": "report"}
	for _, it := range batch {
		b := &storage.Batch{Items: []*storage.Item{it}}
		if th := threads[it.ID]; th != "" {
			b.Developments = []storage.Development{{Story: it.ID, Thread: th}}
		}
		if _, err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// A development whose item is skipped (known already) records nothing.
	again := mk("update", "agency", "update", "", "copy2", 24)
	if _, err := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{again}, Developments: []storage.Development{{Story: "update", Thread: "copy1"}}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cluster(ctx, "update"); c.Follows != "report" {
		t.Errorf("a skipped item's development was recorded: the update follows %q", c.Follows)
	}
	report, _ := s.Cluster(ctx, "report")
	if !reflect.DeepEqual(report.Developments, []string{"update", "reaction"}) || report.Size != 4 {
		t.Errorf("the report's story: size %d, developments %v", report.Size, report.Developments)
	}
	if u, _ := s.Cluster(ctx, "reaction"); u.Follows != "report" {
		t.Errorf("a development of a development follows %q, not the thread's first story", u.Follows)
	}

	// The desk splits copy3 (the story's only portal item) off.
	it, _ := s.Item(ctx, "copy3")
	it.Cluster, it.DuplicateOf, it.Reason = it.ID, "", "the desk"
	alert := &storage.Alert{ID: "al_split", Rule: "quake", Channel: "log", ItemID: it.ID, Cluster: it.ID, State: storage.AlertPending, Created: t0}
	if err := s.SplitItem(ctx, it, []*storage.Alert{alert}); err != nil {
		t.Fatal(err)
	}
	report, _ = s.Cluster(ctx, "report")
	if report.Size != 3 || !reflect.DeepEqual(report.Feeds, []string{"agency", "daily"}) {
		t.Errorf("the report's story after the split: size %d, feeds %v", report.Size, report.Feeds)
	}
	split, err := s.Cluster(ctx, "copy3")
	if err != nil || split.Size != 1 || !reflect.DeepEqual(split.Feeds, []string{"portal"}) {
		t.Errorf("the split story: %+v %v", split, err)
	}
	if c, _ := s.ItemCluster(ctx, "copy3"); c != "copy3" {
		t.Errorf("the ids bucket says story %q", c)
	}
	got, _ := s.Item(ctx, "copy3")
	if got.DuplicateOf != "" || got.Reason != "the desk" || got.Seq != it.Seq {
		t.Errorf("the stored item: %+v", got)
	}
	if a, err := s.Alert(ctx, "al_split"); err != nil || a.State != storage.AlertPending {
		t.Errorf("the split's alert: %v %v", a, err)
	}
	// The rule's stream holds the split story now.
	rs, _ := s.RuleStories(ctx, storage.ListOptions{Rule: "quake"})
	var ids []string
	for _, it := range rs {
		ids = append(ids, it.ID)
	}
	if !reflect.DeepEqual(ids, []string{"reaction", "update", "copy3", "report"}) {
		t.Errorf("the rule's stream: %v", ids)
	}
	if err := s.SplitItem(ctx, &storage.Item{ID: "nope", Cluster: "nope"}, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("splitting an unknown item: %v", err)
	}
}

// In a file from before the ids bucket held each item's story, a split
// still recounts the outlets from the items themselves.
func TestSplitInAnOlderFile(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t)
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var items []*storage.Item
	for i, feed := range []string{"agency", "daily", "portal"} {
		id := feed + "-item"
		it := &storage.Item{ID: id, Feed: feed, Title: id, Cluster: "agency-item", Keys: []string{"url:" + id}, Published: t0.Add(time.Duration(i) * time.Hour), Fetched: t0}
		if i > 0 {
			it.DuplicateOf = "agency-item"
		}
		items = append(items, it)
	}
	if _, err := s.Commit(ctx, &storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error { // the ids bucket as an older file has it: the sequence alone
		b := tx.Bucket(bIDs)
		for _, it := range items {
			if err := b.Put([]byte(it.ID), u64(it.Seq)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Item(ctx, "portal-item")
	it.Cluster, it.DuplicateOf = it.ID, ""
	if err := s.SplitItem(ctx, it, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Cluster(ctx, "agency-item")
	if c.Size != 2 || !reflect.DeepEqual(c.Feeds, []string{"agency", "daily"}) {
		t.Errorf("the story after the split: size %d, feeds %v", c.Size, c.Feeds)
	}
}
