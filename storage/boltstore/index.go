package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/raqib/raqib/storage"
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
	bStorySize = []byte("storysize") // ^size (4) | updated nanos (8) | story id -> nothing
)

// sizeKey orders stories the largest first, then as the storytime index
// (its key, timeID) does.
func sizeKey(size uint64, timeID []byte) []byte {
	k := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(timeID)), ^uint32(min(size, 1<<32-1)))
	return append(k, timeID...)
}

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
func putCluster(tx *bolt.Tx, c *storage.Cluster, before time.Time, existed bool) error {
	st, sz := tx.Bucket(bStoryTime), tx.Bucket(bStorySize)
	if existed {
		if v := st.Get(timeIDKey(before, c.ID)); v != nil {
			size, _ := binary.Uvarint(v)
			if err := sz.Delete(sizeKey(size, timeIDKey(before, c.ID))); err != nil {
				return err
			}
		}
		if err := st.Delete(timeIDKey(before, c.ID)); err != nil {
			return err
		}
	}
	if err := st.Put(timeIDKey(c.Updated, c.ID), binary.AppendUvarint(nil, uint64(c.Size))); err != nil {
		return err
	}
	if err := sz.Put(sizeKey(uint64(c.Size), timeIDKey(c.Updated, c.ID)), nil); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bClusters), []byte(c.ID), c)
}

// Clusters lists the stories updated since, the largest first and, of one
// size, the latest. It reads the storysize index a size at a time, each
// from its latest story back to since, and decodes only the stories it
// returns.
func (s *Bolt) Clusters(_ context.Context, since time.Time, limit int) ([]*storage.Cluster, error) {
	var out []*storage.Cluster
	err := s.view(func(tx *bolt.Tx) error {
		floor := timeIDKey(since, "")[:8]
		cb := tx.Bucket(bClusters)
		c := tx.Bucket(bStorySize).Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(out) < limit); {
			if len(k) < 12 {
				return fmt.Errorf("list stories: damaged index entry %q", k)
			}
			size := binary.BigEndian.Uint32(k)
			// The next size's first key, and this size's last before it.
			var next []byte
			if size < 1<<32-1 {
				next = binary.BigEndian.AppendUint32(nil, size+1)
			}
			var e []byte
			if next != nil {
				e, _ = lastBefore(c, next)
			} else {
				e, _ = c.Last()
			}
			for ; e != nil && binary.BigEndian.Uint32(e) == size && bytes.Compare(e[4:12], floor) >= 0 && (limit <= 0 || len(out) < limit); e, _ = c.Prev() {
				st, err := getJSON[storage.Cluster](cb, e[12:])
				if err != nil {
					return fmt.Errorf("list stories: story %s: %w", e[12:], err)
				}
				out = append(out, st)
			}
			if next == nil {
				break
			}
			k, _ = c.Seek(next)
		}
		return nil
	})
	return out, err
}

// LatestClusters lists the stories updated since, the latest first, read
// back from the end of the storytime index.
func (s *Bolt) LatestClusters(_ context.Context, since time.Time, limit int) ([]*storage.Cluster, error) {
	var out []*storage.Cluster
	err := s.view(func(tx *bolt.Tx) error {
		floor := timeIDKey(since, "")
		cb := tx.Bucket(bClusters)
		c := tx.Bucket(bStoryTime).Cursor()
		for k, _ := c.Last(); k != nil && bytes.Compare(k[:8], floor) >= 0 && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			st, err := getJSON[storage.Cluster](cb, k[8:])
			if err != nil {
				return fmt.Errorf("list stories: story %s: %w", k[8:], err)
			}
			out = append(out, st)
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
func (s *Bolt) RuleStories(ctx context.Context, opt storage.ListOptions) ([]*storage.Item, error) {
	cur, err := parseCursor(opt.Before)
	if err != nil {
		return nil, err
	}
	var out []*storage.Item
	err = s.view(func(tx *bolt.Tx) error {
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
				it, err := getJSON[storage.Item](items, k[len(k)-8:])
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
		if cur.seq != 0 {
			before = indexKey(opt.Rule, cur.date, cur.seq)
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
		shown := storage.ListOptions{Rule: opt.Rule, WithDuplicates: true, Query: opt.Query, Limit: opt.Limit}
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
func (s *Bolt) indexedItems(ctx context.Context, index []byte, name string, opt storage.ListOptions) ([]*storage.Item, error) {
	cur, err := parseCursor(opt.Before)
	if err != nil {
		return nil, err
	}
	var out []*storage.Item
	err = s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(name), 0)
		c := tx.Bucket(index).Cursor()
		// The last key of the name (its prefix, then the largest time),
		// or the last before the cursor.
		end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 16)...)
		if cur.seq != 0 {
			end = indexKey(name, cur.date, cur.seq)
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
