package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

var (
	bMeta     = []byte("meta")
	bFeeds    = []byte("feeds")
	bItems    = []byte("items")    // seq (8 bytes) -> Item JSON
	bIDs      = []byte("ids")      // item id -> seq (8) | cluster id (older files: seq alone)
	bKeys     = []byte("keys")     // identity key -> item id, or a tombstone: 0 | prune time nanos (8)
	bTombs    = []byte("tombs")    // prune time nanos (8) | identity key -> nothing
	bByTime   = []byte("bytime")   // date nanos (8) | seq (8) -> item id
	bClusters = []byte("clusters") // cluster id -> Cluster JSON
	bSeeds    = []byte("seeds")    // file name -> Seed JSON
	bPrints   = []byte("prints")   // item seq (8) or seed id -> date nanos (8) | fingerprint
	bAlerts   = []byte("alerts")   // alert id -> Alert JSON
	bPending  = []byte("pending")  // alert id -> nothing: the outbox's pending alerts
	bSamples  = []byte("samples")  // item seq (8) -> date (8) | id length (uvarint) | id | samples; seed id -> date (8) | samples
	bFetched  = []byte("fetched")  // time first seen (timeKey) | seq (8) -> nothing: what pruning reads
	allBucket = [][]byte{bMeta, bFeeds, bItems, bIDs, bKeys, bByTime, bClusters, bSeeds, bPrints, bAlerts, bPending, bSamples, bByRule, bByFeed, bStoryTime, bTombs, bAlertTime, bFetched, bByStory, bFeedDays, bStorySize}
)

// SchemaVersion is written to the meta bucket; Open migrates older files.
const SchemaVersion = 9

// Bolt is the embedded BoltDB store.
type Bolt struct {
	db      *bolt.DB
	path    string
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
	// longestHold is the last prune's longest write transaction (nanos).
	longestHold atomic.Int64
	// pruneDecodes counts the items pruning decoded, for its tests.
	pruneDecodes atomic.Int64
	// damaged is set when a transaction met a damaged page.
	damaged atomic.Pointer[DamagedError]
}

// unmapEvery is how many records a long scan reads between letting go of
// the mapped file pages (unmapScanned).
const unmapEvery = 8192

// unmapPeriod is how often the store lets go of the pages its reads and
// commits have mapped: a poll's key lookups and commits touch pages
// scattered over the file (identity keys are hashes), and the kernel maps
// about 64 KiB around each.
const unmapPeriod = 100 * time.Millisecond

// Open opens (creating if needed) the database file at path. A file held
// by another process gives ErrInUse within lockWait.
func Open(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := checkBeforeOpen(path); err != nil {
		return nil, err
	}
	db, err := openGuarded(path, &bolt.Options{Timeout: 500 * time.Millisecond, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, ErrDamaged) {
		return nil, err
	}
	if d := openError(path, err); d != nil {
		return nil, d
	}
	if errors.Is(err, bolterr.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, storage.ErrInUse)
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("open store %s: raqib cannot write it (a read-only file or folder?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Bolt{db: db, path: path, stop: make(chan struct{}), done: make(chan struct{})}
	err = s.checkLength()
	if err == nil {
		err = s.checkPages()
	}
	if err == nil {
		err = s.init()
	}
	if err == nil {
		err = s.migrate()
	}
	if err != nil {
		db.Close()
		if errors.Is(err, ErrDamaged) {
			return nil, err
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	go s.unmapLoop()
	return s, nil
}

func (s *Bolt) init() error {
	// A file that has everything is only read: an open does not write
	// (a read command leaves the file as it was, and a damaged file is not
	// written on before its damage shows).
	ready := false
	if err := s.view(func(tx *bolt.Tx) error {
		for _, name := range allBucket {
			if tx.Bucket(name) == nil {
				return nil
			}
		}
		v := tx.Bucket(bMeta).Get([]byte("schema"))
		ready = v != nil && binary.BigEndian.Uint64(v) <= SchemaVersion
		if v != nil && binary.BigEndian.Uint64(v) > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this raqib understands (%d): upgrade raqib", binary.BigEndian.Uint64(v), SchemaVersion)
		}
		return nil
	}); err != nil || ready {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		hadPending := tx.Bucket(bPending) != nil
		for _, name := range allBucket {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if !hadPending {
			// A file from before the pending index: build it.
			pb := tx.Bucket(bPending)
			if err := tx.Bucket(bAlerts).ForEach(func(k, v []byte) error {
				var a storage.Alert
				if json.Unmarshal(v, &a) == nil && a.State == storage.AlertPending {
					return pb.Put(k, nil)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		v := meta.Get([]byte("schema"))
		switch {
		case v == nil:
			return meta.Put([]byte("schema"), u64(SchemaVersion))
		case binary.BigEndian.Uint64(v) > SchemaVersion:
			return fmt.Errorf("schema version %d is newer than this raqib understands (%d): upgrade raqib", binary.BigEndian.Uint64(v), SchemaVersion)
		}
		return nil
	})
}

// Path is the database file.
func (s *Bolt) Path() string { return s.path }

// DB exposes the bolt handle for consistency checks in tests and tools.
func (s *Bolt) DB() *bolt.DB { return s.db }

func (s *Bolt) Close() error {
	s.stopUnmapping()
	return s.db.Close()
}

// stopUnmapping ends unmapLoop and waits for it.
func (s *Bolt) stopUnmapping() {
	s.closing.Do(func() {
		close(s.stop)
		<-s.done
	})
}

// unmapLoop lets go of mapped pages every unmapPeriod until Close.
func (s *Bolt) unmapLoop() {
	defer close(s.done)
	t := time.NewTicker(unmapPeriod)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.view(func(tx *bolt.Tx) error {
				unmapScanned(s.db, tx)
				return nil
			})
		}
	}
}

var (
	writers = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}}
	readers     = sync.Pool{New: func() any { return flate.NewReader(nil) }}
	jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}
)
