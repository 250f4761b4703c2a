package storagetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// listing is a store of 48 items in 8 batches: stories of several sizes,
// items matching rules in stories whose first item does not, items dated
// out of fetch order (many on one date), two feeds, and a seed's story.
// Its want methods work the listings out from the items committed, the
// slow way.
type listing struct {
	s     storage.Store
	base  time.Time
	items []*storage.Item // in commit order, with their Seq
	gone  map[string]bool // items pruned
	seed  *storage.Cluster
	long  string // a word of the even items' summaries
}

func newListing(t *testing.T, s storage.Store) *listing {
	t.Helper()
	ctx := t.Context()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	l := &listing{s: s, base: base, gone: map[string]bool{}, long: "طويل",
		seed: &storage.Cluster{ID: "seed:s.txt", Size: 1, Feeds: []string{"seeds"}, Title: "s.txt", First: base.Add(-time.Hour), Updated: base.Add(-time.Hour)}}
	seed := *l.seed
	if _, err := s.PutSeeds(ctx, []*storage.Seed{{Name: "s.txt", Text: "نص", Hash: "h", Imported: base, Story: &seed}}); err != nil {
		t.Fatal(err)
	}
	rulesOf := [][]string{nil, {"libya"}, {"libya", "kremlin"}, {"kremlin"}, nil, {"libya"}}
	for round := range 8 {
		var batch []*storage.Item
		for j := range 6 {
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
			if n%2 == 0 {
				it.Summary = strings.Repeat("نص طويل يضغط ", 100)
			}
			batch = append(batch, it)
		}
		res := commit(t, s, &storage.Batch{Items: batch})
		if len(res.Stored) != len(batch) {
			t.Fatalf("round %d: stored %d of %d", round, len(res.Stored), len(batch))
		}
		// The items as stored, in commit order: their Seq tells it.
		l.items = append(l.items, slices.SortedFunc(slices.Values(res.Stored), func(a, b *storage.Item) int { return cmp.Compare(a.Seq, b.Seq) })...)
	}
	return l
}

// live are the items not pruned, in commit order.
func (l *listing) live() []*storage.Item {
	var out []*storage.Item
	for _, it := range l.items {
		if !l.gone[it.ID] {
			out = append(out, it)
		}
	}
	return out
}

// prune takes out the items first seen before cutoff, as Prune does, and
// returns how many.
func (l *listing) prune(cutoff time.Time) int {
	n := 0
	for _, it := range l.live() {
		if it.Fetched.Before(cutoff) {
			l.gone[it.ID] = true
			n++
		}
	}
	return n
}

// wantItems is Items(opt): every item newest first, those opt keeps,
// dated since opt.Since, up to opt.Limit. Before is not read.
func (l *listing) wantItems(opt storage.ListOptions) []string {
	var ids []string
	for _, it := range newestFirst(l.live()) {
		if it.Date().Before(opt.Since) || !opt.Keep(it) {
			continue
		}
		if opt.Limit > 0 && len(ids) == opt.Limit {
			break
		}
		ids = append(ids, it.ID)
	}
	return ids
}

// wantRuleStories is RuleStories(opt): of the rule's items of opt.Feed
// dated since opt.Since, each story's oldest (but a seed's story's),
// newest first, those matching the query, up to opt.Limit.
func (l *listing) wantRuleStories(opt storage.ListOptions) []string {
	first := map[string]*storage.Item{}
	for _, it := range newestFirst(l.live()) { // the last one seen is the oldest
		if slices.Contains(it.Rules, opt.Rule) && (opt.Feed == "" || it.Feed == opt.Feed) &&
			!it.Date().Before(opt.Since) && !storage.IsSeedStory(it.Cluster) {
			first[it.Cluster] = it
		}
	}
	var firsts []*storage.Item
	for _, it := range first {
		firsts = append(firsts, it)
	}
	var ids []string
	for _, it := range newestFirst(firsts) {
		if !opt.Matches(it) {
			continue
		}
		if opt.Limit > 0 && len(ids) == opt.Limit {
			break
		}
		ids = append(ids, it.ID)
	}
	return ids
}

// wantStories are the stories as committed: size, outlets in order first
// seen, the first item's title and date, the last item's time seen.
// Pruning does not change a story it keeps.
func (l *listing) wantStories() map[string]*storage.Cluster {
	seed := *l.seed
	seed.Feeds = slices.Clone(seed.Feeds)
	out := map[string]*storage.Cluster{seed.ID: &seed}
	for _, it := range l.items {
		c := out[it.Cluster]
		if c == nil {
			c = &storage.Cluster{ID: it.Cluster, Title: it.Title, First: it.Date()}
			out[it.Cluster] = c
		}
		c.Size++
		if !slices.Contains(c.Feeds, it.Feed) {
			c.Feeds = append(c.Feeds, it.Feed)
		}
		c.Updated = it.Fetched
	}
	return out
}

// wantClusters is Clusters(since, limit): the stories updated since, the
// largest first, then the latest. The fixture has no two stories of one
// size updated at once.
func (l *listing) wantClusters(since time.Time, limit int) []*storage.Cluster {
	var out []*storage.Cluster
	for _, c := range l.wantStories() {
		if !c.Updated.Before(since) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *storage.Cluster) int {
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return b.Updated.Compare(a.Updated)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// wantStoryItems is StoryItems(since, stories)[story]: the story's items
// dated since, newest first.
func (l *listing) wantStoryItems(since time.Time, story string) []string {
	var ids []string
	for _, it := range newestFirst(l.live()) {
		if it.Cluster == story && !it.Date().Before(since) {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// itemOptions are the Items listings checked: every combination of the
// filters, with and without a limit.
func (l *listing) itemOptions(t *testing.T) []storage.ListOptions {
	long := mustParse(t, l.long)
	var out []storage.ListOptions
	for _, feed := range []string{"", "f0", "f1", "nosuch"} {
		for _, rule := range []string{"", "libya", "kremlin", "lib"} {
			for _, dups := range []bool{false, true} {
				for _, since := range []time.Time{{}, l.base.Add(9 * time.Hour), l.base.Add(100 * time.Hour)} {
					for _, q := range []bool{false, true} {
						for _, limit := range []int{0, 1, 4} {
							opt := storage.ListOptions{Feed: feed, Rule: rule, WithDuplicates: dups, Since: since, Limit: limit}
							if q {
								opt.Query = long
							}
							out = append(out, opt)
						}
					}
				}
			}
		}
	}
	return out
}

// ruleOptions are the RuleStories listings checked.
func (l *listing) ruleOptions(t *testing.T) []storage.ListOptions {
	long := mustParse(t, l.long)
	var out []storage.ListOptions
	for _, rule := range []string{"libya", "kremlin", "lib", "none"} {
		for _, feed := range []string{"", "f0", "f1"} {
			for _, since := range []time.Time{{}, l.base.Add(9 * time.Hour)} {
				for _, q := range []bool{false, true} {
					for _, limit := range []int{0, 1, 3} {
						opt := storage.ListOptions{Rule: rule, Feed: feed, Since: since, Limit: limit}
						if q {
							opt.Query = long
						}
						out = append(out, opt)
					}
				}
			}
		}
	}
	return out
}

// checkItems holds every Items listing of itemOptions to wantItems.
func (l *listing) checkItems(t *testing.T) {
	t.Helper()
	for _, opt := range l.itemOptions(t) {
		got, err := l.s.Items(t.Context(), opt)
		if err != nil {
			t.Errorf("Items(%s): %v", describe(opt), err)
			continue
		}
		if want := l.wantItems(opt); !sameStrings(itemIDs(got), want) {
			t.Errorf("Items(%s):\n got %v\nwant %v", describe(opt), itemIDs(got), want)
		}
	}
}

// checkRuleStories holds every RuleStories listing of ruleOptions to
// wantRuleStories.
func (l *listing) checkRuleStories(t *testing.T) {
	t.Helper()
	for _, opt := range l.ruleOptions(t) {
		got, err := l.s.RuleStories(t.Context(), opt)
		if err != nil {
			t.Errorf("RuleStories(%s): %v", describe(opt), err)
			continue
		}
		if want := l.wantRuleStories(opt); !sameStrings(itemIDs(got), want) {
			t.Errorf("RuleStories(%s):\n got %v\nwant %v", describe(opt), itemIDs(got), want)
		}
	}
}

// describe is a listing's options, short.
func describe(opt storage.ListOptions) string {
	var parts []string
	if opt.Feed != "" {
		parts = append(parts, "feed "+opt.Feed)
	}
	if opt.Rule != "" {
		parts = append(parts, "rule "+opt.Rule)
	}
	if opt.WithDuplicates {
		parts = append(parts, "with duplicates")
	}
	if !opt.Since.IsZero() {
		parts = append(parts, "since "+opt.Since.Format(time.RFC3339))
	}
	if opt.Query != nil {
		parts = append(parts, "query")
	}
	if opt.Limit > 0 {
		parts = append(parts, fmt.Sprint("limit ", opt.Limit))
	}
	if opt.Before != "" {
		parts = append(parts, "before "+opt.Before)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}
