package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

// addDevelopment records a story as a development in a thread: the
// thread's first story lists it, and it names that story. A thread no
// longer stored changes nothing.
func addDevelopment(tx *bolt.Tx, d storage.Development) error {
	cb := tx.Bucket(bClusters)
	r, err := getJSON[storage.Cluster](cb, []byte(d.Thread))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := getJSON[storage.Cluster](cb, []byte(d.Story))
	if err != nil {
		return err
	}
	c.Follows = r.ID
	if err := putJSON(cb, []byte(c.ID), c); err != nil {
		return err
	}
	if !slices.Contains(r.Developments, c.ID) {
		r.Developments = append(r.Developments, c.ID)
	}
	return putJSON(cb, []byte(r.ID), r)
}

func (s *Bolt) SplitItem(_ context.Context, it *storage.Item, alerts []*storage.Alert) error {
	return s.update(func(tx *bolt.Tx) error {
		ids, items, cb := tx.Bucket(bIDs), tx.Bucket(bItems), tx.Bucket(bClusters)
		iv := ids.Get([]byte(it.ID))
		if iv == nil {
			return fmt.Errorf("item %s: %w", it.ID, storage.ErrNotFound)
		}
		seq := bytes.Clone(seqOf(iv))
		old, err := getJSON[storage.Item](items, seq)
		if err != nil {
			return err
		}
		it.Seq = old.Seq
		if err := putItem(items, seq, it); err != nil {
			return err
		}
		if err := ids.Put([]byte(it.ID), append(bytes.Clone(seq), it.Cluster...)); err != nil {
			return err
		}
		for _, r := range old.Rules { // the rules as they are now, below
			if err := tx.Bucket(bByRule).Delete(indexKey(r, old.Date(), it.Seq)); err != nil {
				return err
			}
		}
		for _, r := range it.Rules {
			if err := tx.Bucket(bByRule).Put(indexKey(r, it.Date(), it.Seq), []byte(it.Cluster)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bByStory).Delete(storyKey(old.Cluster, it.Seq)); err != nil {
			return err
		}
		if err := tx.Bucket(bByStory).Put(storyKey(it.Cluster, it.Seq), rulesValue(it.Rules)); err != nil {
			return err
		}
		if old.Cluster != it.Cluster {
			if err := leaveStory(tx, old); err != nil {
				return err
			}
			c := &storage.Cluster{ID: it.Cluster, Title: it.Title, First: it.Date(), Size: 1, Feeds: []string{it.Feed}, Updated: it.Fetched}
			before, err := getJSON[storage.Cluster](cb, []byte(it.Cluster))
			existed := err == nil
			var was storage.Cluster
			if existed {
				was = *before
			}
			if err := putCluster(tx, c, was.Updated, existed); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bAlerts)
		for _, a := range alerts {
			if ab.Get([]byte(a.ID)) == nil {
				if err := putAlert(tx, a); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// leaveStory takes an item out of its story: the story's size drops and
// its outlets are those of the items left, read from the story index.
func leaveStory(tx *bolt.Tx, it *storage.Item) error {
	cb := tx.Bucket(bClusters)
	c, err := getJSON[storage.Cluster](cb, []byte(it.Cluster))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	before := c.Updated
	c.Size = max(0, c.Size-1)
	feeds := map[string]bool{}
	if bytes.HasPrefix([]byte(c.ID), []byte("seed:")) {
		feeds["seeds"] = true
	}
	items := tx.Bucket(bItems)
	prefix := append([]byte(c.ID), 0)
	cur := tx.Bucket(bByStory).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		if binary.BigEndian.Uint64(k[len(prefix):]) == it.Seq {
			continue
		}
		m, err := getJSON[storage.Item](items, k[len(prefix):])
		if err != nil {
			return err
		}
		feeds[m.Feed] = true
	}
	kept := c.Feeds[:0]
	for _, f := range c.Feeds {
		if feeds[f] {
			kept = append(kept, f)
		}
	}
	c.Feeds = kept
	return putCluster(tx, c, before, true)
}
