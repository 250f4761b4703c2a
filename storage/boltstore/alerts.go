package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

// putAlert stores an alert and keeps the pending index in step, so that the
// dispatcher reads the outbox's pending alerts, not the whole history.
func putAlert(tx *bolt.Tx, a *storage.Alert) error {
	if err := putJSON(tx.Bucket(bAlerts), []byte(a.ID), a); err != nil {
		return err
	}
	if err := tx.Bucket(bAlertTime).Put(alertKey(a), []byte(a.State)); err != nil {
		return err
	}
	if a.State == storage.AlertPending {
		return tx.Bucket(bPending).Put([]byte(a.ID), nil)
	}
	return tx.Bucket(bPending).Delete([]byte(a.ID))
}

func (s *Bolt) Alerts(_ context.Context, state string) ([]*storage.Alert, error) {
	var out []*storage.Alert
	err := s.view(func(tx *bolt.Tx) error {
		if state == storage.AlertPending {
			ab := tx.Bucket(bAlerts)
			return tx.Bucket(bPending).ForEach(func(k, _ []byte) error {
				a, err := getJSON[storage.Alert](ab, k)
				if errors.Is(err, storage.ErrNotFound) {
					// An index entry whose alert is gone (a prune that
					// raced a retry, before prune looked again) names
					// nothing to send: the outbox goes on without it.
					return nil
				}
				if err != nil {
					return fmt.Errorf("pending alert %s: %w", k, err)
				}
				out = append(out, a)
				return nil
			})
		}
		return tx.Bucket(bAlerts).ForEach(func(k, v []byte) error {
			var a storage.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %s: %w", k, err)
			}
			if state == "" || a.State == state {
				out = append(out, &a)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

func (s *Bolt) Alert(_ context.Context, id string) (*storage.Alert, error) {
	var a *storage.Alert
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		a, err = getJSON[storage.Alert](tx.Bucket(bAlerts), []byte(id))
		return err
	})
	return a, err
}

func (s *Bolt) UpdateAlert(_ context.Context, a *storage.Alert) error {
	return s.update(func(tx *bolt.Tx) error { return putAlert(tx, a) })
}

func (s *Bolt) UpdateAlerts(_ context.Context, as []*storage.Alert) error {
	if len(as) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, a := range as {
			if err := putAlert(tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}
