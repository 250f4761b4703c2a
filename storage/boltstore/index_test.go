package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

// listingStore holds stories of several sizes, items matching rules in
// stories whose first item does not, items dated out of fetch order, and
// a seed story.
func listingStore(t *testing.T) (*Bolt, string) {
	t.Helper()
	ctx := context.Background()
	s, path := storeAt(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Imported: base}}); err != nil {
		t.Fatal(err)
	}
	rulesOf := [][]string{nil, {"libya"}, {"libya", "kremlin"}, {"kremlin"}, nil, {"libya"}}
	for round := 0; round < 8; round++ {
		var items []*storage.Item
		for j := 0; j < 6; j++ {
			n := round*6 + j
			id := fmt.Sprintf("%020x", n+1)
			story := id
			if j%3 != 0 { // items 1, 2 of each three join the story of the round's first item
				story = fmt.Sprintf("%020x", round*6+1)
			}
			if n%11 == 0 {
				story = "seed:s.txt"
			}
			it := &storage.Item{ID: id, Feed: fmt.Sprint("f", j%2), Title: id, Keys: []string{"url:" + id}, Cluster: story,
				Fetched: base.Add(time.Duration(n) * time.Hour), Published: base.Add(time.Duration(n*7%13) * time.Hour), Rules: rulesOf[j]}
			if story != id {
				it.DuplicateOf = story
			}
			if n%2 == 0 { // stored deflated
				it.Summary = strings.Repeat("نص طويل يضغط ", 100)
			}
			items = append(items, it)
		}
		if _, err := s.Commit(ctx, &storage.Batch{Items: items}); err != nil {
			t.Fatal(err)
		}
	}
	return s, path
}

// wantClusters and wantRuleStories are the listings computed the slow way,
// from every story and every item.
func wantClusters(t *testing.T, s *Bolt, since time.Time, limit int) []*storage.Cluster {
	var all []*storage.Cluster
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bClusters).ForEach(func(k, _ []byte) error {
			c, err := getJSON[storage.Cluster](tx.Bucket(bClusters), k)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Updated.Before(since) {
				all = append(all, c)
			}
			return nil
		})
	})
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Size != all[j].Size {
			return all[i].Size > all[j].Size
		}
		return all[i].Updated.After(all[j].Updated)
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all
}

// wantRuleStories is export.Load's rule stream as it was before the rule
// index: every item of the rule, then each story's last one seen (newest
// first, so its first match), but a seed's story, which the desk knows.
func wantRuleStories(t *testing.T, s *Bolt, opt storage.ListOptions) []string {
	all := opt
	all.WithDuplicates, all.Limit, all.Query = true, 0, nil
	items, err := s.Items(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]*storage.Item{}
	for _, it := range items {
		first[it.Cluster] = it
	}
	var ids []string
	for _, it := range items {
		if first[it.Cluster] == it && !strings.HasPrefix(it.Cluster, "seed:") && opt.Matches(it) && (opt.Limit <= 0 || len(ids) < opt.Limit) {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

func mustParse(t *testing.T, q string) rules.Node {
	t.Helper()
	n, err := rules.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itemIDs(items []*storage.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func checkListings(t *testing.T, s *Bolt) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, since := range []time.Time{{}, base.Add(20 * time.Hour), base.Add(100 * time.Hour)} {
		for _, limit := range []int{0, 1, 3, 100} {
			got, err := s.Clusters(ctx, since, limit)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantClusters(t, s, since, limit); !reflect.DeepEqual(got, want) {
				t.Errorf("Clusters(since %v, limit %d):\n got %v\nwant %v", since, limit, clusterIDs(got), clusterIDs(want))
			}
		}
	}
	for _, since := range []time.Time{{}, base.Add(5 * time.Hour)} {
		stories := []string{"seed:s.txt", fmt.Sprintf("%020x", 7), fmt.Sprintf("%020x", 8)}
		got, err := s.StoryItems(ctx, since, stories)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := s.Items(ctx, storage.ListOptions{WithDuplicates: true, Since: since})
		for _, story := range stories {
			var want []string
			for _, it := range all {
				if it.Cluster == story {
					want = append(want, it.ID)
				}
			}
			if !reflect.DeepEqual(itemIDs(got[story]), want) {
				t.Errorf("StoryItems(%v)[%s] = %v, want %v", since, story, itemIDs(got[story]), want)
			}
		}
	}
	for _, opt := range []storage.ListOptions{{}, {WithDuplicates: true}, {Feed: "f1", WithDuplicates: true}, {Rule: "libya"}, {Rule: "libya", Feed: "f0"}, {Rule: "libya", WithDuplicates: true}, {WithDuplicates: true, Since: base.Add(5 * time.Hour)}} {
		checkPages(t, s, opt)
	}
	// A feed's items, as Items lists them, are all items' listing filtered.
	for _, opt := range []storage.ListOptions{{Feed: "f1"}, {Feed: "f0", WithDuplicates: true, Limit: 3}, {Feed: "nosuch"}, {Feed: "f1", WithDuplicates: true, Since: base.Add(10 * time.Hour)}} {
		checkFiltered(t, s, opt)
	}
	for _, rule := range []string{"libya", "kremlin", "lib", "none"} {
		long := mustParse(t, "طويل") // the even items' summary
		for _, opt := range []storage.ListOptions{{}, {Limit: 2}, {Feed: "f1"}, {Since: base.Add(9 * time.Hour)}, {Query: long}, {Query: long, Limit: 1, Feed: "f0"}} {
			opt.Rule = rule
			got, err := s.RuleStories(ctx, opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantRuleStories(t, s, opt); !reflect.DeepEqual(itemIDs(got), want) {
				t.Errorf("RuleStories(%+v) = %v, want %v", opt, itemIDs(got), want)
			}
		}
		// A rule's items, as Items lists them, are all items' listing filtered.
		for _, opt := range []storage.ListOptions{{Rule: rule}, {Rule: rule, WithDuplicates: true}, {Rule: rule, Feed: "f1", WithDuplicates: true}, {Rule: rule, Limit: 2}, {Rule: rule, Since: base.Add(6 * time.Hour), WithDuplicates: true}} {
			checkFiltered(t, s, opt)
		}
	}
}

// checkPages holds a listing read a page at a time, each page after the
// cursor of the last item of the page before, to the listing in one read.
func checkPages(t *testing.T, s *Bolt, opt storage.ListOptions) {
	t.Helper()
	ctx := context.Background()
	list := func(opt storage.ListOptions) []*storage.Item {
		list := s.Items
		if opt.Rule != "" && !opt.WithDuplicates {
			list = s.RuleStories
		}
		items, err := list(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	want := itemIDs(list(opt))
	var got []string
	page := opt
	page.Limit = 3
	for pages := 0; ; pages++ {
		items := list(page)
		got = append(got, itemIDs(items)...)
		if len(items) < page.Limit || pages > len(want) {
			break
		}
		page.Before = s.Cursor(items[len(items)-1])
	}
	if len(want) < 4 {
		t.Errorf("%+v lists %d items: too few to page", opt, len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%+v by pages of 3:\n got %v\nwant %v", opt, got, want)
	}
}

// checkFiltered holds Items(opt) to the listing without opt's rule, feed
// and limit, filtered and cut by hand.
func checkFiltered(t *testing.T, s *Bolt, opt storage.ListOptions) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Items(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	all := opt
	all.Rule, all.Feed, all.Limit = "", "", 0
	every, _ := s.Items(ctx, all)
	var want []string
	for _, it := range every {
		if (opt.Rule == "" || slices.Contains(it.Rules, opt.Rule)) && (opt.Feed == "" || it.Feed == opt.Feed) && (opt.Limit == 0 || len(want) < opt.Limit) {
			want = append(want, it.ID)
		}
	}
	if !reflect.DeepEqual(itemIDs(got), want) {
		t.Errorf("Items(%+v) = %v, want %v", opt, itemIDs(got), want)
	}
}

func clusterIDs(cs []*storage.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s/%d", c.ID, c.Size))
	}
	return out
}

// The story list and the rule streams come from indexes; they list what
// reading every story and every item lists.
func TestListingsFromIndexes(t *testing.T) {
	s, _ := listingStore(t)
	defer s.Close()
	if cs, _ := s.Clusters(context.Background(), time.Time{}, 0); len(cs) < 10 || cs[0].Size < 3 {
		t.Fatalf("the test store should hold stories of several sizes: %v", clusterIDs(cs))
	}
	if got, _ := s.RuleStories(context.Background(), storage.ListOptions{Rule: "libya"}); len(got) < 5 {
		t.Fatalf("the test store should hold several libya stories: %v", itemIDs(got))
	}
	checkListings(t, s)

	// Pruning takes the pruned items out of the rule index.
	ctx := context.Background()
	if n, err := s.Prune(ctx, time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC)); err != nil || n == 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	checkListings(t, s)
	s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bByRule, bByFeed} {
			tx.Bucket(b).ForEach(func(k, _ []byte) error {
				if tx.Bucket(bItems).Get(k[len(k)-8:]) == nil {
					t.Errorf("%s entry %q outlived its item", b, k)
				}
				return nil
			})
		}
		return nil
	})
}

// A schema 2 file has no list indexes, a schema 3 file no feed index;
// Open builds them, in several transactions.
func TestMigrateListIndexes(t *testing.T) {
	for _, from := range []uint64{2, 3} {
		t.Run(fmt.Sprint("from ", from), func(t *testing.T) {
			s, path := listingStore(t)
			gone := [][]byte{bByFeed}
			if from == 2 {
				gone = append(gone, bByRule, bStoryTime)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error {
				for _, b := range gone {
					if err := tx.DeleteBucket(b); err != nil {
						return err
					}
				}
				return tx.Bucket(bMeta).Put([]byte("schema"), u64(from))
			}); err != nil {
				t.Fatal(err)
			}
			s = reopenMigrating(t, s, path, 5)
			s.db.View(func(tx *bolt.Tx) error {
				if v := binary.BigEndian.Uint64(tx.Bucket(bMeta).Get([]byte("schema"))); v != SchemaVersion {
					t.Errorf("schema %d after the migration", v)
				}
				if n := tx.Bucket(bByRule).Stats().KeyN; n < 20 {
					t.Errorf("%d rule index entries after the migration", n)
				}
				if n, want := tx.Bucket(bByFeed).Stats().KeyN, tx.Bucket(bItems).Stats().KeyN; n != want {
					t.Errorf("%d feed index entries for %d items", n, want)
				}
				return nil
			})
			checkListings(t, s)
		})
	}
}

// A listing that reads back far, as a text query that matches nothing
// does, stops when its context ends.
func TestListingStopsWithItsContext(t *testing.T) {
	s, _ := listingStore(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The test store holds 48 items: more are needed to pass a check.
	var items []*storage.Item
	for i := 0; i < 600; i++ {
		id := fmt.Sprintf("more%016x", i)
		items = append(items, &storage.Item{ID: id, Feed: "f0", Title: id, Keys: []string{"url:" + id}, Cluster: id, Fetched: time.Now(), Rules: []string{"libya"}})
	}
	if _, err := s.Commit(context.Background(), &storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	never := mustParse(t, "كلمةلاترد")
	for _, opt := range []storage.ListOptions{{Query: never}, {Feed: "f0", Query: never}, {Rule: "libya", Query: never}} {
		if _, err := s.Items(ctx, opt); !errors.Is(err, context.Canceled) {
			t.Errorf("Items(%+v) with its context ended: %v", opt, err)
		}
	}
	if _, err := s.RuleStories(ctx, storage.ListOptions{Rule: "libya", Query: never}); !errors.Is(err, context.Canceled) {
		t.Errorf("RuleStories with its context ended: %v", err)
	}
	if got, err := s.Items(context.Background(), storage.ListOptions{Query: never}); err != nil || len(got) != 0 {
		t.Errorf("Items to the end: %d, %v", len(got), err)
	}
}
