package storagetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// fullItem is an item with every field set: a near-duplicate of story,
// matching two rules, in the +03:00 zone.
func fullItem(id, story string) *storage.Item {
	zone := time.FixedZone("+03", 3*3600)
	return &storage.Item{
		ID:      id,
		Feed:    "agency",
		GUID:    "urn:agency:" + id,
		URL:     "https://example.com/news/" + id,
		Title:   "زلزال بقوة ٦ درجات " + id,
		Content: "<p>ضرب <b>زلزال</b> المنطقة &amp; ما حولها</p>",
		Summary: "ملخص الخبر",
		Authors: []string{"مراسلنا", "وكالات"},
		Media: []storage.Media{
			{URL: "https://example.com/" + id + ".jpg", Type: "image/jpeg", Length: 34567, Image: true},
			{URL: "https://example.com/" + id + ".mp3", Type: "audio/mpeg", Length: 1 << 33},
			{URL: "https://example.com/" + id + ".pdf"},
		},
		Language:    "ar",
		Published:   t0.In(zone).Add(-90*time.Minute + 17*time.Microsecond),
		Updated:     t0.In(zone).Add(-30 * time.Minute),
		Fetched:     t0.Add(5*time.Minute + 999999*time.Microsecond),
		Keys:        []string{"guid:agency:urn:agency:" + id, "url:https://example.com/news/" + id},
		Cluster:     story,
		DuplicateOf: story,
		Similarity:  0.8734,
		Rules:       []string{"quake", "region"},
		Reason:      "near duplicate (0.873) of " + story,
		Follows:     "earlier-" + id,
		TextHash:    "texthash-" + id,
		Fingerprint: []byte{1, 2, 3, 0, 255, 4},
		Samples:     []byte{9, 8, 7},
	}
}

func testItemRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if n, err := s.ItemCount(ctx); err != nil || n != 0 {
		t.Errorf("ItemCount of a new store: %d, %v", n, err)
	}
	first := &storage.Item{ID: "first", Feed: "daily", Title: "أول", Keys: []string{"url:first"}, Cluster: "first", Fetched: t0}
	full := fullItem("full", "first")
	long := fullItem("long", "first")
	long.Keys = []string{"url:long"}
	long.Content = strings.Repeat("<p>نص طويل لمقال كامل، يكرر نفسه. </p>", 400)
	long.Summary = strings.Repeat("ملخص ", 300)
	long.Fingerprint = bytes.Repeat([]byte{5, 6, 7, 8}, 500)
	// An item with little: no optional field, no dates but when seen.
	bare := &storage.Item{ID: "bare", Feed: "portal", Keys: []string{"url:bare"}, Cluster: "bare", Fetched: t0.Add(time.Hour)}
	batch := []*storage.Item{first, full, long, bare}
	want := map[string]storage.Item{}
	for _, it := range batch {
		want[it.ID] = *it
	}
	res := commit(t, s, &storage.Batch{Items: batch})
	checkResult(t, "commit", res, []string{"first", "full", "long", "bare"}, nil)
	for _, it := range res.Stored {
		w := want[it.ID]
		w.Seq = it.Seq
		want[it.ID] = w
	}
	for _, id := range []string{"first", "full", "long", "bare"} {
		w := want[id]
		got, err := s.Item(ctx, id)
		if err != nil {
			t.Errorf("Item(%s): %v", id, err)
			continue
		}
		checkItem(t, "Item("+id+")", got, &w)
		if c, err := s.ItemCluster(ctx, id); err != nil || c != w.Cluster {
			t.Errorf("ItemCluster(%s) = %q, %v; want %q", id, c, err, w.Cluster)
		}
	}
	// A listing gives the items as Item does.
	listed, err := s.Items(ctx, storage.ListOptions{WithDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(batch) {
		t.Errorf("%d items listed, want %d", len(listed), len(batch))
	}
	for _, it := range listed {
		w := want[it.ID]
		checkItem(t, "listed "+it.ID, it, &w)
	}
	if n, err := s.ItemCount(ctx); err != nil || n != 4 {
		t.Errorf("ItemCount = %d, %v; want 4", n, err)
	}
	for _, id := range []string{"full", "long"} {
		fp, err := s.Fingerprint(ctx, id)
		if w := want[id]; err != nil || !bytes.Equal(fp, w.Fingerprint) {
			t.Errorf("Fingerprint(%s) = %v, %v; want %v", id, fp, err, w.Fingerprint)
		}
	}
}

func testItemNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	check := func(when string) {
		t.Helper()
		_, err := s.Item(ctx, "nosuch")
		wantNotFound(t, "Item(nosuch) "+when, err)
		_, err = s.ItemCluster(ctx, "nosuch")
		wantNotFound(t, "ItemCluster(nosuch) "+when, err)
		_, err = s.Fingerprint(ctx, "nosuch")
		wantNotFound(t, "Fingerprint(nosuch) "+when, err)
		_, err = s.Fingerprint(ctx, "seed:nosuch.txt")
		wantNotFound(t, "Fingerprint(seed:nosuch.txt) "+when, err)
		_, err = s.Cluster(ctx, "nosuch")
		wantNotFound(t, "Cluster(nosuch) "+when, err)
	}
	check("in a new store")
	it := fullItem("a", "a")
	it.DuplicateOf = ""
	commit(t, s, &storage.Batch{Items: []*storage.Item{it}})
	if _, err := s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Fingerprint: []byte{1}, Samples: []byte{2}}}); err != nil {
		t.Fatal(err)
	}
	check("in a store of other items")
	// Not a key, nor the start of an id, finds an item.
	for _, id := range []string{"url:https://example.com/news/a", "", "seed:s.txt"} {
		_, err := s.Item(ctx, id)
		wantNotFound(t, "Item("+id+")", err)
	}
}
