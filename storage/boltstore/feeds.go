package boltstore

import (
	"context"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

func (s *Bolt) Feed(_ context.Context, name string) (*storage.FeedState, error) {
	var f *storage.FeedState
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		f, err = getJSON[storage.FeedState](tx.Bucket(bFeeds), []byte(name))
		return err
	})
	return f, err
}

func (s *Bolt) Feeds(_ context.Context) ([]*storage.FeedState, error) {
	var out []*storage.FeedState
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bFeeds).ForEach(func(k, _ []byte) error {
			f, err := getJSON[storage.FeedState](tx.Bucket(bFeeds), k)
			if err == nil {
				out = append(out, f)
			}
			return err
		})
	})
	return out, err
}

// PutFeed saves a feed's state. Concurrent calls share a transaction
// (bbolt's Batch): a poll cycle saves thousands of states of feeds that
// answered 304, and one write transaction (and fsync) each would keep the
// single writer busy, making the commits of new items and the alert
// outbox's updates wait in line.
func (s *Bolt) PutFeeds(_ context.Context, fs []*storage.FeedState) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, f := range fs {
			if err := putJSON(tx.Bucket(bFeeds), []byte(f.Name), f); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Bolt) PutFeed(_ context.Context, f *storage.FeedState) error {
	return s.guard(s.db.Batch, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bFeeds), []byte(f.Name), f)
	})
}
