package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/storagetest"
)

// TestConformance holds the BoltDB engine to the storage.Store contract
// that every engine meets.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(filepath.Join(t.TempDir(), "raqib.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}
