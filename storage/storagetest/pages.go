package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// wantStoryRules is StoryRules(stories): the rules of each story's
// items, sorted, a story without any left out.
func (l *listing) wantStoryRules(stories []string) map[string][]string {
	out := map[string][]string{}
	for _, it := range l.live() {
		if !slices.Contains(stories, it.Cluster) {
			continue
		}
		for _, r := range it.Rules {
			if !slices.Contains(out[it.Cluster], r) {
				out[it.Cluster] = append(out[it.Cluster], r)
			}
		}
	}
	for _, rs := range out {
		slices.Sort(rs)
	}
	return out
}

func checkStoryRules(t *testing.T, l *listing) {
	t.Helper()
	var stories []string
	for _, it := range l.items {
		if !slices.Contains(stories, it.Cluster) {
			stories = append(stories, it.Cluster)
		}
	}
	stories = append(stories, "nosuch")
	for _, ask := range [][]string{stories, stories[:3], {fmt.Sprintf("%020x", 7)}, nil} {
		got, err := l.s.StoryRules(t.Context(), ask)
		if err != nil {
			t.Fatal(err)
		}
		want := l.wantStoryRules(ask)
		if len(got) != len(want) {
			t.Errorf("StoryRules(%d stories) gave %d stories, want %d: %v", len(ask), len(got), len(want), got)
		}
		for story, rs := range want {
			if !slices.Equal(got[story], rs) {
				t.Errorf("StoryRules[%s] = %v, want %v", story, got[story], rs)
			}
		}
	}
}

func testStoryRules(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	checkStoryRules(t, l)
}

func testFeedDays(t *testing.T, s storage.Store) {
	ctx := t.Context()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id, feed string, h float64) *storage.Item {
		return &storage.Item{ID: id, Feed: feed, Title: id, Cluster: id, Keys: []string{"url:" + id}, Fetched: day.Add(time.Duration(h * float64(time.Hour)))}
	}
	// Day 0: 2 from a, 1 from b; day 1: 3 from a (one a duplicate,
	// counted too); day 3: 1 from b. A skipped item is not counted.
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("a1", "a", 1), mk("a2", "a", 23.5), mk("b1", "b", 12)}})
	dup := mk("a4", "a", 30)
	dup.Cluster, dup.DuplicateOf = "a3", "a3"
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("a3", "a", 24), dup, mk("a5", "a", 47)}})
	again := mk("a1", "a", 50)
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{again, mk("b2", "b", 80)}})
	if len(res.Skipped) != 1 {
		t.Fatalf("the item stored before was not skipped: %d skipped", len(res.Skipped))
	}
	d := func(feed string, n, items int) storage.FeedDay {
		return storage.FeedDay{Feed: feed, Day: day.AddDate(0, 0, n), Items: items}
	}
	check := func(what string, since time.Time, want []storage.FeedDay) {
		t.Helper()
		got, err := s.FeedDays(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b storage.FeedDay) int {
			if a.Feed != b.Feed {
				return map[bool]int{true: -1, false: 1}[a.Feed < b.Feed]
			}
			return a.Day.Compare(b.Day)
		})
		if len(got) != len(want) {
			t.Errorf("%s: FeedDays(%v) = %v, want %v", what, since, got, want)
			return
		}
		for i := range got {
			if got[i].Feed != want[i].Feed || !got[i].Day.Equal(want[i].Day) || got[i].Items != want[i].Items {
				t.Errorf("%s: FeedDays(%v) = %v, want %v", what, since, got, want)
				return
			}
		}
	}
	all := []storage.FeedDay{d("a", 0, 2), d("a", 1, 3), d("b", 0, 1), d("b", 3, 1)}
	check("all", time.Time{}, all)
	check("from day 1", day.Add(30*time.Hour), []storage.FeedDay{d("a", 1, 3), d("b", 3, 1)})
	check("from day 4", day.AddDate(0, 0, 4), nil)

	// Counts outlive the items; pruning takes out the days before its
	// cutoff's, and keeps the cutoff's day whole.
	if _, err := s.Prune(ctx, day.Add(36*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("after pruning", time.Time{}, []storage.FeedDay{d("a", 1, 3), d("b", 3, 1)})
}
