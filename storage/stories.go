package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// linkDevelopment puts a new story that follows an earlier item into that
// item's thread: the thread's first story lists it, and it names that
// story. An item that joined a story, or follows nothing stored, changes
// nothing.
func linkDevelopment(tx *bolt.Tx, it *Item) error {
	if it.Follows == "" || it.Cluster != it.ID {
		return nil
	}
	root := storyOf(tx, it.Follows)
	if root == "" || root == it.Cluster {
		return nil
	}
	cb := tx.Bucket(bClusters)
	r, err := getJSON[Cluster](cb, []byte(root))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Follows != "" { // a development of a development: the thread's first story holds both
		if first, err := getJSON[Cluster](cb, []byte(r.Follows)); err == nil {
			r = first
		}
	}
	c, err := getJSON[Cluster](cb, []byte(it.Cluster))
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

// storyOf is the story a stored item or seed is in, "" when unknown.
func storyOf(tx *bolt.Tx, id string) string {
	if bytes.HasPrefix([]byte(id), []byte("seed:")) {
		return id
	}
	v := tx.Bucket(bIDs).Get([]byte(id))
	if len(v) > 8 {
		return string(v[8:])
	}
	if v == nil {
		return ""
	}
	it, err := getJSON[Item](tx.Bucket(bItems), v)
	if err != nil {
		return ""
	}
	return it.Cluster
}

func (s *Bolt) SplitItem(_ context.Context, it *Item, alerts []*Alert) error {
	return s.update(func(tx *bolt.Tx) error {
		ids, items, cb := tx.Bucket(bIDs), tx.Bucket(bItems), tx.Bucket(bClusters)
		iv := ids.Get([]byte(it.ID))
		if iv == nil {
			return fmt.Errorf("item %s: %w", it.ID, ErrNotFound)
		}
		seq := bytes.Clone(seqOf(iv))
		old, err := getJSON[Item](items, seq)
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
		for _, r := range it.Rules {
			if err := tx.Bucket(bByRule).Put(indexKey(r, it.Date(), it.Seq), []byte(it.Cluster)); err != nil {
				return err
			}
		}
		if old.Cluster != it.Cluster {
			if err := leaveStory(tx, old); err != nil {
				return err
			}
			c := &Cluster{ID: it.Cluster, Title: it.Title, First: it.Date(), Size: 1, Feeds: []string{it.Feed}, Updated: it.Fetched}
			before, err := getJSON[Cluster](cb, []byte(it.Cluster))
			existed := err == nil
			var was Cluster
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
// its outlets are those of the items left, read from the ids bucket (a
// desk's correction is rare; the scan is the price of not keeping an
// index by story).
func leaveStory(tx *bolt.Tx, it *Item) error {
	cb := tx.Bucket(bClusters)
	c, err := getJSON[Cluster](cb, []byte(it.Cluster))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	before := c.Updated
	c.Size = max(0, c.Size-1)
	feeds := map[string]bool{}
	items := tx.Bucket(bItems)
	err = tx.Bucket(bIDs).ForEach(func(k, v []byte) error {
		if string(k) == it.ID || (len(v) > 8 && string(v[8:]) != c.ID) {
			return nil
		}
		// A file from before ids held the story: the item says.
		m, err := getJSON[Item](items, seqOf(v))
		if err != nil {
			return err
		}
		if m.Cluster == c.ID {
			feeds[m.Feed] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bytes.HasPrefix([]byte(c.ID), []byte("seed:")) {
		feeds["seeds"] = true
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
