package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

func testItemsListing(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	// The fixture is what the listings need: more than a page of each.
	for _, opt := range []storage.ListOptions{{}, {Feed: "f1"}, {Rule: "kremlin"}, {Rule: "libya", WithDuplicates: true}, {Since: l.base.Add(5 * time.Hour), WithDuplicates: true}, {Query: mustParse(t, l.long)}} {
		if n := len(l.wantItems(opt)); n < 7 {
			t.Fatalf("the fixture lists %d items for %s: too few", n, describe(opt))
		}
	}
	l.checkItems(t)

	// Duplicates are listed with WithDuplicates only.
	all, err := s.Items(t.Context(), storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withDups, err := s.Items(t.Context(), storage.ListOptions{WithDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(withDups) != len(l.items) || len(all) >= len(withDups) {
		t.Errorf("%d items listed, %d with duplicates; %d stored", len(all), len(withDups), len(l.items))
	}
	for _, it := range all {
		if it.DuplicateOf != "" {
			t.Errorf("duplicate %s listed without WithDuplicates", it.ID)
		}
	}
	// The listed items are the items stored.
	for i, it := range withDups {
		want := l.items[0]
		for _, w := range l.items {
			if w.ID == it.ID {
				want = w
			}
		}
		checkItem(t, fmt.Sprintf("item %d listed", i), it, want)
	}
}

// pagedOptions are the listings read a page at a time.
func pagedOptions(l *listing) []storage.ListOptions {
	since := l.base.Add(5 * time.Hour)
	return []storage.ListOptions{
		{}, {WithDuplicates: true},
		{Feed: "f1"}, {Feed: "f1", WithDuplicates: true},
		{Rule: "kremlin"}, {Rule: "libya", WithDuplicates: true}, {Rule: "kremlin", Feed: "f0", WithDuplicates: true},
		{Since: since}, {Since: since, WithDuplicates: true}, {Feed: "f0", Since: since, WithDuplicates: true},
	}
}

func testItemsPaging(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	long := mustParse(t, l.long)
	opts := append(pagedOptions(l), storage.ListOptions{Query: long, WithDuplicates: true}, storage.ListOptions{Query: long, Rule: "libya", WithDuplicates: true})
	for _, opt := range opts {
		want := l.wantItems(opt)
		if len(want) < 4 {
			t.Errorf("%s lists %d items: too few to page", describe(opt), len(want))
		}
		if got := byPages(t, s, items, opt, 3, len(want)); !sameStrings(got, want) {
			t.Errorf("Items(%s) by pages of 3:\n got %v\nwant %v", describe(opt), got, want)
		}
		// Before without a limit lists the rest.
		whole, err := s.Items(t.Context(), opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{0, len(whole) / 2, len(whole) - 1} {
			if k < 0 || k >= len(whole) {
				continue
			}
			rest := opt
			rest.Before = s.Cursor(whole[k])
			got, err := s.Items(t.Context(), rest)
			if err != nil {
				t.Errorf("Items(%s): %v", describe(rest), err)
				continue
			}
			if !sameStrings(itemIDs(got), want[k+1:]) {
				t.Errorf("Items(%s), after item %d of %d:\n got %v\nwant %v", describe(opt), k, len(want), itemIDs(got), want[k+1:])
			}
		}
	}
	// A cursor stays in place when items are stored after it was given.
	opt := storage.ListOptions{WithDuplicates: true, Limit: 5}
	page, err := s.Items(t.Context(), opt)
	if err != nil || len(page) != 5 {
		t.Fatalf("first page: %d items, %v", len(page), err)
	}
	cur := s.Cursor(page[4])
	commit(t, s, &storage.Batch{Items: []*storage.Item{{ID: "newer", Feed: "f0", Title: "newer", Keys: []string{"url:newer"}, Cluster: "newer", Fetched: l.base.Add(200 * time.Hour)}}})
	opt.Before = cur
	got, err := s.Items(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := l.wantItems(storage.ListOptions{WithDuplicates: true})[5:10]; !sameStrings(itemIDs(got), want) {
		t.Errorf("the second page, after an item was stored: %v, want %v", itemIDs(got), want)
	}
}

func testItemsBadCursor(t *testing.T, s storage.Store) {
	newListing(t, s)
	for _, bad := range []string{"zz", "not a cursor", "!!", "\x00\x01"} {
		for _, opt := range []storage.ListOptions{{Before: bad}, {Before: bad, Feed: "f0"}, {Before: bad, Rule: "libya"}, {Before: bad, WithDuplicates: true, Limit: 3}} {
			if _, err := s.Items(t.Context(), opt); !errors.Is(err, storage.ErrBadCursor) {
				t.Errorf("Items(%s): error %v, want one that is storage.ErrBadCursor", describe(opt), err)
			}
		}
		opt := storage.ListOptions{Rule: "libya", Before: bad}
		if _, err := s.RuleStories(t.Context(), opt); !errors.Is(err, storage.ErrBadCursor) {
			t.Errorf("RuleStories(%s): error %v, want one that is storage.ErrBadCursor", describe(opt), err)
		}
	}
}

// A listing that reads back far, as a text query that matches nothing
// does, stops when its context ends.
func testItemsStopWithContext(t *testing.T, s storage.Store) {
	var batch []*storage.Item
	for i := range 600 {
		id := fmt.Sprintf("item%05d", i)
		batch = append(batch, &storage.Item{ID: id, Feed: "f0", Title: "عنوان " + id, Summary: "نص الخبر", Keys: []string{"url:" + id}, Cluster: id,
			Fetched: at(float64(i) / 60), Rules: []string{"libya"}})
	}
	commit(t, s, &storage.Batch{Items: batch})
	never := mustParse(t, "كلمةلاترد")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, opt := range []storage.ListOptions{{Query: never}, {Query: never, WithDuplicates: true}, {Feed: "f0", Query: never}, {Rule: "libya", Query: never}} {
		if _, err := s.Items(ctx, opt); !errors.Is(err, context.Canceled) {
			t.Errorf("Items(%s) with its context ended: error %v, want context.Canceled", describe(opt), err)
		}
	}
	if _, err := s.RuleStories(ctx, storage.ListOptions{Rule: "libya", Query: never}); !errors.Is(err, context.Canceled) {
		t.Errorf("RuleStories with its context ended: error %v, want context.Canceled", err)
	}
	// To the end, with a context that goes on.
	if got, err := s.Items(t.Context(), storage.ListOptions{Query: never}); err != nil || len(got) != 0 {
		t.Errorf("Items with a query that never matches: %d, %v", len(got), err)
	}
	if got, err := s.Items(t.Context(), storage.ListOptions{Query: mustParse(t, "الخبر"), Feed: "f0"}); err != nil || len(got) != len(batch) {
		t.Errorf("Items with a query that always matches: %d, %v; want %d", len(got), err, len(batch))
	}
}

func testRuleStories(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	if n := len(l.wantRuleStories(storage.ListOptions{Rule: "libya"})); n < 5 {
		t.Fatalf("the fixture should hold several libya stories: %d", n)
	}
	l.checkRuleStories(t)
	// Each is its story's first match, duplicate or not.
	got, err := s.RuleStories(t.Context(), storage.ListOptions{Rule: "libya"})
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, it := range got {
		if it.DuplicateOf != "" {
			dups++
		}
		if storage.IsSeedStory(it.Cluster) {
			t.Errorf("RuleStories lists %s of a seed's story", it.ID)
		}
	}
	if dups == 0 {
		t.Errorf("the libya stream holds no duplicate, though stories' first libya items are: %v", itemIDs(got))
	}
}

func testRuleStoriesPaging(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	for _, opt := range []storage.ListOptions{
		{Rule: "libya"}, {Rule: "kremlin"}, {Rule: "libya", Feed: "f1"}, {Rule: "libya", Query: mustParse(t, l.long)},
	} {
		want := l.wantRuleStories(opt)
		if len(want) < 4 {
			t.Errorf("RuleStories(%s) lists %d stories: too few to page", describe(opt), len(want))
		}
		if got := byPages(t, s, ruleStories, opt, 3, len(want)); !sameStrings(got, want) {
			t.Errorf("RuleStories(%s) by pages of 3:\n got %v\nwant %v", describe(opt), got, want)
		}
		if got := byPages(t, s, ruleStories, opt, 2, len(want)); !sameStrings(got, want) {
			t.Errorf("RuleStories(%s) by pages of 2:\n got %v\nwant %v", describe(opt), got, want)
		}
	}
}
