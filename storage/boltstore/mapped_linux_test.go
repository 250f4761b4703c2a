package boltstore

import (
	"bufio"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// rssFile is the process's resident memory of mapped files, in KiB.
func rssFile(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// Reading the whole file through the map makes it resident; letting go of
// the mapping gives that back, and the data still reads the same.
func TestUnmapScannedReleasesMappedPages(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The store's own periodic release would race with the measurement.
	s.stopUnmapping()
	const values, size = 640, 64 << 10 // 40 MiB
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("scratch"))
		if err != nil {
			return err
		}
		for i := 0; i < values; i++ {
			v := make([]byte, size)
			rand.Read(v)
			if err := b.Put(u64(uint64(i)), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sum := func(tx *bolt.Tx) (n uint64) {
		tx.Bucket([]byte("scratch")).ForEach(func(_, v []byte) error {
			for i := 0; i < len(v); i += 512 {
				n += uint64(v[i])
			}
			return nil
		})
		return n
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		before := sum(tx)
		read := rssFile(t)
		unmapScanned(s.db, tx)
		after := rssFile(t)
		if read-after < 30<<10 {
			t.Errorf("mapped file pages: %d KiB after reading 40 MiB, %d KiB after letting go; want 30 MiB fewer", read, after)
		}
		if again := sum(tx); again != before {
			t.Errorf("data read %d after letting go of the pages, %d before", again, before)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
