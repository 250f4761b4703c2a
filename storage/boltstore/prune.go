package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

func (s *Bolt) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	s.longestHold.Store(0)
	pending, pendingStories := map[string]bool{}, map[string]bool{}
	as, err := s.Alerts(ctx, storage.AlertPending)
	if err != nil {
		return 0, err
	}
	for _, a := range as {
		pending[a.ItemID], pendingStories[a.Cluster] = true, true
	}
	keep, err := s.seqsOf(pending)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		// What to delete is read from the fetched index, in a read
		// transaction: the write transactions below only delete.
		dead, err := s.expired(cutoff, keep, pruneRead)
		if err != nil || len(dead) == 0 {
			if err == nil {
				break
			}
			return total, err
		}
		err = s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (bool, error) {
			n, err := s.pruneItems(tx, &dead, limit)
			total += n
			return len(dead) > 0, err
		})
		if err != nil {
			return total, err
		}
	}
	if err := s.pruneStories(ctx, cutoff, pendingStories); err != nil {
		return total, fmt.Errorf("prune stories: %w", err)
	}
	if err := s.update(func(tx *bolt.Tx) error { return pruneFeedDays(tx, cutoff) }); err != nil {
		return total, fmt.Errorf("prune feed days: %w", err)
	}
	// The keys' tombstones stay one retention period more.
	if err := s.sweepTombs(ctx, cutoff); err != nil {
		return total, fmt.Errorf("prune identity keys: %w", err)
	}
	return total, nil
}

// LongestPruneHold is how long the last Prune held the writer at most in
// one transaction, commit included.
func (s *Bolt) LongestPruneHold() time.Duration { return time.Duration(s.longestHold.Load()) }

// pruneRead is how many expired items one read of the fetched index
// lists; pruneHold is how long one write transaction of pruning goes on
// deleting before it commits and lets the pipeline write.
const (
	pruneRead = 20000
	pruneHold = 40 * time.Millisecond
	// pruneBatchMax is the most stories, alerts or tombstones one write
	// transaction deletes; fewer when the last transaction took longer
	// than pruneHold (their keys are hashes, so each delete dirties a page
	// of its own, and the commit writes them all).
	pruneBatchMax = 2000
)

// seqsOf gives the sequence numbers of the items with these ids.
func (s *Bolt) seqsOf(ids map[string]bool) (map[uint64]bool, error) {
	out := make(map[uint64]bool, len(ids))
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bIDs)
		for id := range ids {
			if seq := seqOf(b.Get([]byte(id))); len(seq) == 8 {
				out[binary.BigEndian.Uint64(seq)] = true
			}
		}
		return nil
	})
	return out, err
}

// expired lists up to max keys of the fetched index before cutoff, but
// those of items to keep.
func (s *Bolt) expired(cutoff time.Time, keep map[uint64]bool, max int) ([][]byte, error) {
	var out [][]byte
	floor := timeKey(cutoff, 0)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bFetched).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, floor) < 0 && len(out) < max; k, _ = c.Next() {
			if !keep[binary.BigEndian.Uint64(k[8:])] {
				out = append(out, bytes.Clone(k))
			}
		}
		unmapScanned(s.db, tx)
		return nil
	})
	return out, err
}

// inSizedBatches is inBatches for deletes: each step deletes at most
// limit entries, and limit follows how long the last transaction held the
// writer, commit included, so that none holds it much longer than
// pruneHold.
func (s *Bolt) inSizedBatches(ctx context.Context, step func(tx *bolt.Tx, limit int) (more bool, err error)) error {
	limit := 64
	for more := true; more; {
		start := time.Now()
		if err := s.hold(func(tx *bolt.Tx) (err error) {
			more, err = step(tx, limit)
			return err
		}); err != nil {
			return err
		}
		switch took := time.Since(start); {
		case took > pruneHold && limit > 1:
			limit = max(1, int(float64(limit)*float64(pruneHold)/float64(took)))
		case took < pruneHold/2:
			limit = min(pruneBatchMax, limit*2)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// pruneItems deletes up to limit items named by fetched-index keys from
// the front of *dead, and takes what it went through off *dead.
func (s *Bolt) pruneItems(tx *bolt.Tx, dead *[][]byte, limit int) (int, error) {
	n, done := 0, 0
	now := time.Now()
	defer func() { *dead = (*dead)[done:] }()
	items, fb := tx.Bucket(bItems), tx.Bucket(bFetched)
	for _, k := range *dead {
		if done == limit || done > 0 && time.Since(now) > pruneHold {
			break
		}
		done++
		seqKey := k[8:]
		seq := binary.BigEndian.Uint64(seqKey)
		if err := fb.Delete(k); err != nil {
			return n, err
		}
		v := items.Get(seqKey)
		if v == nil {
			continue // gone since it was listed
		}
		s.pruneDecodes.Add(1)
		it, err := decodeJSON[storage.Item](v)
		if err != nil {
			return n, fmt.Errorf("item %d: %w", seq, err)
		}
		for _, del := range []struct {
			b   []byte
			key []byte
		}{
			{bItems, seqKey}, {bIDs, []byte(it.ID)}, {bPrints, seqKey}, {bSamples, seqKey},
			{bByTime, timeKey(it.Date(), seq)}, {bByFeed, indexKey(it.Feed, it.Date(), seq)},
			{bByStory, storyKey(it.Cluster, seq)},
		} {
			if err := tx.Bucket(del.b).Delete(del.key); err != nil {
				return n, err
			}
		}
		for _, r := range it.Rules {
			if err := tx.Bucket(bByRule).Delete(indexKey(r, it.Date(), seq)); err != nil {
				return n, err
			}
		}
		if err := buryKeys(tx, it, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// hold runs a write transaction and notes how long it held the writer.
func (s *Bolt) hold(fn func(tx *bolt.Tx) error) error {
	start := time.Now()
	err := s.update(fn)
	if d := int64(time.Since(start)); d > s.longestHold.Load() {
		s.longestHold.Store(d)
	}
	return err
}

// pruneStories deletes the stories whose last item came before cutoff
// (their items went before them), except seeds' stories and those pending
// alerts need, and then the delivered or failed alerts of the stories that
// went. An alert of a story still told stays, however old, so that the
// story does not alert again. Without this a desk's file kept growing by
// a story for most items and by every alert.
func (s *Bolt) pruneStories(ctx context.Context, cutoff time.Time, keep map[string]bool) error {
	floor := timeIDKey(cutoff, "")
	err := s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		st, cb := tx.Bucket(bStoryTime), tx.Bucket(bClusters)
		var dead [][]byte
		c := st.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], floor[:8]) < 0; k, _ = c.Next() {
			if len(dead) == limit {
				more = true
				break
			}
			if id := string(k[8:]); !strings.HasPrefix(id, "seed:") && !keep[id] {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			size, _ := binary.Uvarint(st.Get(k))
			if err := tx.Bucket(bStorySize).Delete(sizeKey(size, k)); err != nil {
				return false, err
			}
			if err := st.Delete(k); err != nil {
				return false, err
			}
			if err := cb.Delete(k[8:]); err != nil {
				return false, err
			}
		}
		return more, nil
	})
	if err != nil {
		return err
	}
	// The alerts of stories that are gone: those created before the
	// cutoff, read from the time index, then deletes in batches.
	var dead [][]byte
	err = s.view(func(tx *bolt.Tx) error {
		cb, ab := tx.Bucket(bClusters), tx.Bucket(bAlerts)
		end := timeIDKey(cutoff, "")
		c := tx.Bucket(bAlertTime).Cursor()
		for k, state := c.First(); k != nil && bytes.Compare(k, end) < 0; k, state = c.Next() {
			if string(state) == storage.AlertPending {
				continue
			}
			a, err := getJSON[storage.Alert](ab, k[8:])
			if err != nil {
				return fmt.Errorf("alert %s: %w", k[8:], err)
			}
			if cb.Get([]byte(a.Cluster)) == nil {
				dead = append(dead, bytes.Clone(k)) // the alert's id follows its time
			}
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return err
	}
	return s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		batch := dead[:min(len(dead), limit)]
		dead = dead[len(batch):]
		for _, k := range batch {
			// Listed when it was failed; a retry since (the alerts page)
			// made it pending, and a pending alert stays.
			if tx.Bucket(bPending).Get(k[8:]) != nil {
				continue
			}
			if err := tx.Bucket(bAlerts).Delete(k[8:]); err != nil {
				return false, err
			}
			if err := tx.Bucket(bAlertTime).Delete(k); err != nil {
				return false, err
			}
		}
		return len(dead) > 0, nil
	})
}

// buryKeys puts tombstones in a pruned item's identity keys, so that a
// feed still listing it does not bring it back as new, and takes out its
// text key: an exact copy of a text no longer stored is a new item.
func buryKeys(tx *bolt.Tx, it *storage.Item, now time.Time) error {
	kb, tb := tx.Bucket(bKeys), tx.Bucket(bTombs)
	for _, k := range it.Keys {
		if string(kb.Get([]byte(k))) != it.ID {
			continue // another item's (or a file's from before ids were kept)
		}
		if err := kb.Put([]byte(k), tombstone(now)); err != nil {
			return err
		}
		if err := tb.Put(append(u64(uint64(now.UnixNano())), k...), nil); err != nil {
			return err
		}
	}
	if it.TextHash != "" && string(kb.Get([]byte("text:"+it.TextHash))) == it.ID {
		return kb.Delete([]byte("text:" + it.TextHash))
	}
	return nil
}

// sweepTombs takes out the tombstones laid before cutoff, one retention
// period after their items went: a feed that still lists an item that old
// is rare, and without this the keys grew by about 100 bytes an item for
// good.
func (s *Bolt) sweepTombs(ctx context.Context, cutoff time.Time) error {
	floor := u64(uint64(cutoff.UnixNano()))
	return s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		kb, tb := tx.Bucket(bKeys), tx.Bucket(bTombs)
		var dead [][]byte
		c := tb.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], floor) < 0; k, _ = c.Next() {
			if len(dead) == limit {
				more = true
				break
			}
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			// A key buried again later holds a later time: it stays.
			if v := kb.Get(k[8:]); isTombstone(v) && bytes.Equal(v[1:], k[:8]) {
				if err := kb.Delete(k[8:]); err != nil {
					return false, err
				}
			}
			if err := tb.Delete(k); err != nil {
				return false, err
			}
		}
		return more, nil
	})
}

// inBatches runs step in write transactions of its own until it says there
// is no more, so that a long clean-up or migration does not hold the writer
// for long, and a crash keeps the batches done.
func (s *Bolt) inBatches(ctx context.Context, step func(tx *bolt.Tx) (more bool, err error)) error {
	for more := true; more; {
		if err := s.hold(func(tx *bolt.Tx) (err error) {
			more, err = step(tx)
			return err
		}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
