package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

func seedOf(name, hash string, fp byte) *storage.Seed {
	sd := &storage.Seed{Name: name, Date: at(-48), Text: "نص البذرة " + name, Hash: hash, Imported: at(-1).Add(7 * time.Microsecond),
		Fingerprint: []byte{1, fp, 0, 0}, Samples: []byte{2, fp}}
	sd.Story = &storage.Cluster{ID: sd.ID(), Size: 1, Feeds: []string{"seeds"}, Title: name, First: sd.Date, Updated: sd.Imported}
	return sd
}

func testSeeds(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if sds, err := s.Seeds(ctx); err != nil || len(sds) != 0 {
		t.Errorf("a new store's seeds: %d, %v", len(sds), err)
	}
	a, b := seedOf("a.txt", "h1", 1), seedOf("b.txt", "h2", 2)
	wantA := *a
	storyA, storyB := *a.Story, *b.Story
	put := func(what string, want int, seeds ...*storage.Seed) {
		t.Helper()
		n, err := s.PutSeeds(ctx, seeds)
		if err != nil || n != want {
			t.Errorf("PutSeeds, %s: %d, %v; want %d", what, n, err, want)
		}
	}
	put("the first import", 2, a, b)
	put("the same again", 0, seedOf("a.txt", "h1", 1), seedOf("b.txt", "h2", 2))
	put("none", 0)

	// The file b.txt was edited, c.txt is new.
	b2, c := seedOf("b.txt", "h3", 3), seedOf("c.txt", "h4", 4)
	b2.Text = "نص معدل"
	b2.Story = &storage.Cluster{ID: "seed:b.txt", Size: 9, Feeds: []string{"edited"}, Title: "edited"} // the story is stored the first time only
	wantB2, wantC, storyC := *b2, *c, *c.Story
	put("an edited seed and a new one", 2, seedOf("a.txt", "h1", 1), b2, c)

	want := map[string]*storage.Seed{"a.txt": &wantA, "b.txt": &wantB2, "c.txt": &wantC}
	for name, w := range want {
		got, err := s.Seed(ctx, name)
		if err != nil {
			t.Errorf("Seed(%s): %v", name, err)
			continue
		}
		checkFields(t, "Seed("+name+")", got, w, seedSkip...)
		fp, err := s.Fingerprint(ctx, w.ID())
		if err != nil || !bytes.Equal(fp, w.Fingerprint) {
			t.Errorf("Fingerprint(%s) = %v, %v; want %v", w.ID(), fp, err, w.Fingerprint)
		}
	}
	all, err := s.Seeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sd := range all {
		names = append(names, sd.Name)
		if w := want[sd.Name]; w != nil {
			checkFields(t, "Seeds: "+sd.Name, sd, w, seedSkip...)
		}
	}
	if !slices.Equal(sorted(names), []string{"a.txt", "b.txt", "c.txt"}) {
		t.Errorf("Seeds lists %v", names)
	}

	for id, w := range map[string]*storage.Cluster{"seed:a.txt": &storyA, "seed:b.txt": &storyB, "seed:c.txt": &storyC} {
		c, err := s.Cluster(ctx, id)
		if err != nil {
			t.Errorf("Cluster(%s): %v", id, err)
			continue
		}
		checkFields(t, "the story of "+id, c, w)
	}
	_, err = s.Seed(ctx, "nosuch.txt")
	wantNotFound(t, "Seed(nosuch.txt)", err)
	_, err = s.Seed(ctx, "seed:a.txt")
	wantNotFound(t, "Seed(seed:a.txt), a seed's id for its name", err)
}

// fpItem is an item first seen at hour h, with a fingerprint and samples
// of its own.
func fpItem(id, story string, h float64, fp byte) *storage.Item {
	it := &storage.Item{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: story, Fetched: at(h), Published: at(h - 1),
		Fingerprint: []byte{3, fp, 3}, Samples: []byte{4, fp}}
	if story != id {
		it.DuplicateOf = story
	}
	return it
}

func testFingerprints(t *testing.T, s storage.Store) {
	ctx := t.Context()
	seeds := []*storage.Seed{seedOf("a.txt", "h1", 1), seedOf("b.txt", "h2", 2)}
	if _, err := s.PutSeeds(ctx, seeds); err != nil {
		t.Fatal(err)
	}
	var items []*storage.Item
	for i := range 5 {
		items = append(items, fpItem(fmt.Sprint("i", i), fmt.Sprint("i", i), float64(i), byte(10+i)))
	}
	items[3].Cluster, items[3].DuplicateOf = "i1", "i1" // a duplicate is a document too
	items[4].Cluster, items[4].DuplicateOf = "seed:a.txt", "seed:a.txt"
	commit(t, s, &storage.Batch{Items: items[:2]})
	commit(t, s, &storage.Batch{Items: items[2:]})

	type doc struct {
		date time.Time
		data []byte
		n    int
	}
	read := func(since time.Time) map[string]*doc {
		t.Helper()
		got := map[string]*doc{}
		err := s.Fingerprints(ctx, since, func(f storage.Fingerprint) error {
			id := string(f.DocID) // valid during the call only
			if d := got[id]; d != nil {
				d.n++
				return nil
			}
			got[id] = &doc{date: f.Date, data: bytes.Clone(f.Data), n: 1}
			return nil
		})
		if err != nil {
			t.Fatalf("Fingerprints(%v): %v", since, err)
		}
		return got
	}
	for _, tc := range []struct {
		since time.Time
		items []*storage.Item
	}{
		{time.Time{}, items},
		{at(2.5), items[3:]},
		{at(100), nil},
	} {
		got := read(tc.since)
		want := map[string][]byte{}
		for _, sd := range seeds { // seeds, whatever their date
			want[sd.ID()] = sd.Samples
		}
		for _, it := range tc.items {
			want[it.ID] = it.Samples
		}
		for id, d := range got {
			w, ok := want[id]
			switch {
			case !ok:
				t.Errorf("Fingerprints(%v) gave %s", tc.since, id)
			case d.n != 1:
				t.Errorf("Fingerprints(%v) gave %s %d times", tc.since, id, d.n)
			case !bytes.Equal(d.data, w):
				t.Errorf("Fingerprints(%v)[%s] = %v, want its samples %v", tc.since, id, d.data, w)
			}
		}
		for id := range want {
			if got[id] == nil {
				t.Errorf("Fingerprints(%v) left out %s", tc.since, id)
			}
		}
		// An item's date is when it was first seen: the dedup window
		// counts from it.
		for _, it := range tc.items {
			if d := got[it.ID]; d != nil && !d.date.Equal(it.Fetched) {
				t.Errorf("Fingerprints(%v)[%s] dated %v, want %v (when it was first seen)", tc.since, it.ID, d.date, it.Fetched)
			}
		}
	}
	for _, it := range items {
		if fp, err := s.Fingerprint(ctx, it.ID); err != nil || !bytes.Equal(fp, it.Fingerprint) {
			t.Errorf("Fingerprint(%s) = %v, %v; want %v", it.ID, fp, err, it.Fingerprint)
		}
	}

	// The callback's error ends the listing, and is its error.
	boom := errors.New("boom")
	calls := 0
	err := s.Fingerprints(ctx, time.Time{}, func(storage.Fingerprint) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("Fingerprints with a failing callback: %v after %d calls; want boom after 1", err, calls)
	}
	calls = 0
	err = s.Fingerprints(ctx, time.Time{}, func(storage.Fingerprint) error { calls++; return storage.ErrStop })
	if err != nil && !errors.Is(err, storage.ErrStop) || calls != 1 {
		t.Errorf("Fingerprints stopped: %v after %d calls; want it to stop after 1", err, calls)
	}
}

func testRecentFingerprints(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if _, err := s.PutSeeds(ctx, []*storage.Seed{seedOf("a.txt", "h1", 99)}); err != nil {
		t.Fatal(err)
	}
	items := []*storage.Item{
		fpItem("s1", "s1", 0, 1),
		fpItem("d1", "s1", 1, 2),         // a duplicate
		fpItem("c1", "seed:a.txt", 2, 3), // a copy of a seed
		fpItem("s2", "s2", 3, 4),         //
		fpItem("s3", "s3", 4, 5),         //
		fpItem("d3", "s3", 5, 6),         // a duplicate
		{ID: "s4", Feed: "f", Title: "s4", Keys: []string{"url:s4"}, Cluster: "s4", Fetched: at(6)}, // no fingerprint
	}
	commit(t, s, &storage.Batch{Items: items[:3]})
	commit(t, s, &storage.Batch{Items: items[3:]})
	read := func(stopAfter int) ([][]byte, error) {
		var got [][]byte
		err := s.RecentFingerprints(ctx, func(data []byte) error {
			got = append(got, bytes.Clone(data)) // valid during the call only
			if len(got) == stopAfter {
				return storage.ErrStop
			}
			return nil
		})
		return got, err
	}
	want := [][]byte{items[4].Fingerprint, items[3].Fingerprint, items[0].Fingerprint} // s3, s2, s1: newest first
	got, err := read(0)
	if err != nil || !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("RecentFingerprints: %v, %v; want %v", got, err, want)
	}
	got, err = read(2)
	if err != nil || !slices.EqualFunc(got, want[:2], bytes.Equal) {
		t.Errorf("RecentFingerprints stopped after 2: %v, %v; want %v and no error", got, err, want[:2])
	}
	boom := errors.New("boom")
	calls := 0
	err = s.RecentFingerprints(ctx, func([]byte) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("RecentFingerprints with a failing callback: %v after %d calls; want boom after 1", err, calls)
	}

	// A duplicate the desk splits off starts a story.
	d1, err := s.Item(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	d1.Cluster, d1.DuplicateOf = d1.ID, ""
	if err := s.SplitItem(ctx, d1, nil); err != nil {
		t.Fatal(err)
	}
	want = [][]byte{items[4].Fingerprint, items[3].Fingerprint, items[1].Fingerprint, items[0].Fingerprint}
	if got, err := read(0); err != nil || !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("RecentFingerprints after a split: %v, %v; want %v", got, err, want)
	}
}
