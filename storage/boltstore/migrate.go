package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

// migrateChunk is how many entries one migration transaction moves.
var migrateChunk = 5000

// migrations bring a file from each older schema to a newer one, in
// order: a step runs for the files at its version, and leaves them at its
// target. Each is safe to run again after a crash.
var migrations = []migration{
	{1, 2, func(s *Bolt, _ uint64) error { return s.migrateDocsBySeq() }},
	{2, 4, (*Bolt).migrateListIndexes},
	{3, 4, (*Bolt).migrateListIndexes},
	{4, 5, func(s *Bolt, _ uint64) error { return s.migrateAlertIndex() }},
	// Schema 6 stores fingerprints of format 2 (title, lead and facts),
	// which raqib before it cannot read: nothing moves, but the older
	// binary is told to upgrade instead of failing on every item. Format 1
	// fingerprints stay readable.
	{5, 6, func(s *Bolt, _ uint64) error {
		return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("schema"), u64(6)) })
	}},
	{6, 7, func(s *Bolt, _ uint64) error { return s.migrateFetchedIndex() }},
	{7, 8, func(s *Bolt, _ uint64) error { return s.migrateStoryIndex() }},
	{8, 9, func(s *Bolt, _ uint64) error { return s.migrateSizeIndex() }},
}

type migration struct {
	from, to uint64
	run      func(s *Bolt, from uint64) error
}

// migrate brings an older file to SchemaVersion, one step at a time.
func (s *Bolt) migrate() error {
	for {
		var version uint64
		if err := s.view(func(tx *bolt.Tx) error {
			version = binary.BigEndian.Uint64(tx.Bucket(bMeta).Get([]byte("schema")))
			return nil
		}); err != nil {
			return err
		}
		if version == SchemaVersion {
			return nil
		}
		i := slices.IndexFunc(migrations, func(m migration) bool { return m.from == version })
		if i < 0 {
			return fmt.Errorf("schema version %d has no migration", version)
		}
		if err := migrations[i].run(s, version); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", version, migrations[i].to, err)
		}
	}
}

// migrateDocsBySeq re-keys items' fingerprints and samples from the item
// id to its sequence number (schema 2). It moves them in transactions of
// a few thousand, so that a million items do not make one huge
// transaction; after a crash between two, the next start goes on where
// it stopped (Open returns only once every entry has moved).
func (s *Bolt) migrateDocsBySeq() error {
	return s.inBatches(context.Background(), func(tx *bolt.Tx) (more bool, err error) {
		prints, samples, ids := tx.Bucket(bPrints), tx.Bucket(bSamples), tx.Bucket(bIDs)
		// Items' old keys are their ids (hex), after every sequence key
		// (which starts with 0); seeds keep their "seed:" keys.
		var old [][]byte
		for _, b := range []*bolt.Bucket{prints, samples} {
			c := b.Cursor()
			for k, _ := c.Seek([]byte{1}); k != nil && len(old) < migrateChunk; k, _ = c.Next() {
				if !bytes.HasPrefix(k, []byte("seed:")) {
					old = append(old, bytes.Clone(k))
				}
			}
		}
		if len(old) == 0 {
			return false, tx.Bucket(bMeta).Put([]byte("schema"), u64(2))
		}
		for _, k := range old {
			pv, sv := bytes.Clone(prints.Get(k)), bytes.Clone(samples.Get(k))
			if err := prints.Delete(k); err != nil {
				return false, err
			}
			if err := samples.Delete(k); err != nil {
				return false, err
			}
			seq := bytes.Clone(seqOf(ids.Get(k)))
			if seq == nil {
				continue // the item itself is gone
			}
			if pv != nil {
				if err := prints.Put(seq, pv); err != nil {
					return false, err
				}
			}
			if len(sv) >= 8 {
				v := sampleValue(time.Time{}, string(k), sv[8:])
				copy(v, sv[:8]) // the date as stored
				if err := samples.Put(seq, v); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	})
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
		date := (&storage.Item{Published: f.Published, Updated: f.Updated, Fetched: f.Fetched}).Date()
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
		c, err := decodeJSON[storage.Cluster](v)
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
			it, err := decodeJSON[storage.Item](v)
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

// migrateSizeIndex builds the stories' size index (schema 9) from the
// storytime index, which holds each story's size: no story is decoded.
func (s *Bolt) migrateSizeIndex() error {
	mark := []byte("migrate.storysize")
	if err := s.emptyBefore(mark, bStorySize); err != nil {
		return err
	}
	return s.buildIndexes([]indexStep{{bStoryTime, mark, func(tx *bolt.Tx, k, v []byte) error {
		size, n := binary.Uvarint(v)
		if n <= 0 || len(k) < 8 {
			return fmt.Errorf("story index entry %q: damaged", k)
		}
		return tx.Bucket(bStorySize).Put(sizeKey(size, k), nil)
	}}}, 9)
}

// migrateAlertIndex builds the alerts' time index (schema 5).
func (s *Bolt) migrateAlertIndex() error {
	return s.buildIndexes([]indexStep{{bAlerts, []byte("migrate.alerts"), func(tx *bolt.Tx, k, v []byte) error {
		a, err := decodeJSON[storage.Alert](v)
		if err != nil {
			return fmt.Errorf("alert %s: %w", k, err)
		}
		a.ID = string(k) // the key is what the index must find
		return tx.Bucket(bAlertTime).Put(alertKey(a), []byte(a.State))
	}}}, 5)
}
