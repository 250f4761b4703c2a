package boltstore

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

// alertStore holds 23 alerts created a minute apart, some created at the
// same moment, in three states, one of them changed after its commit.
func alertStore(t *testing.T) (*Bolt, string) {
	t.Helper()
	ctx := context.Background()
	s, path := storeAt(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	states := []string{storage.AlertPending, storage.AlertDelivered, storage.AlertDelivered, storage.AlertFailed}
	for i := 0; i < 23; i++ {
		id := fmt.Sprintf("i%02d", i)
		created := base.Add(time.Duration(i-i%5) * time.Minute) // five at a time share a moment
		a := &storage.Alert{ID: fmt.Sprintf("a%02d", (i*7)%23), Rule: "r", Channel: "log", ItemID: id, Cluster: id, State: states[i%4], Created: created}
		if _, err := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: id, Fetched: created}}, Alerts: []*storage.Alert{a}}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Alert(ctx, "a07")
	if err != nil {
		t.Fatal(err)
	}
	a.State = storage.AlertFailed
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// checkAlertPages holds each listing, read in pages of 3 from each page's
// next, to every alert in the state sorted newest first by hand.
func checkAlertPages(t *testing.T, s *Bolt) {
	t.Helper()
	ctx := context.Background()
	all, err := s.Alerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"", storage.AlertPending, storage.AlertDelivered, storage.AlertFailed} {
		var want []string
		for _, a := range all {
			if state == "" || a.State == state {
				want = append(want, a.ID)
			}
		}
		byCreated := map[string]time.Time{}
		for _, a := range all {
			byCreated[a.ID] = a.Created
		}
		sort.Slice(want, func(i, j int) bool {
			ci, cj := byCreated[want[i]], byCreated[want[j]]
			return ci.After(cj) || ci.Equal(cj) && want[i] > want[j]
		})
		var got []string
		opt := storage.AlertListOptions{State: state, Limit: 3}
		for pages := 0; pages <= len(want); pages++ {
			as, next, err := s.ListAlerts(ctx, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if state != "" && a.State != state {
					t.Errorf("listing %q gave alert %s in state %s", state, a.ID, a.State)
				}
				got = append(got, a.ID)
			}
			if next == "" {
				break
			}
			opt.Before = next
		}
		if len(want) < 4 || !reflect.DeepEqual(got, want) {
			t.Errorf("alerts %q by pages of 3:\n got %v\nwant %v", state, got, want)
		}
		whole, next, err := s.ListAlerts(ctx, storage.AlertListOptions{State: state})
		if err != nil || next != "" || len(whole) != len(want) {
			t.Errorf("alerts %q in one read: %d, next %q, %v", state, len(whole), next, err)
		}
	}
	if _, _, err := s.ListAlerts(ctx, storage.AlertListOptions{Before: "zz"}); err == nil {
		t.Error("a bad cursor was taken")
	}
}

// checkAlertIndex holds the time index to the alerts: one entry each, with
// its state, and none for an alert that is gone.
func checkAlertIndex(t *testing.T, s *Bolt) {
	t.Helper()
	s.db.View(func(tx *bolt.Tx) error {
		want := map[string]string{}
		tx.Bucket(bAlerts).ForEach(func(k, v []byte) error {
			a, err := getJSON[storage.Alert](tx.Bucket(bAlerts), k)
			if err != nil {
				t.Fatal(err)
			}
			want[string(alertKey(a))] = a.State
			return nil
		})
		got := map[string]string{}
		tx.Bucket(bAlertTime).ForEach(func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("alert time index:\n got %q\nwant %q", got, want)
		}
		return nil
	})
}

func TestAlertListing(t *testing.T) {
	s, _ := alertStore(t)
	defer s.Close()
	checkAlertIndex(t, s)
	checkAlertPages(t, s)
}

// A schema 4 file has no alert time index: Open builds it, in several
// transactions.
func TestMigrateAlertIndex(t *testing.T) {
	s, path := alertStore(t)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bAlertTime); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("schema"), u64(4))
	}); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrating(t, s, path, 5)
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get([]byte("schema")); string(v) != string(u64(SchemaVersion)) {
			t.Errorf("schema %x after the migration", v)
		}
		if v := tx.Bucket(bMeta).Get([]byte("migrate.alerts")); v != nil {
			t.Errorf("the migration's mark stayed: %q", v)
		}
		return nil
	})
	checkAlertIndex(t, s)
	checkAlertPages(t, s)
}
