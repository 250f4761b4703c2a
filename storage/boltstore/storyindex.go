package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Two indexes answer the desk's pages without reading the history: a
// story's items (and the rules they matched), and the items each feed
// brought a day. Without them a page of stories read every item since the
// oldest story on it, and the feeds page every item of the last weeks.
var (
	bByStory  = []byte("bystory")  // story id | 0 | seq (8) -> the item's rules, each ended by 0
	bFeedDays = []byte("feeddays") // day (4: days since 1970, UTC) | feed name -> items (uvarint)
)

func storyKey(story string, seq uint64) []byte {
	k := make([]byte, 0, len(story)+9)
	k = append(k, story...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func rulesValue(rules []string) []byte {
	var v []byte
	for _, r := range rules {
		v = append(append(v, r...), 0)
	}
	return v
}

// feedDayKey puts the day first: the days since one, and the days before
// a prune's cutoff, are each one run of keys.
func feedDayKey(feed string, day uint32) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(feed)), day), feed...)
}

// countDays adds items to their feeds' days.
func countDays(tx *bolt.Tx, items []*storage.Item) error {
	counts := map[string]uint64{}
	for _, it := range items {
		counts[string(feedDayKey(it.Feed, storage.DayOf(it.Fetched)))]++
	}
	b := tx.Bucket(bFeedDays)
	for k, n := range counts {
		if v := b.Get([]byte(k)); v != nil {
			was, _ := binary.Uvarint(v)
			n += was
		}
		if err := b.Put([]byte(k), binary.AppendUvarint(nil, n)); err != nil {
			return err
		}
	}
	return nil
}

// StoryItems lists, newest first, the items dated since that belong to
// the given stories, read from the story index.
func (s *Bolt) StoryItems(_ context.Context, since time.Time, stories []string) (map[string][]*storage.Item, error) {
	if len(stories) == 0 {
		return nil, nil
	}
	out := map[string][]*storage.Item{}
	err := s.view(func(tx *bolt.Tx) error {
		items := tx.Bucket(bItems)
		c := tx.Bucket(bByStory).Cursor()
		for _, id := range stories {
			if _, done := out[id]; done {
				continue
			}
			prefix := append([]byte(id), 0)
			var its []*storage.Item
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				it, err := getJSON[storage.Item](items, k[len(prefix):])
				if err != nil {
					return fmt.Errorf("story %s: item %x: %w", id, k[len(prefix):], err)
				}
				if since.IsZero() || !it.Date().Before(since) {
					its = append(its, it)
				}
			}
			slices.SortFunc(its, func(a, b *storage.Item) int {
				if c := b.Date().Compare(a.Date()); c != 0 {
					return c
				}
				return cmp.Compare(b.Seq, a.Seq)
			})
			if len(its) > 0 {
				out[id] = its
			}
		}
		return nil
	})
	return out, err
}

// StoryRules lists the rules each story's items matched, from the story
// index's values: no item is decoded.
func (s *Bolt) StoryRules(_ context.Context, stories []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bByStory).Cursor()
		for _, id := range stories {
			prefix := append([]byte(id), 0)
			var rules []string
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				for r := range strings.SplitSeq(string(v), "\x00") {
					if r != "" && !slices.Contains(rules, r) {
						rules = append(rules, r)
					}
				}
			}
			if len(rules) > 0 {
				slices.Sort(rules)
				out[id] = rules
			}
		}
		return nil
	})
	return out, err
}

// FeedDays counts the items each feed brought a day, from since's day on.
func (s *Bolt) FeedDays(_ context.Context, since time.Time) ([]storage.FeedDay, error) {
	var out []storage.FeedDay
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bFeedDays).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint32(nil, storage.DayOf(since))); k != nil; k, v = c.Next() {
			if len(k) < 4 {
				return fmt.Errorf("list feed days: damaged index entry %q", k)
			}
			n, _ := binary.Uvarint(v)
			day := binary.BigEndian.Uint32(k)
			out = append(out, storage.FeedDay{Feed: string(k[4:]), Day: storage.DayStart(day), Items: int(n)})
		}
		return nil
	})
	return out, err
}

// pruneFeedDays deletes the days before cutoff's.
func pruneFeedDays(tx *bolt.Tx, cutoff time.Time) error {
	floor := binary.BigEndian.AppendUint32(nil, storage.DayOf(cutoff))
	c := tx.Bucket(bFeedDays).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, floor) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// migrateStoryIndex builds the story and feed-day indexes (schema 8)
// from the items. Each chunk's counts are added in the transaction that
// notes how far the pass went, so a pass resumed after a crash counts no
// item twice.
func (s *Bolt) migrateStoryIndex() error {
	if err := s.emptyBefore([]byte("migrate.bystory"), bByStory, bFeedDays); err != nil {
		return err
	}
	return s.buildIndexes([]indexStep{{bItems, []byte("migrate.bystory"), func(tx *bolt.Tx, k, v []byte) error {
		f, err := decodeJSON[indexedFields](v)
		if err != nil {
			return fmt.Errorf("item %x: %w", k, err)
		}
		if err := tx.Bucket(bByStory).Put(storyKey(f.Cluster, binary.BigEndian.Uint64(k)), rulesValue(f.Rules)); err != nil {
			return err
		}
		return countDays(tx, []*storage.Item{{Feed: f.Feed, Fetched: f.Fetched}})
	}}}, 8)
}

// emptyBefore empties the buckets an index pass builds, unless the pass
// is under way (its mark is in meta): a pass begins from empty indexes,
// whatever a file held before.
func (s *Bolt) emptyBefore(mark []byte, buckets ...[]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(mark) != nil {
			return nil
		}
		for _, b := range buckets {
			if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, bolterr.ErrBucketNotFound) {
				return err
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
}
