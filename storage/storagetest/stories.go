package storagetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

func testClusters(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mk := func(id, feed, story string, fetched float64) *storage.Item {
		it := &storage.Item{ID: id, Feed: feed, Title: "عنوان " + id, Keys: []string{"url:" + id}, Cluster: story, Fetched: at(fetched)}
		if story != id {
			it.DuplicateOf = story
		}
		return it
	}
	a := mk("a", "f1", "a", 0)
	a.Published = at(-2) // the story's first date is its first item's Date
	batches := [][]*storage.Item{
		{a, mk("b", "f2", "a", 1), mk("h", "f1", "h", 1.5)},
		{mk("c", "f1", "a", 2), mk("e", "f1", "e", 3)},
		{mk("g", "f2", "e", 4), mk("d", "f3", "a", 5)},
		{mk("i", "f1", "h", 6), mk("j", "f4", "j", 7)},
	}
	for _, b := range batches {
		commit(t, s, &storage.Batch{Items: b})
	}
	want := map[string]*storage.Cluster{
		"a": {ID: "a", Size: 4, Feeds: []string{"f1", "f2", "f3"}, Title: "عنوان a", First: at(-2), Updated: at(5)},
		"e": {ID: "e", Size: 2, Feeds: []string{"f1", "f2"}, Title: "عنوان e", First: at(3), Updated: at(4)},
		"h": {ID: "h", Size: 2, Feeds: []string{"f1"}, Title: "عنوان h", First: at(1.5), Updated: at(6)},
		"j": {ID: "j", Size: 1, Feeds: []string{"f4"}, Title: "عنوان j", First: at(7), Updated: at(7)},
	}
	for id, w := range want {
		c, err := s.Cluster(ctx, id)
		if err != nil {
			t.Errorf("Cluster(%s): %v", id, err)
			continue
		}
		checkFields(t, "Cluster("+id+")", c, w)
	}
	for _, tc := range []struct {
		since time.Time
		limit int
		want  []string
	}{
		{time.Time{}, 0, []string{"a", "h", "e", "j"}}, // the largest first, then the latest
		{time.Time{}, 2, []string{"a", "h"}},
		{time.Time{}, 10, []string{"a", "h", "e", "j"}},
		{at(4.5), 0, []string{"a", "h", "j"}}, // e was last updated at 4
		{at(4.5), 1, []string{"a"}},
		{at(6.5), 0, []string{"j"}},
		{at(8), 0, nil},
	} {
		cs, err := s.Clusters(ctx, tc.since, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !sameStrings(clusterIDs(cs), tc.want) {
			t.Errorf("Clusters(since %v, limit %d) = %v, want %v", tc.since, tc.limit, clusterIDs(cs), tc.want)
		}
		for _, c := range cs {
			if w := want[c.ID]; w != nil {
				checkFields(t, "Clusters: "+c.ID, c, w)
			}
		}
	}
	// No item's id but a story's first names a story.
	_, err := s.Cluster(ctx, "b")
	wantNotFound(t, "Cluster(b), an item that joined a story", err)
}

func testLatestClusters(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	for _, since := range []time.Time{{}, l.base.Add(20 * time.Hour), l.base.Add(100 * time.Hour)} {
		for _, limit := range []int{0, 1, 3, 100} {
			var want []*storage.Cluster
			for _, c := range l.wantStories() {
				if !c.Updated.Before(since) {
					want = append(want, c)
				}
			}
			slices.SortFunc(want, func(a, b *storage.Cluster) int { return cmp.Or(b.Updated.Compare(a.Updated), cmp.Compare(b.ID, a.ID)) })
			if limit > 0 && len(want) > limit {
				want = want[:limit]
			}
			got, err := s.LatestClusters(t.Context(), since, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(clusterIDs(got), clusterIDs(want)) {
				t.Errorf("LatestClusters(since %v, limit %d):\n got %v\nwant %v", since, limit, clusterIDs(got), clusterIDs(want))
				continue
			}
			for i := range got {
				checkFields(t, fmt.Sprintf("LatestClusters(since %v, limit %d)[%d]", since, limit, i), got[i], want[i])
			}
		}
	}
}

func testClustersListing(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	if cs := l.wantClusters(time.Time{}, 0); len(cs) < 10 || cs[0].Size < 3 {
		t.Fatalf("the fixture should hold stories of several sizes: %v", clusterIDs(cs))
	}
	for id, w := range l.wantStories() {
		c, err := s.Cluster(t.Context(), id)
		if err != nil {
			t.Errorf("Cluster(%s): %v", id, err)
			continue
		}
		checkFields(t, "Cluster("+id+")", c, w)
	}
	checkClusterListings(t, l)
}

func checkClusterListings(t *testing.T, l *listing) {
	t.Helper()
	for _, since := range []time.Time{{}, l.base.Add(20 * time.Hour), l.base.Add(40 * time.Hour), l.base.Add(100 * time.Hour)} {
		for _, limit := range []int{0, 1, 3, 100} {
			got, err := l.s.Clusters(t.Context(), since, limit)
			if err != nil {
				t.Fatal(err)
			}
			want := l.wantClusters(since, limit)
			if !sameStrings(clusterIDs(got), clusterIDs(want)) {
				t.Errorf("Clusters(since %v, limit %d):\n got %v\nwant %v", since, limit, clusterIDs(got), clusterIDs(want))
				continue
			}
			for i := range got {
				checkFields(t, fmt.Sprintf("Clusters(since %v, limit %d)[%d]", since, limit, i), got[i], want[i])
			}
		}
	}
}

func testStoryItems(t *testing.T, s storage.Store) {
	l := newListing(t, s)
	checkStoryItems(t, l)
	got, err := s.StoryItems(t.Context(), time.Time{}, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("StoryItems of no stories: %v, %v", got, err)
	}
}

func checkStoryItems(t *testing.T, l *listing) {
	t.Helper()
	// 7 is a story of three items, 8 an item of it, 13 a story of one.
	stories := []string{"seed:s.txt", fmt.Sprintf("%020x", 7), fmt.Sprintf("%020x", 8), fmt.Sprintf("%020x", 19), fmt.Sprintf("%020x", 13), "nosuch"}
	for _, since := range []time.Time{{}, l.base.Add(5 * time.Hour), l.base.Add(300 * time.Hour)} {
		got, err := l.s.StoryItems(t.Context(), since, stories)
		if err != nil {
			t.Fatal(err)
		}
		for story, items := range got {
			if !slices.Contains(stories, story) {
				t.Errorf("StoryItems(%v) gave story %s, not asked for", since, story)
			}
			for _, it := range items {
				if it.Cluster != story {
					t.Errorf("StoryItems(%v)[%s] holds %s of story %s", since, story, it.ID, it.Cluster)
				}
			}
		}
		for _, story := range stories {
			if want := l.wantStoryItems(since, story); !sameStrings(itemIDs(got[story]), want) {
				t.Errorf("StoryItems(%v)[%s] = %v, want %v", since, story, itemIDs(got[story]), want)
			}
		}
	}
}

func withRules(it *storage.Item, rules ...string) *storage.Item {
	it.Rules = rules
	return it
}

func testSplitItem(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mk := func(id, feed, cluster, dupOf string, h float64) *storage.Item {
		return &storage.Item{ID: id, Feed: feed, Title: id, Cluster: cluster, DuplicateOf: dupOf, Rules: []string{"quake"},
			Keys: []string{"url:" + id}, Published: at(h), Fetched: at(h), Similarity: 0.9, Reason: "near"}
	}
	batch := []*storage.Item{
		mk("report", "agency", "report", "", 0),
		mk("copy1", "daily", "report", "report", 1),
		mk("copy2", "daily", "report", "report", 2),
		withRules(mk("copy3", "portal", "report", "report", 3), "quake", "tsunami"),
		mk("update", "agency", "update", "", 24),
		mk("reaction", "portal", "reaction", "", 30),
	}
	var seq3 uint64
	for _, it := range batch {
		res := commit(t, s, &storage.Batch{Items: []*storage.Item{it},
			Alerts: []*storage.Alert{{ID: "al-" + it.Cluster, Rule: "quake", Channel: "log", ItemID: it.ID, Cluster: it.Cluster, State: storage.AlertDelivered, Created: it.Fetched}}})
		if len(res.Stored) == 1 && it.ID == "copy3" {
			seq3 = res.Stored[0].Seq
		}
	}
	if seq3 == 0 {
		t.Fatal("copy3 was not stored")
	}
	// An alert already queued (one of the story's, say) is kept as it was.
	kept, err := s.Alert(ctx, "al-report")
	if err != nil {
		t.Fatal(err)
	}
	keptWant := *kept

	// The desk splits copy3 (the story's only portal item) off.
	it, err := s.Item(ctx, "copy3")
	if err != nil {
		t.Fatal(err)
	}
	it.Cluster, it.DuplicateOf, it.Similarity, it.Reason = it.ID, "", 0, "the desk"
	it.Rules = []string{"quake"} // matched again as a story of its own
	want := *it
	alert := &storage.Alert{ID: "al_split", Rule: "quake", Channel: "log", ItemID: it.ID, Cluster: it.ID, State: storage.AlertPending, Created: at(40)}
	alertWant := *alert
	again := &storage.Alert{ID: "al-report", Rule: "quake", Channel: "log", ItemID: it.ID, Cluster: it.ID, State: storage.AlertPending, Created: at(40)}
	if err := s.SplitItem(ctx, it, []*storage.Alert{alert, again}); err != nil {
		t.Fatal(err)
	}

	report, err := s.Cluster(ctx, "report")
	if err != nil {
		t.Fatal(err)
	}
	if report.Size != 3 || !sameStrings(report.Feeds, []string{"agency", "daily"}) || report.Title != "report" {
		t.Errorf("the report's story after the split: size %d, feeds %v, title %q; want 3, [agency daily], report", report.Size, report.Feeds, report.Title)
	}
	split, err := s.Cluster(ctx, "copy3")
	if err != nil {
		t.Fatalf("the split story: %v", err)
	}
	checkFields(t, "the split story", split, &storage.Cluster{ID: "copy3", Size: 1, Feeds: []string{"portal"}, Title: "copy3", First: at(3), Updated: at(3)})
	if c, err := s.ItemCluster(ctx, "copy3"); err != nil || c != "copy3" {
		t.Errorf("ItemCluster(copy3) = %q, %v", c, err)
	}
	got, err := s.Item(ctx, "copy3")
	if err != nil {
		t.Fatal(err)
	}
	want.Seq = seq3 // the same place in the listings
	checkItem(t, "the split item", got, &want)
	if a, err := s.Alert(ctx, "al_split"); err != nil {
		t.Errorf("the split's alert: %v", err)
	} else {
		checkFields(t, "the split's alert", a, &alertWant)
	}
	if a, err := s.Alert(ctx, "al-report"); err != nil {
		t.Errorf("the alert queued before: %v", err)
	} else {
		checkFields(t, "the alert queued before", a, &keptWant)
	}
	if as, err := s.Alerts(ctx, storage.AlertPending); err != nil || !sameStrings(alertIDs(as), []string{"al_split"}) {
		t.Errorf("pending alerts after the split: %v, %v", alertIDs(as), err)
	}

	// The listings hold the split story.
	rs, err := s.RuleStories(ctx, storage.ListOptions{Rule: "quake"})
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(itemIDs(rs), []string{"reaction", "update", "copy3", "report"}) {
		t.Errorf("the rule's stream: %v, want [reaction update copy3 report]", itemIDs(rs))
	}
	if ts, err := s.RuleStories(ctx, storage.ListOptions{Rule: "tsunami"}); err != nil || len(ts) != 0 {
		t.Errorf("the stream of a rule the split item no longer matches: %v, %v", itemIDs(ts), err)
	}
	all, err := s.Items(ctx, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(itemIDs(all), []string{"reaction", "update", "copy3", "report"}) {
		t.Errorf("the items listed, no longer a duplicate: %v, want [reaction update copy3 report]", itemIDs(all))
	}
	si, err := s.StoryItems(ctx, time.Time{}, []string{"report", "copy3"})
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(itemIDs(si["report"]), []string{"copy2", "copy1", "report"}) || !sameStrings(itemIDs(si["copy3"]), []string{"copy3"}) {
		t.Errorf("the stories' items: report %v, copy3 %v", itemIDs(si["report"]), itemIDs(si["copy3"]))
	}
	// The rule only the split item matched leaves the story with it,
	// and one it no longer matches goes.
	if sr, err := s.StoryRules(ctx, []string{"report", "copy3"}); err != nil || !slices.Equal(sr["report"], []string{"quake"}) || !slices.Equal(sr["copy3"], []string{"quake"}) {
		t.Errorf("the stories' rules after the split: %v, %v", sr, err)
	}
	if n, err := s.ItemCount(ctx); err != nil || n != len(batch) {
		t.Errorf("ItemCount after the split: %d, %v", n, err)
	}

	err = s.SplitItem(ctx, &storage.Item{ID: "nope", Feed: "f", Cluster: "nope", Keys: []string{"url:nope"}, Fetched: at(1)}, nil)
	wantNotFound(t, "splitting an unknown item", err)
	_, err = s.Item(ctx, "nope")
	wantNotFound(t, "the unknown item after a split", err)
	_, err = s.Cluster(ctx, "nope")
	wantNotFound(t, "the unknown item's story after a split", err)
}
