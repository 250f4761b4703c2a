package storagetest

import (
	"slices"
	"testing"

	"github.com/raqib/raqib/storage"
)

// plainItem is a story's first item, first seen at hour h.
func plainItem(id string, h float64, keys ...string) *storage.Item {
	return &storage.Item{ID: id, Feed: "f", Title: "عنوان " + id, Keys: keys, Cluster: id, Fetched: at(h)}
}

// checkResult holds a commit's result to the items it should have stored
// and skipped (in any order).
func checkResult(t *testing.T, what string, res *storage.CommitResult, stored, skipped []string) {
	t.Helper()
	if got := sorted(itemIDs(res.Stored)); !sameStrings(got, sorted(stored)) {
		t.Errorf("%s: stored %v, want %v", what, got, sorted(stored))
	}
	if got := sorted(itemIDs(res.Skipped)); !sameStrings(got, sorted(skipped)) {
		t.Errorf("%s: skipped %v, want %v", what, got, sorted(skipped))
	}
	for _, it := range res.Stored {
		if it.Seq == 0 {
			t.Errorf("%s: stored item %s has no Seq", what, it.ID)
		}
	}
}

func testCommitSeqAndSkips(t *testing.T, s storage.Store) {
	ctx := t.Context()
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{plainItem("a", 0, "url:a"), plainItem("b", 0, "url:b", "guid:b")}})
	checkResult(t, "first batch", res, []string{"a", "b"}, nil)
	seq := map[string]uint64{}
	for _, it := range res.Stored {
		seq[it.ID] = it.Seq
	}
	if !(seq["a"] > 0 && seq["b"] > seq["a"]) {
		t.Errorf("sequence numbers a %d, b %d: want 0 < a < b", seq["a"], seq["b"])
	}

	// A known key skips an item, whatever its other keys; so does a known
	// id; and so do a key or an id stored earlier in the same batch.
	res = commit(t, s, &storage.Batch{Items: []*storage.Item{
		plainItem("b2", 1, "guid:f:9", "url:b"), // b under a key it also has
		plainItem("c", 1, "url:c"),
		plainItem("a", 1, "url:a-elsewhere"), // a known id under a new key
		plainItem("e", 1, "url:e"),
		plainItem("e2", 1, "url:e2", "url:e"), // e, in the same batch
		plainItem("g", 1, "url:g"),
		plainItem("g", 1, "url:g-other"), // g's id again, in the same batch
	}})
	checkResult(t, "second batch", res, []string{"c", "e", "g"}, []string{"b2", "a", "e2", "g"})
	for _, it := range res.Stored {
		seq[it.ID] = it.Seq
	}
	if !(seq["c"] > seq["b"] && seq["e"] > seq["c"] && seq["g"] > seq["e"]) {
		t.Errorf("sequence numbers b %d, c %d, e %d, g %d: want them increasing in commit order", seq["b"], seq["c"], seq["e"], seq["g"])
	}

	if n, err := s.ItemCount(ctx); err != nil || n != 5 {
		t.Errorf("ItemCount = %d, %v; want 5", n, err)
	}
	all, err := s.Items(ctx, storage.ListOptions{WithDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(itemIDs(all)); !slices.Equal(got, []string{"a", "b", "c", "e", "g"}) {
		t.Errorf("items listed: %v", got)
	}
	// A skipped item's keys are not stored, and the stored item stays as
	// it was.
	for _, k := range []string{"guid:f:9", "url:a-elsewhere", "url:e2", "url:g-other"} {
		if id, err := s.LookupKeys(ctx, []string{k}); err != nil || id != "" {
			t.Errorf("LookupKeys(%s), a skipped item's key: %q, %v", k, id, err)
		}
	}
	for _, w := range []*storage.Item{plainItem("a", 0, "url:a"), plainItem("b", 0, "url:b", "guid:b"), plainItem("g", 1, "url:g")} {
		it, err := s.Item(ctx, w.ID)
		if err != nil {
			t.Errorf("Item(%s): %v", w.ID, err)
			continue
		}
		w.Seq = seq[w.ID]
		checkItem(t, "Item("+w.ID+")", it, w)
	}
}

func testCommitFeedState(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// The pipeline passes the state it read, Items as stored: the commit
	// adds the items it stored.
	feed := fullFeed("agency", 0)
	feed.Items = 10
	want := *feed
	want.Items = 12
	res := commit(t, s, &storage.Batch{Feed: feed, Items: []*storage.Item{plainItem("x", 0, "url:x"), plainItem("y", 0, "url:y"), plainItem("y2", 0, "url:y")}})
	checkResult(t, "first batch", res, []string{"x", "y"}, []string{"y2"})
	got, err := s.Feed(ctx, "agency")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "the feed after a batch of 2 new items", got, &want)

	next := want
	next.ETag, next.LastStatus, next.Polls = `"2"`, 200, want.Polls+1
	want = next
	want.Items = 13
	commit(t, s, &storage.Batch{Feed: &next, Items: []*storage.Item{plainItem("x", 1, "url:x"), plainItem("z", 1, "url:z")}})
	got, err = s.Feed(ctx, "agency")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "the feed after a batch of 1 new item, 1 known", got, &want)

	// A batch of known items still saves the feed's state.
	next = want
	next.LastStatus, next.LastError, next.Failures = 304, "", 0
	want = next
	commit(t, s, &storage.Batch{Feed: &next, Items: []*storage.Item{plainItem("z", 2, "url:z")}})
	got, err = s.Feed(ctx, "agency")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "the feed after a batch of known items", got, &want)

	// A batch without a feed state saves none.
	commit(t, s, &storage.Batch{Items: []*storage.Item{plainItem("w", 2, "url:w")}})
	fs, err := s.Feeds(ctx)
	if err != nil || len(fs) != 1 {
		t.Errorf("feeds after a batch without a feed: %d, %v", len(fs), err)
	}
}

func testLookupKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	lookup := func(keys ...string) string {
		t.Helper()
		id, err := s.LookupKeys(ctx, keys)
		if err != nil {
			t.Fatalf("LookupKeys(%v): %v", keys, err)
		}
		return id
	}
	if id := lookup("url:a"); id != "" {
		t.Errorf("LookupKeys in a new store: %q", id)
	}
	a := plainItem("a", 0, "guid:f:1", "url:https://example.com/a", "hash:123")
	a.TextHash = "th-a"
	b := plainItem("b", 0, "url:https://example.com/b")
	commit(t, s, &storage.Batch{Items: []*storage.Item{a, b}})
	for _, k := range a.Keys {
		if id := lookup(k); id != "a" {
			t.Errorf("LookupKeys(%s) = %q, want a", k, id)
		}
	}
	for keys, want := range map[string][]string{
		"b": {"url:nosuch", "url:https://example.com/b"},
		"a": {"guid:f:nosuch", "hash:123", "url:nosuch"},
		"":  {"url:nosuch", "guid:f:2", "url:https://example.com/"},
	} {
		if id := lookup(want...); id != keys {
			t.Errorf("LookupKeys(%v) = %q, want %q", want, id, keys)
		}
	}
	if id := lookup(); id != "" {
		t.Errorf("LookupKeys of no keys: %q", id)
	}
	if id := lookup("text:th-a"); id != "a" {
		t.Errorf(`LookupKeys("text:th-a") = %q, want a`, id)
	}
	if id := lookup("th-a"); id != "" {
		t.Errorf(`LookupKeys("th-a"), a text hash without "text:": %q`, id)
	}
	if id := lookup("text:"); id != "" {
		t.Errorf(`LookupKeys("text:"), b having no text hash: %q`, id)
	}

	// An exact copy of a's text, under its own keys, is a new item: it is
	// stored, and the text still leads to a stored item with it.
	c := plainItem("c", 1, "url:https://example.com/c")
	c.TextHash, c.Cluster, c.DuplicateOf = "th-a", "a", "a"
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{c}})
	checkResult(t, "an exact copy of a stored text", res, []string{"c"}, nil)
	if id := lookup("text:th-a"); id != "a" && id != "c" {
		t.Errorf(`LookupKeys("text:th-a") after its copy = %q, want a (or c)`, id)
	}
	if id := lookup("url:https://example.com/c"); id != "c" {
		t.Errorf("LookupKeys of the copy's key: %q", id)
	}
}

func testCommitAlerts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := &storage.Alert{ID: "al-a", Rule: "quake", Channel: "email", ItemID: "a", Cluster: "a", State: storage.AlertPending,
		Attempts: 2, NextTry: at(1), LastError: "451 try later", Created: at(0), Delivered: at(3), Digest: at(4), Batch: "digest-1"}
	want := *full
	commit(t, s, &storage.Batch{Items: []*storage.Item{plainItem("a", 0, "url:a")}, Alerts: []*storage.Alert{
		full,
		{ID: "al-x", Rule: "quake", Channel: "log", ItemID: "x", Cluster: "x", State: storage.AlertPending, Created: at(0)}, // x is not in the batch
	}})
	got, err := s.Alert(ctx, "al-a")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "the alert of a stored item", got, &want)
	_, err = s.Alert(ctx, "al-x")
	wantNotFound(t, "the alert of an item not in the batch", err)

	// The next batch: a again (skipped), b and c of one story. An alert of
	// a skipped item is not stored; an alert whose id is stored already
	// does not replace it, nor does the second of one id in a batch.
	mkAlert := func(id, item string) *storage.Alert {
		return &storage.Alert{ID: id, Rule: "quake", Channel: "log", ItemID: item, Cluster: "b", State: storage.AlertPending, Created: at(1)}
	}
	b, c := plainItem("b", 1, "url:b"), plainItem("c", 1, "url:c")
	c.Cluster, c.DuplicateOf = "b", "b"
	firstOfID := mkAlert("al-b", "b")
	wantB := *firstOfID
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{plainItem("a", 1, "url:a"), b, c}, Alerts: []*storage.Alert{
		mkAlert("al-a2", "a"),
		mkAlert("al-a", "b"),
		firstOfID,
		mkAlert("al-b", "c"),
	}})
	checkResult(t, "second batch", res, []string{"b", "c"}, []string{"a"})
	_, err = s.Alert(ctx, "al-a2")
	wantNotFound(t, "the alert of a skipped item", err)
	if got, err := s.Alert(ctx, "al-a"); err != nil {
		t.Error(err)
	} else {
		checkFields(t, "an alert whose id came again", got, &want)
	}
	if got, err := s.Alert(ctx, "al-b"); err != nil {
		t.Error(err)
	} else {
		checkFields(t, "the first of two alerts of one id in a batch", got, &wantB)
	}
	all, err := s.Alerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(alertIDs(all)); !slices.Equal(got, []string{"al-a", "al-b"}) {
		t.Errorf("alerts stored: %v, want al-a and al-b once each", got)
	}
}

func testCommitDevelopments(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mk := func(id, feed, cluster, dupOf, follows string, h float64) *storage.Item {
		return &storage.Item{ID: id, Feed: feed, Title: id, Cluster: cluster, DuplicateOf: dupOf, Follows: follows,
			Keys: []string{"url:" + id}, Published: at(h), Fetched: at(h)}
	}
	// The pipeline decides the threads; the store records them.
	steps := []struct {
		it     *storage.Item
		thread string
	}{
		{mk("report", "agency", "report", "", "", 0), ""},
		{mk("copy1", "daily", "report", "report", "", 1), ""},
		{mk("copy2", "daily", "report", "report", "", 2), ""},
		{mk("copy3", "portal", "report", "report", "", 3), ""},
		{mk("other", "portal", "other", "", "", 4), ""},
		{mk("update", "agency", "update", "", "copy2", 24), "report"}, // follows a copy: in the report's thread
		{mk("reaction", "portal", "reaction", "", "update", 30), "report"},
	}
	for _, st := range steps {
		b := &storage.Batch{Items: []*storage.Item{st.it}}
		if st.thread != "" {
			b.Developments = []storage.Development{{Story: st.it.ID, Thread: st.thread}}
		}
		commit(t, s, b)
	}
	cluster := func(id string) *storage.Cluster {
		t.Helper()
		c, err := s.Cluster(ctx, id)
		if err != nil {
			t.Fatalf("Cluster(%s): %v", id, err)
		}
		return c
	}
	// A development whose item is skipped (known already) records nothing;
	// nor does one of a story the batch did not store.
	again := mk("update", "agency", "update", "", "copy2", 24)
	res := commit(t, s, &storage.Batch{Items: []*storage.Item{again, mk("unrelated", "daily", "unrelated", "", "", 31)},
		Developments: []storage.Development{{Story: "update", Thread: "other"}, {Story: "copy3", Thread: "other"}}})
	checkResult(t, "the batch of a known development", res, []string{"unrelated"}, []string{"update"})
	if c := cluster("update"); c.Follows != "report" {
		t.Errorf("a skipped item's development was recorded: the update follows %q", c.Follows)
	}
	if c := cluster("other"); len(c.Developments) != 0 {
		t.Errorf("developments recorded for stories the batch did not store: %v", c.Developments)
	}
	// One development named twice in a batch is listed once.
	commit(t, s, &storage.Batch{Items: []*storage.Item{mk("sequel", "daily", "sequel", "", "reaction", 40)},
		Developments: []storage.Development{{Story: "sequel", Thread: "report"}, {Story: "sequel", Thread: "report"}}})

	report := cluster("report")
	if !sameStrings(report.Developments, []string{"update", "reaction", "sequel"}) || report.Size != 4 || report.Follows != "" {
		t.Errorf("the report's story: size %d, follows %q, developments %v; want 4, none, [update reaction sequel]", report.Size, report.Follows, report.Developments)
	}
	for _, id := range []string{"update", "reaction", "sequel"} {
		if c := cluster(id); c.Follows != "report" || c.Size != 1 || len(c.Developments) != 0 {
			t.Errorf("development %s: follows %q (want the thread's first story, report), size %d, developments %v", id, c.Follows, c.Size, c.Developments)
		}
	}
	for _, id := range []string{"other", "unrelated"} {
		if c := cluster(id); c.Follows != "" {
			t.Errorf("story %s follows %q", id, c.Follows)
		}
	}
	// The items are stored as the pipeline gave them.
	if it, err := s.Item(ctx, "update"); err != nil || it.Follows != "copy2" {
		t.Errorf("the update: %+v, %v", it, err)
	}
}
