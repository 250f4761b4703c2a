package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

func (s *Bolt) PutSeeds(_ context.Context, seeds []*storage.Seed) (int, error) {
	added := 0
	err := s.update(func(tx *bolt.Tx) error {
		added = 0
		sb := tx.Bucket(bSeeds)
		for _, sd := range seeds {
			old, err := getJSON[storage.Seed](sb, []byte(sd.Name))
			if err == nil && old.Hash == sd.Hash {
				continue
			}
			if err := putJSON(sb, []byte(sd.Name), sd); err != nil {
				return err
			}
			if sd.Fingerprint != nil {
				if err := tx.Bucket(bPrints).Put([]byte(sd.ID()), printValue(time.Time{}, sd.Fingerprint)); err != nil {
					return err
				}
				if err := tx.Bucket(bSamples).Put([]byte(sd.ID()), printValue(time.Time{}, sd.Samples)); err != nil {
					return err
				}
			}
			if old == nil && sd.Story != nil {
				if err := putCluster(tx, sd.Story, time.Time{}, false); err != nil {
					return err
				}
			}
			added++
		}
		return nil
	})
	return added, err
}

func (s *Bolt) Seeds(_ context.Context) ([]*storage.Seed, error) {
	var out []*storage.Seed
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSeeds).ForEach(func(k, v []byte) error {
			var sd storage.Seed
			if err := json.Unmarshal(v, &sd); err != nil {
				return fmt.Errorf("decode seed %s: %w", k, err)
			}
			out = append(out, &sd)
			return nil
		})
	})
	return out, err
}

func (s *Bolt) Seed(_ context.Context, name string) (*storage.Seed, error) {
	var sd *storage.Seed
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		sd, err = getJSON[storage.Seed](tx.Bucket(bSeeds), []byte(name))
		return err
	})
	return sd, err
}

func (s *Bolt) Fingerprints(_ context.Context, since time.Time, fn func(storage.Fingerprint) error) error {
	return s.view(func(tx *bolt.Tx) error {
		n := 0
		defer unmapScanned(s.db, tx)
		return tx.Bucket(bSamples).ForEach(func(k, v []byte) error {
			if n++; n%unmapEvery == 0 {
				unmapScanned(s.db, tx)
			}
			if len(v) < 8 {
				return nil
			}
			nanos := int64(binary.BigEndian.Uint64(v))
			var date time.Time
			if nanos != 0 {
				date = time.Unix(0, nanos)
			}
			if !bytes.HasPrefix(k, []byte("seed:")) && date.Before(since) {
				return nil // seeds count whatever their date
			}
			id, data := k, v[8:]
			if isSeqKey(k) {
				n, w := binary.Uvarint(data)
				if w <= 0 || uint64(len(data)-w) < n {
					return fmt.Errorf("read samples of item %d: damaged entry", binary.BigEndian.Uint64(k))
				}
				id, data = data[w:w+int(n)], data[w+int(n):]
			}
			return fn(storage.Fingerprint{DocID: id, Date: date, Data: data})
		})
	})
}

func (s *Bolt) RecentFingerprints(ctx context.Context, fn func(data []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		defer unmapScanned(s.db, tx)
		c := tx.Bucket(bPrints).Cursor()
		n := 0
		samples, ids := tx.Bucket(bSamples), tx.Bucket(bIDs)
		// Seeds' keys ("seed:…") sort after the items' sequence numbers:
		// they are passed over, and so are duplicates.
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if !isSeqKey(k) || !startsStory(samples.Get(k), ids) {
				continue
			}
			if n++; n%unmapEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				unmapScanned(s.db, tx)
			}
			if len(v) < 8 {
				continue
			}
			if err := fn(v[8:]); errors.Is(err, storage.ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
		return nil
	})
}

// startsStory reports whether the item of a samples entry is its story's
// first (its story is its own id), as far as the ids bucket tells.
func startsStory(sample []byte, ids *bolt.Bucket) bool {
	if len(sample) < 8 {
		return true
	}
	n, w := binary.Uvarint(sample[8:])
	if w <= 0 || uint64(len(sample)-8-w) < n {
		return true
	}
	id := sample[8+w : 8+w+int(n)]
	v := ids.Get(id)
	return len(v) <= 8 || bytes.Equal(v[8:], id)
}

func (s *Bolt) Fingerprint(_ context.Context, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		key := []byte(id)
		if !strings.HasPrefix(id, "seed:") {
			if key = seqOf(tx.Bucket(bIDs).Get(key)); key == nil {
				return storage.ErrNotFound
			}
		}
		v := tx.Bucket(bPrints).Get(key)
		if len(v) < 8 {
			return storage.ErrNotFound
		}
		out = append([]byte(nil), v[8:]...)
		return nil
	})
	return out, err
}
