package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/raqib/raqib/parallel"
	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

func (s *Bolt) LookupKeys(_ context.Context, keys []string) (string, error) {
	var id string
	err := s.view(func(tx *bolt.Tx) error {
		id = lookupKeys(tx, keys)
		return nil
	})
	return id, err
}

func lookupKeys(tx *bolt.Tx, keys []string) string {
	kb := tx.Bucket(bKeys)
	for _, k := range keys {
		if v := kb.Get([]byte(k)); v != nil {
			if isTombstone(v) {
				return storage.Pruned
			}
			return string(v)
		}
	}
	return ""
}

// A pruned item's identity keys hold a tombstone, the time of the prune,
// instead of its id; the tombs bucket orders them by that time, so that
// pruning takes them out one retention period later.
func tombstone(t time.Time) []byte {
	v := make([]byte, 9)
	binary.BigEndian.PutUint64(v[1:], uint64(t.UnixNano()))
	return v
}

func isTombstone(v []byte) bool { return len(v) == 9 && v[0] == 0 }

func (s *Bolt) Commit(_ context.Context, batch *storage.Batch) (*storage.CommitResult, error) {
	res := &storage.CommitResult{}
	err := s.update(func(tx *bolt.Tx) error {
		res.Stored, res.Skipped = nil, nil
		items, ids := tx.Bucket(bItems), tx.Bucket(bIDs)
		// These buckets are keyed by sequence number (bytime by date
		// first, mostly now): new keys go at the end, and a page that
		// splits is never written again. Split at bbolt's default of half
		// full, each would stay half empty.
		for _, b := range []*bolt.Bucket{items, tx.Bucket(bPrints), tx.Bucket(bSamples)} {
			b.FillPercent = 1
		}
		tx.Bucket(bByTime).FillPercent = 0.9
		tx.Bucket(bStoryTime).FillPercent = 0.9
		tx.Bucket(bFetched).FillPercent = 0.9
		for _, it := range batch.Items {
			if lookupKeys(tx, it.Keys) != "" || ids.Get([]byte(it.ID)) != nil {
				res.Skipped = append(res.Skipped, it)
				continue
			}
			seq, err := items.NextSequence()
			if err != nil {
				return err
			}
			it.Seq = seq
			if err := putItem(items, u64(seq), it); err != nil {
				return fmt.Errorf("store item %s: %w", it.ID, err)
			}
			// The cluster rides along with the sequence number so that a
			// duplicate's story is found without decoding the earlier item.
			if err := ids.Put([]byte(it.ID), append(u64(seq), it.Cluster...)); err != nil {
				return err
			}
			for _, k := range it.Keys {
				if err := tx.Bucket(bKeys).Put([]byte(k), []byte(it.ID)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bByTime).Put(timeKey(it.Date(), seq), []byte(it.ID)); err != nil {
				return err
			}
			if err := tx.Bucket(bFetched).Put(timeKey(it.Fetched, seq), nil); err != nil {
				return err
			}
			for _, r := range it.Rules {
				if err := tx.Bucket(bByRule).Put(indexKey(r, it.Date(), seq), []byte(it.Cluster)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bByFeed).Put(indexKey(it.Feed, it.Date(), seq), nil); err != nil {
				return err
			}
			if it.TextHash != "" && tx.Bucket(bKeys).Get([]byte("text:"+it.TextHash)) == nil {
				if err := tx.Bucket(bKeys).Put([]byte("text:"+it.TextHash), []byte(it.ID)); err != nil {
					return err
				}
			}
			if it.Fingerprint != nil {
				// History's window counts from when raqib saw the item.
				// Keyed by sequence, so that these puts append: keyed by
				// the id (a hash) each landed on a page of its own.
				if err := tx.Bucket(bPrints).Put(u64(seq), printValue(it.Fetched, it.Fingerprint)); err != nil {
					return err
				}
				if err := tx.Bucket(bSamples).Put(u64(seq), sampleValue(it.Fetched, it.ID, it.Samples)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bByStory).Put(storyKey(it.Cluster, seq), rulesValue(it.Rules)); err != nil {
				return err
			}
			if err := addToCluster(tx, it); err != nil {
				return err
			}
			res.Stored = append(res.Stored, it)
		}
		if err := countDays(tx, res.Stored); err != nil {
			return err
		}
		stored := map[string]bool{}
		for _, it := range res.Stored {
			stored[it.ID] = true
		}
		for _, d := range batch.Developments {
			if stored[d.Story] {
				if err := addDevelopment(tx, d); err != nil {
					return err
				}
			}
		}
		ab := tx.Bucket(bAlerts)
		for _, a := range batch.Alerts {
			if !stored[a.ItemID] || ab.Get([]byte(a.ID)) != nil {
				continue // its item was skipped, or this story already alerted
			}
			if err := putAlert(tx, a); err != nil {
				return err
			}
		}
		if batch.Feed != nil {
			batch.Feed.Items += len(res.Stored)
			if err := putJSON(tx.Bucket(bFeeds), []byte(batch.Feed.Name), batch.Feed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if batch.Feed != nil {
			batch.Feed.Items -= len(res.Stored)
		}
		return nil, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

func addToCluster(tx *bolt.Tx, it *storage.Item) error {
	c, err := getJSON[storage.Cluster](tx.Bucket(bClusters), []byte(it.Cluster))
	existed := err == nil
	if errors.Is(err, storage.ErrNotFound) {
		c = &storage.Cluster{ID: it.Cluster, Title: it.Title, First: it.Date()}
	} else if err != nil {
		return err
	}
	before := c.Updated
	c.Size++
	found := false
	for _, f := range c.Feeds {
		found = found || f == it.Feed
	}
	if !found {
		c.Feeds = append(c.Feeds, it.Feed)
	}
	c.Updated = it.Fetched
	return putCluster(tx, c, before, existed)
}

func (s *Bolt) Item(_ context.Context, id string) (*storage.Item, error) {
	var it *storage.Item
	err := s.view(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bIDs).Get([]byte(id))
		if seq == nil {
			return storage.ErrNotFound
		}
		var err error
		it, err = getJSON[storage.Item](tx.Bucket(bItems), seqOf(seq))
		return err
	})
	return it, err
}

func (s *Bolt) ItemCluster(_ context.Context, id string) (string, error) {
	var c string
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bIDs).Get([]byte(id))
		switch {
		case v == nil:
			return storage.ErrNotFound
		case len(v) > 8:
			c = string(v[8:])
			return nil
		}
		it, err := getJSON[storage.Item](tx.Bucket(bItems), v) // a file from before the cluster was kept in ids
		if err == nil {
			c = it.Cluster
		}
		return err
	})
	return c, err
}

func (s *Bolt) Items(ctx context.Context, opt storage.ListOptions) ([]*storage.Item, error) {
	// A rule is rarer than a feed: its index is the shorter read.
	switch {
	case opt.Rule != "":
		return s.indexedItems(ctx, bByRule, opt.Rule, opt)
	case opt.Feed != "":
		return s.indexedItems(ctx, bByFeed, opt.Feed, opt)
	}
	before, err := parseCursor(opt.Before)
	if err != nil {
		return nil, err
	}
	var out []*storage.Item
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bByTime).Cursor()
		ids := tx.Bucket(bIDs)
		k, v := c.Last()
		if before.seq != 0 {
			k, v = lastBefore(c, timeKey(before.date, before.seq))
		}
		n := 0
		var err error
		out, err = newestFirst(ctx, tx.Bucket(bItems), opt, func() []byte {
			for ; k != nil; k, v = c.Prev() {
				if n++; n%unmapEvery == 0 {
					unmapScanned(s.db, tx)
				}
				if seq := ids.Get(v); seq != nil {
					k, v = c.Prev()
					return seqOf(seq)
				}
			}
			return nil
		})
		return err
	})
	return out, err
}

// newestFirst reads the items whose sequence numbers next gives, newest
// first until it gives nil, and lists those opt keeps, up to opt.Since and
// opt.Limit. A filter that keeps little can read back through all history
// (a text query): it stops when ctx ends, as when the client goes away.
//
// A listing that may read far (a filter, or no limit or a long one, as an
// export's pages) decodes and filters the items on every core, a batch at
// a time: decoding (inflate, JSON) and a text query's matching are nearly
// all of its time. A short one reads one item at a time, so as not to
// decode a batch to show a few.
func newestFirst(ctx context.Context, items *bolt.Bucket, opt storage.ListOptions, next func() []byte) ([]*storage.Item, error) {
	batch := 1
	if opt.Query != nil || opt.Limit == 0 || opt.Limit > parallelBatch {
		batch = parallelBatch
	}
	tooOld := func(it *storage.Item) bool { return !opt.Since.IsZero() && it.Date().Before(opt.Since) }
	var out []*storage.Item
	raw := make([][]byte, 0, batch)
	decoded := make([]*storage.Item, batch)
	kept := make([]bool, batch)
	errs := make([]error, batch)
	for more := true; more; {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		raw = raw[:0]
		for len(raw) < batch {
			seq := next()
			if seq == nil {
				more = false
				break
			}
			v := items.Get(seq)
			if v == nil {
				return out, fmt.Errorf("%w (key %q)", storage.ErrNotFound, seq)
			}
			raw = append(raw, v)
		}
		parallel.Each(len(raw), func(i int) {
			decoded[i], errs[i] = decodeJSON[storage.Item](raw[i])
			kept[i] = errs[i] == nil && !tooOld(decoded[i]) && opt.Keep(decoded[i])
		})
		for i := range raw {
			switch {
			case errs[i] != nil:
				return out, errs[i]
			case tooOld(decoded[i]):
				return out, nil
			case !kept[i]:
				continue
			}
			out = append(out, decoded[i])
			if opt.Limit > 0 && len(out) >= opt.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// parallelBatch is how many items a long listing decodes at once.
const parallelBatch = 64

func (s *Bolt) ItemCount(_ context.Context) (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bIDs).Stats().KeyN
		return nil
	})
	return n, err
}

func (s *Bolt) Cluster(_ context.Context, id string) (*storage.Cluster, error) {
	var c *storage.Cluster
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		c, err = getJSON[storage.Cluster](tx.Bucket(bClusters), []byte(id))
		return err
	})
	return c, err
}
