package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// Prune lists the failed alerts of stories that are gone, then deletes
// them in batches: one retried from the alerts page in between is pending
// by then, and stays, and the outbox can still be listed.
func TestPruneKeepsAnAlertRetriedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Now().Add(-40 * 24 * time.Hour)
	const n = 30000 // enough batches for the retry to land between them
	var as []*storage.Alert
	for i := 0; i < n; i++ {
		as = append(as, &storage.Alert{ID: fmt.Sprintf("al_%05d", i), Rule: "r", Channel: "hook", ItemID: fmt.Sprint("it", i),
			Cluster: fmt.Sprint("gone", i), State: storage.AlertFailed, Attempts: 10, Created: old.Add(time.Duration(i) * time.Second)})
	}
	if err := s.UpdateAlerts(ctx, as); err != nil {
		t.Fatal(err)
	}
	first, target := as[0].ID, as[n-1].ID
	pruned := make(chan error, 1)
	go func() { _, err := s.Prune(ctx, time.Now().Add(-30*24*time.Hour)); pruned <- err }()
	for { // the first batch is deleted: the listing is done
		if _, err := s.Alert(ctx, first); errors.Is(err, storage.ErrNotFound) {
			break
		}
	}
	a, err := s.Alert(ctx, target)
	if err != nil {
		t.Fatalf("the last alert went before the retry: %v", err)
	}
	a.State, a.Attempts, a.NextTry = storage.AlertPending, 0, time.Now()
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := <-pruned; err != nil {
		t.Fatal(err)
	}
	if got, err := s.Alert(ctx, target); err != nil || got.State != storage.AlertPending {
		t.Errorf("the retried alert after the prune: %+v, %v", got, err)
	}
	if pend, err := s.Alerts(ctx, storage.AlertPending); err != nil || len(pend) != 1 {
		t.Errorf("the outbox after the prune: %d pending, %v", len(pend), err)
	}
	if _, err := s.Alert(ctx, as[n-2].ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed alert of a story gone was kept: %v", err)
	}
}
