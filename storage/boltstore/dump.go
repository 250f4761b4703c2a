package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/raqib/raqib/storage"
)

var _ storage.Dumper = (*Bolt)(nil)

// Dump reads the whole file in one read transaction: a consistent copy,
// while commits go on.
func (s *Bolt) Dump(ctx context.Context, fn func(storage.Record) error) error {
	return s.view(func(tx *bolt.Tx) error {
		n := 0
		each := func(bucket []byte, rec func(k, v []byte) error) error {
			return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
				if n++; n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					unmapScanned(s.db, tx)
				}
				if err := rec(k, v); err != nil {
					return fmt.Errorf("dump %s %q: %w", bucket, k, err)
				}
				return nil
			})
		}
		prints, samples := tx.Bucket(bPrints), tx.Bucket(bSamples)
		if err := each(bFeeds, func(k, v []byte) error {
			f, err := decodeJSON[storage.FeedState](v)
			if err != nil {
				return err
			}
			return fn(storage.Record{Feed: f})
		}); err != nil {
			return err
		}
		if err := each(bSeeds, func(k, v []byte) error {
			sd, err := decodeJSON[storage.Seed](v)
			if err != nil {
				return err
			}
			id := []byte(sd.ID())
			sd.Fingerprint, sd.Samples = afterDate(prints.Get(id)), afterDate(samples.Get(id))
			return fn(storage.Record{Seed: sd})
		}); err != nil {
			return err
		}
		if err := each(bClusters, func(k, v []byte) error {
			c, err := decodeJSON[storage.Cluster](v)
			if err != nil {
				return err
			}
			return fn(storage.Record{Story: c})
		}); err != nil {
			return err
		}
		if err := each(bItems, func(k, v []byte) error {
			it, err := decodeJSON[storage.Item](v)
			if err != nil {
				return err
			}
			it.Seq = binary.BigEndian.Uint64(k)
			it.Fingerprint = afterDate(prints.Get(k))
			if sv := samples.Get(k); len(sv) > 8 {
				n, w := binary.Uvarint(sv[8:])
				if w > 0 && 8+w+int(n) <= len(sv) {
					it.Samples = bytes.Clone(sv[8+w+int(n):])
				}
			}
			return fn(storage.Record{Item: it})
		}); err != nil {
			return err
		}
		if err := each(bKeys, func(k, v []byte) error {
			key := &storage.Key{Key: string(k)}
			if isTombstone(v) {
				key.Pruned = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))).UTC()
			} else {
				key.Item = string(v)
			}
			return fn(storage.Record{Key: key})
		}); err != nil {
			return err
		}
		return each(bAlerts, func(k, v []byte) error {
			a, err := decodeJSON[storage.Alert](v)
			if err != nil {
				return err
			}
			a.ID = string(k)
			return fn(storage.Record{Alert: a})
		})
	})
}

// afterDate is a prints or seed samples value without its date (nil for
// none), copied out of the transaction's memory.
func afterDate(v []byte) []byte {
	if len(v) < 8 {
		return nil
	}
	return bytes.Clone(v[8:])
}
