package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Three indexes answer the listings that a desk's readers and the API ask
// again and again, without decoding the history: with a million items a
// rule's stream and a feed's items read every item (a minute a request)
// and the story list every story (five seconds).
var (
	bByRule    = []byte("byrule")    // rule name | 0 | date nanos (8) | seq (8) -> story id
	bByFeed    = []byte("byfeed")    // feed name | 0 | date nanos (8) | seq (8) -> nothing
	bStoryTime = []byte("storytime") // updated nanos (8) | story id -> size (uvarint)
)

// indexKey orders a rule's or a feed's items as bytime orders all items.
func indexKey(name string, date time.Time, seq uint64) []byte {
	k := make([]byte, 0, len(name)+1+16)
	k = append(k, name...)
	k = append(k, 0)
	return append(k, timeKey(date, seq)...)
}

// timeIDKey orders by a time, then an id: stories by their last update,
// alerts by their creation. A zero time (a seed imported by a file from
// before the import time was kept) sorts first.
func timeIDKey(updated time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	if !updated.IsZero() {
		binary.BigEndian.PutUint64(k, uint64(updated.UnixNano())+(1<<63))
	}
	return append(k, id...)
}

// putCluster stores a story and keeps its place in the storytime index;
// before is the story's last update as stored, zero for a new story.
func putCluster(tx *bolt.Tx, c *Cluster, before time.Time, existed bool) error {
	st := tx.Bucket(bStoryTime)
	if existed {
		if err := st.Delete(timeIDKey(before, c.ID)); err != nil {
			return err
		}
	}
	if err := st.Put(timeIDKey(c.Updated, c.ID), binary.AppendUvarint(nil, uint64(c.Size))); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bClusters), []byte(c.ID), c)
}

// Clusters lists the stories updated since, the largest first and, of one
// size, the latest. It reads the storytime index back to since and decodes
// only the stories it returns.
func (s *Bolt) Clusters(_ context.Context, since time.Time, limit int) ([]*Cluster, error) {
	type entry struct {
		size    uint64
		updated []byte // the key's time, which orders as the time does
		id      string
	}
	before := func(a, b entry) bool { // a lists before b
		if a.size != b.size {
			return a.size > b.size
		}
		return bytes.Compare(a.updated, b.updated) > 0
	}
	var out []*Cluster
	err := s.view(func(tx *bolt.Tx) error {
		var best []entry // sorted; at most limit when limit > 0
		floor := timeIDKey(since, "")
		c := tx.Bucket(bStoryTime).Cursor()
		for k, v := c.Last(); k != nil && bytes.Compare(k[:8], floor) >= 0; k, v = c.Prev() {
			size, n := binary.Uvarint(v)
			if n <= 0 || len(k) < 8 {
				return fmt.Errorf("list stories: damaged index entry %q", k)
			}
			e := entry{size, k[:8], string(k[8:])}
			if limit <= 0 {
				best = append(best, e) // all of them: sorted once below
				continue
			}
			if len(best) == limit && !before(e, best[limit-1]) {
				continue
			}
			i := sort.Search(len(best), func(i int) bool { return before(e, best[i]) })
			best = append(best, entry{})
			copy(best[i+1:], best[i:])
			best[i] = e
			if len(best) > limit {
				best = best[:limit]
			}
		}
		if limit <= 0 {
			sort.SliceStable(best, func(i, j int) bool { return before(best[i], best[j]) })
		}
		cb := tx.Bucket(bClusters)
		for _, e := range best {
			c, err := getJSON[Cluster](cb, []byte(e.id))
			if err != nil {
				return fmt.Errorf("list stories: story %s: %w", e.id, err)
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// RuleStories lists a rule's stream: one item per story that matched the
// rule, the story's first item to match, newest first. It reads the rule's
// index entries dated since opt.Since (the story is in each) and decodes
// only the items it shows, and, with opt.Feed, the rule's items to tell
// their feed.
func (s *Bolt) RuleStories(ctx context.Context, opt ListOptions) ([]*Item, error) {
	var out []*Item
	err := s.view(func(tx *bolt.Tx) error {
		items := tx.Bucket(bItems)
		prefix := append([]byte(opt.Rule), 0)
		first := map[string][]byte{} // story -> its oldest entry's key
		c := tx.Bucket(bByRule).Cursor()
		start := prefix
		if !opt.Since.IsZero() {
			start = append(bytes.Clone(prefix), timeKey(opt.Since, 0)...)
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if _, ok := first[string(v)]; ok || bytes.HasPrefix(v, []byte("seed:")) {
				continue // a story seen, or a seed's, which raises no alert either
			}
			if opt.Feed != "" {
				it, err := getJSON[Item](items, k[len(k)-8:])
				if err != nil {
					return fmt.Errorf("list rule %s: %w", opt.Rule, err)
				}
				if it.Feed != opt.Feed {
					continue
				}
			}
			first[string(v)] = bytes.Clone(k)
		}
		// A story's place is its first match, wherever the cursor falls.
		var before []byte
		if !opt.Before.IsZero() {
			before = indexKey(opt.Rule, opt.Before.Date, opt.Before.Seq)
		}
		keys := make([][]byte, 0, len(first))
		for _, k := range first {
			if before == nil || bytes.Compare(k, before) < 0 {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) > 0 })
		// Each is its story's first match, duplicate or not, of the feed
		// and date asked for.
		shown := ListOptions{Rule: opt.Rule, WithDuplicates: true, Match: opt.Match, Limit: opt.Limit}
		var err error
		out, err = newestFirst(ctx, items, shown, func() []byte {
			if len(keys) == 0 {
				return nil
			}
			k := keys[0]
			keys = keys[1:]
			return k[len(k)-8:]
		})
		if err != nil {
			return fmt.Errorf("list rule %s: %w", opt.Rule, err)
		}
		return nil
	})
	return out, err
}

// lastBefore places c on the last key below end, and returns it.
func lastBefore(c *bolt.Cursor, end []byte) (k, v []byte) {
	if k, _ = c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// indexedItems is Items for one rule's or one feed's items, read newest
// first from the byrule or byfeed index.
func (s *Bolt) indexedItems(ctx context.Context, index []byte, name string, opt ListOptions) ([]*Item, error) {
	var out []*Item
	err := s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(name), 0)
		c := tx.Bucket(index).Cursor()
		// The last key of the name (its prefix, then the largest time),
		// or the last before the cursor.
		end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 16)...)
		if !opt.Before.IsZero() {
			end = indexKey(name, opt.Before.Date, opt.Before.Seq)
		}
		k, _ := lastBefore(c, end)
		var err error
		out, err = newestFirst(ctx, tx.Bucket(bItems), opt, func() []byte {
			if k == nil || !bytes.HasPrefix(k, prefix) {
				return nil
			}
			seq := k[len(k)-8:]
			k, _ = c.Prev()
			return seq
		})
		if err != nil {
			return fmt.Errorf("list %s %s: %w", index, name, err)
		}
		return nil
	})
	return out, err
}

// indexedFields are what the indexes need of a stored item: decoding
// only them skips building the item's text.
type indexedFields struct {
	Feed      string    `json:"feed"`
	Published time.Time `json:"published"`
	Updated   time.Time `json:"updated"`
	Fetched   time.Time `json:"fetched"`
	Cluster   string    `json:"cluster"`
	Rules     []string  `json:"rules"`
}

// migrateListIndexes builds the list indexes a file lacks: from schema 2
// all three (byrule, byfeed, storytime) in one pass over the items and one
// over the stories; from schema 3 (which had the first two) byfeed. It
// goes in transactions of migrateChunk records, noting where it is in the
// meta bucket, so that a crash resumes; the puts are the same when redone.
// With a million items it takes about a minute, once.
func (s *Bolt) migrateListIndexes(from uint64) error {
	items := indexStep{bItems, []byte("migrate.items"), func(tx *bolt.Tx, k, v []byte) error {
		f, err := decodeJSON[indexedFields](v)
		if err != nil {
			return fmt.Errorf("item %d: %w", binary.BigEndian.Uint64(k), err)
		}
		seq := binary.BigEndian.Uint64(k)
		date := (&Item{Published: f.Published, Updated: f.Updated, Fetched: f.Fetched}).Date()
		if err := tx.Bucket(bByFeed).Put(indexKey(f.Feed, date, seq), nil); err != nil {
			return err
		}
		if from >= 3 {
			return nil // the rule index is there
		}
		for _, r := range f.Rules {
			if err := tx.Bucket(bByRule).Put(indexKey(r, date, seq), []byte(f.Cluster)); err != nil {
				return err
			}
		}
		return nil
	}}
	stories := indexStep{bClusters, []byte("migrate.stories"), func(tx *bolt.Tx, k, v []byte) error {
		c, err := decodeJSON[Cluster](v)
		if err != nil {
			return fmt.Errorf("story %s: %w", k, err)
		}
		return tx.Bucket(bStoryTime).Put(timeIDKey(c.Updated, c.ID), binary.AppendUvarint(nil, uint64(c.Size)))
	}}
	steps := []indexStep{items}
	if from < 3 {
		steps = append(steps, stories)
	}
	return s.buildIndexes(steps, 4)
}

// indexStep builds an index from each entry of a bucket.
type indexStep struct {
	bucket, mark []byte // the bucket read, and where in meta the step notes how far it went
	index        func(tx *bolt.Tx, k, v []byte) error
}

// migrateFetchedIndex builds the fetched index (schema 7), which pruning
// reads instead of decoding items from the oldest. An item's first-seen
// time is in its fingerprint's record when it has one.
func (s *Bolt) migrateFetchedIndex() error {
	return s.buildIndexes([]indexStep{{bItems, []byte("migrate.fetched"), func(tx *bolt.Tx, k, v []byte) error {
		var fetched time.Time
		if p := tx.Bucket(bPrints).Get(k); len(p) >= 8 && binary.BigEndian.Uint64(p) != 0 {
			fetched = time.Unix(0, int64(binary.BigEndian.Uint64(p)))
		} else {
			it, err := decodeJSON[Item](v)
			if err != nil {
				return fmt.Errorf("item %x: %w", k, err)
			}
			fetched = it.Fetched
		}
		return tx.Bucket(bFetched).Put(timeKey(fetched, binary.BigEndian.Uint64(k)), nil)
	}}}, 7)
}

// buildIndexes runs the steps over their buckets in transactions of
// migrateChunk entries, noting in meta how far each went, so that a start
// after a crash goes on from there (the puts are the same when redone);
// then it marks the file as the schema version they lead to.
func (s *Bolt) buildIndexes(steps []indexStep, version uint64) error {
	for _, step := range steps {
		if err := s.inBatches(context.Background(), func(tx *bolt.Tx) (more bool, err error) {
			meta := tx.Bucket(bMeta)
			from := meta.Get(step.mark)
			c := tx.Bucket(step.bucket).Cursor()
			k, v := c.First()
			if from != nil {
				if k, v = c.Seek(from); k != nil && bytes.Equal(k, from) {
					k, v = c.Next()
				}
			}
			var last []byte
			for n := 0; k != nil && n < migrateChunk; k, v = c.Next() {
				if err := step.index(tx, k, v); err != nil {
					return false, err
				}
				last, n = k, n+1
			}
			// The pages read stay counted in the process's memory until
			// let go of (see unmapScanned); a write transaction writes
			// through the file, not the mapping.
			unmapScanned(s.db, tx)
			if last == nil {
				return false, nil
			}
			return true, meta.Put(step.mark, bytes.Clone(last))
		}); err != nil {
			return err
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		for _, step := range steps {
			if err := meta.Delete(step.mark); err != nil {
				return err
			}
		}
		return meta.Put([]byte("schema"), u64(version))
	})
}

// StoryItems lists, newest first, the items dated since that belong to
// the given stories. It tells an item's story from the ids bucket and
// decodes only the stories' items.
func (s *Bolt) StoryItems(_ context.Context, since time.Time, stories []string) (map[string][]*Item, error) {
	if len(stories) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, id := range stories {
		want[id] = true
	}
	out := map[string][]*Item{}
	err := s.view(func(tx *bolt.Tx) error {
		items, ids := tx.Bucket(bItems), tx.Bucket(bIDs)
		c := tx.Bucket(bByTime).Cursor()
		floor := timeKey(since, 0)
		n := 0
		for k, v := c.Last(); k != nil && (since.IsZero() || bytes.Compare(k, floor) >= 0); k, v = c.Prev() {
			if n++; n%unmapEvery == 0 {
				unmapScanned(s.db, tx)
			}
			iv := ids.Get(v)
			if iv == nil || (len(iv) > 8 && !want[string(iv[8:])]) {
				continue
			}
			it, err := getJSON[Item](items, seqOf(iv))
			if err != nil {
				return err
			}
			if want[it.Cluster] { // a file from before ids held the story: decided here
				out[it.Cluster] = append(out[it.Cluster], it)
			}
		}
		return nil
	})
	return out, err
}
