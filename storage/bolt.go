package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/klauspost/compress/flate"

	"github.com/raqib/raqib/parallel"

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
	allBucket = [][]byte{bMeta, bFeeds, bItems, bIDs, bKeys, bByTime, bClusters, bSeeds, bPrints, bAlerts, bPending, bSamples, bByRule, bByFeed, bStoryTime, bTombs, bAlertTime, bFetched}
)

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

// OpenBolt opens (creating if needed) the database file at path. A file held
// by another process gives ErrInUse within lockWait.
func OpenBolt(path string) (*Bolt, error) {
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
		return nil, fmt.Errorf("open store %s: %w", path, ErrInUse)
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
				var a Alert
				if json.Unmarshal(v, &a) == nil && a.State == AlertPending {
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

// migrateChunk is how many entries one migration transaction moves.
var migrateChunk = 5000

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
		switch version {
		case SchemaVersion:
			return nil
		case 1:
			if err := s.migrateDocsBySeq(); err != nil {
				return fmt.Errorf("migrate schema 1 to 2: %w", err)
			}
		case 2, 3:
			if err := s.migrateListIndexes(version); err != nil {
				return fmt.Errorf("migrate schema %d to 4: %w", version, err)
			}
		case 4:
			if err := s.migrateAlertIndex(); err != nil {
				return fmt.Errorf("migrate schema 4 to 5: %w", err)
			}
		case 5:
			// Schema 6 stores fingerprints of format 2 (title, lead and
			// facts), which raqib before it cannot read: nothing moves,
			// but the older binary is told to upgrade instead of failing
			// on every item. Format 1 fingerprints stay readable.
			if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("schema"), u64(6)) }); err != nil {
				return fmt.Errorf("migrate schema 5 to 6: %w", err)
			}
		case 6:
			if err := s.migrateFetchedIndex(); err != nil {
				return fmt.Errorf("migrate schema 6 to 7: %w", err)
			}
		default:
			return fmt.Errorf("schema version %d has no migration", version)
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

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func timeKey(t time.Time, seq uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano())+(1<<63)) // order negative times too
	binary.BigEndian.PutUint64(b[8:], seq)
	return b
}

// compressed marks a value stored deflated: items hold whole articles, and
// Arabic text deflates to about a third. The deflate is klauspost/compress's
// (the same format as compress/flate, which wrote older files): at its
// fastest level it compresses Arabic text 2.6 times as fast as the standard
// library, a little smaller, and its writers and readers are pooled because
// a new deflate writer allocates and clears about a megabyte.
const compressed = 0x01

var (
	writers = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}}
	readers     = sync.Pool{New: func() any { return flate.NewReader(nil) }}
	jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}
)

// inflate returns the decompressed form of a stored value.
func inflate(v []byte) ([]byte, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(v), nil); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, 4*len(v)))
	if _, err := out.ReadFrom(r); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func getJSON[T any](b *bolt.Bucket, key []byte) (*T, error) {
	v := b.Get(key)
	if v == nil {
		return nil, ErrNotFound
	}
	t, err := decodeJSON[T](v)
	if err != nil {
		return nil, fmt.Errorf("%w (key %q)", err, key)
	}
	return t, nil
}

// decodeJSON reads a stored value, deflated or not. It decodes with
// goccy/go-json, which reads what encoding/json reads (FuzzDecodeJSON holds
// the two to the same result): encoding/json checks an Arabic article's
// strings a character at a time, about 100 µs for a 9 KB item against 21,
// most of an export's or a text query's time.
func decodeJSON[T any](v []byte) (*T, error) {
	if len(v) > 0 && v[0] == compressed {
		raw, err := inflate(v[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		v = raw
	}
	var t T
	if err := fastjson.Unmarshal(v, &t); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &t, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // items hold HTML: escaping it costs time and space
	if err := enc.Encode(v); err != nil {
		return err
	}
	return b.Put(key, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// putItem stores an item's JSON, deflated when large (JSON never starts
// with 0x01). bbolt keeps the value slice until the transaction commits,
// so the stored bytes are a fresh copy; only the JSON buffer and the
// writer are reused.
func putItem(b *bolt.Bucket, key []byte, it *Item) error {
	js := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(js)
	raw, err := appendItemJSON((*js)[:0], it)
	if err != nil {
		return err
	}
	*js = raw // keeps the grown buffer for the next item
	if len(raw) < 512 {
		return b.Put(key, bytes.Clone(raw))
	}
	out := bytes.NewBuffer(make([]byte, 0, 1+len(raw)/2))
	out.WriteByte(compressed)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(out)
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return b.Put(key, out.Bytes())
}

func (s *Bolt) Feed(_ context.Context, name string) (*FeedState, error) {
	var f *FeedState
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		f, err = getJSON[FeedState](tx.Bucket(bFeeds), []byte(name))
		return err
	})
	return f, err
}

func (s *Bolt) Feeds(_ context.Context) ([]*FeedState, error) {
	var out []*FeedState
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bFeeds).ForEach(func(k, _ []byte) error {
			f, err := getJSON[FeedState](tx.Bucket(bFeeds), k)
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
func (s *Bolt) PutFeeds(_ context.Context, fs []*FeedState) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, f := range fs {
			if err := putJSON(tx.Bucket(bFeeds), []byte(f.Name), f); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Bolt) PutFeed(_ context.Context, f *FeedState) error {
	return s.guard(s.db.Batch, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bFeeds), []byte(f.Name), f)
	})
}

func (s *Bolt) LookupKeys(_ context.Context, keys []string) (string, error) {
	var id string
	err := s.view(func(tx *bolt.Tx) error {
		id = lookupKeys(tx, keys)
		return nil
	})
	return id, err
}

func lookupKeys(tx *bolt.Tx, keys []string) string {
	kb := tx.Bucket(bKeys)
	for _, k := range keys {
		if v := kb.Get([]byte(k)); v != nil {
			if isTombstone(v) {
				return Pruned
			}
			return string(v)
		}
	}
	return ""
}

// A pruned item's identity keys hold a tombstone, the time of the prune,
// instead of its id; the tombs bucket orders them by that time, so that
// pruning takes them out one retention period later.
func tombstone(t time.Time) []byte {
	v := make([]byte, 9)
	binary.BigEndian.PutUint64(v[1:], uint64(t.UnixNano()))
	return v
}

func isTombstone(v []byte) bool { return len(v) == 9 && v[0] == 0 }

func (s *Bolt) Commit(_ context.Context, batch *Batch) (*CommitResult, error) {
	res := &CommitResult{}
	err := s.update(func(tx *bolt.Tx) error {
		res.Stored, res.Skipped = nil, nil
		items, ids := tx.Bucket(bItems), tx.Bucket(bIDs)
		// These buckets are keyed by sequence number (bytime by date
		// first, mostly now): new keys go at the end, and a page that
		// splits is never written again. Split at bbolt's default of half
		// full, each would stay half empty.
		for _, b := range []*bolt.Bucket{items, tx.Bucket(bPrints), tx.Bucket(bSamples)} {
			b.FillPercent = 1
		}
		tx.Bucket(bByTime).FillPercent = 0.9
		tx.Bucket(bStoryTime).FillPercent = 0.9
		tx.Bucket(bFetched).FillPercent = 0.9
		for _, it := range batch.Items {
			if lookupKeys(tx, it.Keys) != "" || ids.Get([]byte(it.ID)) != nil {
				res.Skipped = append(res.Skipped, it)
				continue
			}
			seq, err := items.NextSequence()
			if err != nil {
				return err
			}
			it.Seq = seq
			if err := putItem(items, u64(seq), it); err != nil {
				return fmt.Errorf("store item %s: %w", it.ID, err)
			}
			// The cluster rides along with the sequence number so that a
			// duplicate's story is found without decoding the earlier item.
			if err := ids.Put([]byte(it.ID), append(u64(seq), it.Cluster...)); err != nil {
				return err
			}
			for _, k := range it.Keys {
				if err := tx.Bucket(bKeys).Put([]byte(k), []byte(it.ID)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bByTime).Put(timeKey(it.Date(), seq), []byte(it.ID)); err != nil {
				return err
			}
			if err := tx.Bucket(bFetched).Put(timeKey(it.Fetched, seq), nil); err != nil {
				return err
			}
			for _, r := range it.Rules {
				if err := tx.Bucket(bByRule).Put(indexKey(r, it.Date(), seq), []byte(it.Cluster)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bByFeed).Put(indexKey(it.Feed, it.Date(), seq), nil); err != nil {
				return err
			}
			if it.TextHash != "" && tx.Bucket(bKeys).Get([]byte("text:"+it.TextHash)) == nil {
				if err := tx.Bucket(bKeys).Put([]byte("text:"+it.TextHash), []byte(it.ID)); err != nil {
					return err
				}
			}
			if it.Fingerprint != nil {
				// History's window counts from when raqib saw the item.
				// Keyed by sequence, so that these puts append: keyed by
				// the id (a hash) each landed on a page of its own.
				if err := tx.Bucket(bPrints).Put(u64(seq), printValue(it.Fetched, it.Fingerprint)); err != nil {
					return err
				}
				if err := tx.Bucket(bSamples).Put(u64(seq), sampleValue(it.Fetched, it.ID, it.Samples)); err != nil {
					return err
				}
			}
			if err := addToCluster(tx, it); err != nil {
				return err
			}
			if err := linkDevelopment(tx, it); err != nil {
				return err
			}
			res.Stored = append(res.Stored, it)
		}
		stored := map[string]bool{}
		for _, it := range res.Stored {
			stored[it.ID] = true
		}
		ab := tx.Bucket(bAlerts)
		for _, a := range batch.Alerts {
			if !stored[a.ItemID] || ab.Get([]byte(a.ID)) != nil {
				continue // its item was skipped, or this story already alerted
			}
			if err := putAlert(tx, a); err != nil {
				return err
			}
		}
		if batch.Feed != nil {
			batch.Feed.Items += len(res.Stored)
			if err := putJSON(tx.Bucket(bFeeds), []byte(batch.Feed.Name), batch.Feed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if batch.Feed != nil {
			batch.Feed.Items -= len(res.Stored)
		}
		return nil, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

func printValue(date time.Time, data []byte) []byte {
	v := make([]byte, 8+len(data))
	if !date.IsZero() {
		binary.BigEndian.PutUint64(v, uint64(date.UnixNano()))
	}
	copy(v[8:], data)
	return v
}

// sampleValue is an item's entry in the samples bucket: the id rides
// along because the key is the sequence number.
func sampleValue(date time.Time, id string, samples []byte) []byte {
	v := make([]byte, 8, 8+binary.MaxVarintLen64+len(id)+len(samples))
	if !date.IsZero() {
		binary.BigEndian.PutUint64(v, uint64(date.UnixNano()))
	}
	v = binary.AppendUvarint(v, uint64(len(id)))
	v = append(v, id...)
	return append(v, samples...)
}

// isSeqKey tells an item's sequence-number key (8 bytes, the first 0
// below 2^56) from a seed's "seed:" id.
func isSeqKey(k []byte) bool { return len(k) == 8 && k[0] == 0 }

func addToCluster(tx *bolt.Tx, it *Item) error {
	c, err := getJSON[Cluster](tx.Bucket(bClusters), []byte(it.Cluster))
	existed := err == nil
	if errors.Is(err, ErrNotFound) {
		c = &Cluster{ID: it.Cluster, Title: it.Title, First: it.Date()}
	} else if err != nil {
		return err
	}
	before := c.Updated
	c.Size++
	found := false
	for _, f := range c.Feeds {
		found = found || f == it.Feed
	}
	if !found {
		c.Feeds = append(c.Feeds, it.Feed)
	}
	c.Updated = it.Fetched
	return putCluster(tx, c, before, existed)
}

// seqOf is the items-bucket key in an ids value.
func seqOf(v []byte) []byte {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

func (s *Bolt) Item(_ context.Context, id string) (*Item, error) {
	var it *Item
	err := s.view(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bIDs).Get([]byte(id))
		if seq == nil {
			return ErrNotFound
		}
		var err error
		it, err = getJSON[Item](tx.Bucket(bItems), seqOf(seq))
		return err
	})
	return it, err
}

func (s *Bolt) ItemCluster(_ context.Context, id string) (string, error) {
	var c string
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bIDs).Get([]byte(id))
		switch {
		case v == nil:
			return ErrNotFound
		case len(v) > 8:
			c = string(v[8:])
			return nil
		}
		it, err := getJSON[Item](tx.Bucket(bItems), v) // a file from before the cluster was kept in ids
		if err == nil {
			c = it.Cluster
		}
		return err
	})
	return c, err
}

func (s *Bolt) Items(ctx context.Context, opt ListOptions) ([]*Item, error) {
	// A rule is rarer than a feed: its index is the shorter read.
	switch {
	case opt.Rule != "":
		return s.indexedItems(ctx, bByRule, opt.Rule, opt)
	case opt.Feed != "":
		return s.indexedItems(ctx, bByFeed, opt.Feed, opt)
	}
	var out []*Item
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bByTime).Cursor()
		ids := tx.Bucket(bIDs)
		k, v := c.Last()
		if !opt.Before.IsZero() {
			k, v = lastBefore(c, timeKey(opt.Before.Date, opt.Before.Seq))
		}
		n := 0
		var err error
		out, err = newestFirst(ctx, tx.Bucket(bItems), opt, func() []byte {
			for ; k != nil; k, v = c.Prev() {
				if n++; n%unmapEvery == 0 {
					unmapScanned(s.db, tx)
				}
				if seq := ids.Get(v); seq != nil {
					k, v = c.Prev()
					return seqOf(seq)
				}
			}
			return nil
		})
		return err
	})
	return out, err
}

// newestFirst reads the items whose sequence numbers next gives, newest
// first until it gives nil, and lists those opt keeps, up to opt.Since and
// opt.Limit. A filter that keeps little can read back through all history
// (a text query): it stops when ctx ends, as when the client goes away.
//
// A listing that may read far (a filter, or no limit or a long one, as an
// export's pages) decodes and filters the items on every core, a batch at
// a time: decoding (inflate, JSON) and a text query's matching are nearly
// all of its time. A short one reads one item at a time, so as not to
// decode a batch to show a few.
func newestFirst(ctx context.Context, items *bolt.Bucket, opt ListOptions, next func() []byte) ([]*Item, error) {
	batch := 1
	if opt.Match != nil || opt.Limit == 0 || opt.Limit > parallelBatch {
		batch = parallelBatch
	}
	tooOld := func(it *Item) bool { return !opt.Since.IsZero() && it.Date().Before(opt.Since) }
	var out []*Item
	raw := make([][]byte, 0, batch)
	decoded := make([]*Item, batch)
	kept := make([]bool, batch)
	errs := make([]error, batch)
	for more := true; more; {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		raw = raw[:0]
		for len(raw) < batch {
			seq := next()
			if seq == nil {
				more = false
				break
			}
			v := items.Get(seq)
			if v == nil {
				return out, fmt.Errorf("%w (key %q)", ErrNotFound, seq)
			}
			raw = append(raw, v)
		}
		parallel.Each(len(raw), func(i int) {
			decoded[i], errs[i] = decodeJSON[Item](raw[i])
			kept[i] = errs[i] == nil && !tooOld(decoded[i]) && opt.keep(decoded[i])
		})
		for i := range raw {
			switch {
			case errs[i] != nil:
				return out, errs[i]
			case tooOld(decoded[i]):
				return out, nil
			case !kept[i]:
				continue
			}
			out = append(out, decoded[i])
			if opt.Limit > 0 && len(out) >= opt.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// parallelBatch is how many items a long listing decodes at once.
const parallelBatch = 64

func hasString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Bolt) ItemCount(_ context.Context) (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bIDs).Stats().KeyN
		return nil
	})
	return n, err
}

func (s *Bolt) Cluster(_ context.Context, id string) (*Cluster, error) {
	var c *Cluster
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		c, err = getJSON[Cluster](tx.Bucket(bClusters), []byte(id))
		return err
	})
	return c, err
}

func (s *Bolt) PutSeeds(_ context.Context, seeds []*Seed) (int, error) {
	added := 0
	err := s.update(func(tx *bolt.Tx) error {
		added = 0
		sb := tx.Bucket(bSeeds)
		for _, sd := range seeds {
			old, err := getJSON[Seed](sb, []byte(sd.Name))
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
			if old == nil {
				c := &Cluster{ID: sd.ID(), Size: 1, Feeds: []string{"seeds"}, Title: firstLine(sd.Text), First: sd.Date, Updated: sd.Imported}
				if err := putCluster(tx, c, time.Time{}, false); err != nil {
					return err
				}
			}
			added++
		}
		return nil
	})
	return added, err
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	r := []rune(s)
	if len(r) > 120 {
		return string(r[:120]) + "…"
	}
	return s
}

func (s *Bolt) Seeds(_ context.Context) ([]*Seed, error) {
	var out []*Seed
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSeeds).ForEach(func(k, v []byte) error {
			var sd Seed
			if err := json.Unmarshal(v, &sd); err != nil {
				return fmt.Errorf("decode seed %s: %w", k, err)
			}
			out = append(out, &sd)
			return nil
		})
	})
	return out, err
}

func (s *Bolt) Seed(_ context.Context, name string) (*Seed, error) {
	var sd *Seed
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		sd, err = getJSON[Seed](tx.Bucket(bSeeds), []byte(name))
		return err
	})
	return sd, err
}

func (s *Bolt) Fingerprints(_ context.Context, since time.Time, fn func(Fingerprint) error) error {
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
			return fn(Fingerprint{DocID: id, Date: date, Data: data})
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
			if err := fn(v[8:]); errors.Is(err, ErrStop) {
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

func (s *Bolt) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	s.longestHold.Store(0)
	pending, pendingStories := map[string]bool{}, map[string]bool{}
	as, err := s.Alerts(ctx, AlertPending)
	if err != nil {
		return 0, err
	}
	for _, a := range as {
		pending[a.ItemID], pendingStories[a.Cluster] = true, true
	}
	keep, err := s.seqsOf(pending)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		// What to delete is read from the fetched index, in a read
		// transaction: the write transactions below only delete.
		dead, err := s.expired(cutoff, keep, pruneRead)
		if err != nil || len(dead) == 0 {
			if err == nil {
				break
			}
			return total, err
		}
		err = s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (bool, error) {
			n, err := s.pruneItems(tx, &dead, limit)
			total += n
			return len(dead) > 0, err
		})
		if err != nil {
			return total, err
		}
	}
	if err := s.pruneStories(ctx, cutoff, pendingStories); err != nil {
		return total, fmt.Errorf("prune stories: %w", err)
	}
	// The keys' tombstones stay one retention period more.
	if err := s.sweepTombs(ctx, cutoff); err != nil {
		return total, fmt.Errorf("prune identity keys: %w", err)
	}
	return total, nil
}

// LongestPruneHold is how long the last Prune held the writer at most in
// one transaction, commit included.
func (s *Bolt) LongestPruneHold() time.Duration { return time.Duration(s.longestHold.Load()) }

// pruneRead is how many expired items one read of the fetched index
// lists; pruneHold is how long one write transaction of pruning goes on
// deleting before it commits and lets the pipeline write.
const (
	pruneRead = 20000
	pruneHold = 40 * time.Millisecond
	// pruneBatchMax is the most stories, alerts or tombstones one write
	// transaction deletes; fewer when the last transaction took longer
	// than pruneHold (their keys are hashes, so each delete dirties a page
	// of its own, and the commit writes them all).
	pruneBatchMax = 2000
)

// seqsOf gives the sequence numbers of the items with these ids.
func (s *Bolt) seqsOf(ids map[string]bool) (map[uint64]bool, error) {
	out := make(map[uint64]bool, len(ids))
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bIDs)
		for id := range ids {
			if seq := seqOf(b.Get([]byte(id))); len(seq) == 8 {
				out[binary.BigEndian.Uint64(seq)] = true
			}
		}
		return nil
	})
	return out, err
}

// expired lists up to max keys of the fetched index before cutoff, but
// those of items to keep.
func (s *Bolt) expired(cutoff time.Time, keep map[uint64]bool, max int) ([][]byte, error) {
	var out [][]byte
	floor := timeKey(cutoff, 0)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bFetched).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, floor) < 0 && len(out) < max; k, _ = c.Next() {
			if !keep[binary.BigEndian.Uint64(k[8:])] {
				out = append(out, bytes.Clone(k))
			}
		}
		unmapScanned(s.db, tx)
		return nil
	})
	return out, err
}

// inSizedBatches is inBatches for deletes: each step deletes at most
// limit entries, and limit follows how long the last transaction held the
// writer, commit included, so that none holds it much longer than
// pruneHold.
func (s *Bolt) inSizedBatches(ctx context.Context, step func(tx *bolt.Tx, limit int) (more bool, err error)) error {
	limit := 64
	for more := true; more; {
		start := time.Now()
		if err := s.hold(func(tx *bolt.Tx) (err error) {
			more, err = step(tx, limit)
			return err
		}); err != nil {
			return err
		}
		switch took := time.Since(start); {
		case took > pruneHold && limit > 1:
			limit = max(1, int(float64(limit)*float64(pruneHold)/float64(took)))
		case took < pruneHold/2:
			limit = min(pruneBatchMax, limit*2)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// pruneItems deletes up to limit items named by fetched-index keys from
// the front of *dead, and takes what it went through off *dead.
func (s *Bolt) pruneItems(tx *bolt.Tx, dead *[][]byte, limit int) (int, error) {
	n, done := 0, 0
	now := time.Now()
	defer func() { *dead = (*dead)[done:] }()
	items, fb := tx.Bucket(bItems), tx.Bucket(bFetched)
	for _, k := range *dead {
		if done == limit || done > 0 && time.Since(now) > pruneHold {
			break
		}
		done++
		seqKey := k[8:]
		seq := binary.BigEndian.Uint64(seqKey)
		if err := fb.Delete(k); err != nil {
			return n, err
		}
		v := items.Get(seqKey)
		if v == nil {
			continue // gone since it was listed
		}
		s.pruneDecodes.Add(1)
		it, err := decodeJSON[Item](v)
		if err != nil {
			return n, fmt.Errorf("item %d: %w", seq, err)
		}
		for _, del := range []struct {
			b   []byte
			key []byte
		}{
			{bItems, seqKey}, {bIDs, []byte(it.ID)}, {bPrints, seqKey}, {bSamples, seqKey},
			{bByTime, timeKey(it.Date(), seq)}, {bByFeed, indexKey(it.Feed, it.Date(), seq)},
		} {
			if err := tx.Bucket(del.b).Delete(del.key); err != nil {
				return n, err
			}
		}
		for _, r := range it.Rules {
			if err := tx.Bucket(bByRule).Delete(indexKey(r, it.Date(), seq)); err != nil {
				return n, err
			}
		}
		if err := buryKeys(tx, it, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// hold runs a write transaction and notes how long it held the writer.
func (s *Bolt) hold(fn func(tx *bolt.Tx) error) error {
	start := time.Now()
	err := s.update(fn)
	if d := int64(time.Since(start)); d > s.longestHold.Load() {
		s.longestHold.Store(d)
	}
	return err
}

// pruneStories deletes the stories whose last item came before cutoff
// (their items went before them), except seeds' stories and those pending
// alerts need, and then the delivered or failed alerts of the stories that
// went. An alert of a story still told stays, however old, so that the
// story does not alert again. Without this a desk's file kept growing by
// a story for most items and by every alert.
func (s *Bolt) pruneStories(ctx context.Context, cutoff time.Time, keep map[string]bool) error {
	floor := timeIDKey(cutoff, "")
	err := s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		st, cb := tx.Bucket(bStoryTime), tx.Bucket(bClusters)
		var dead [][]byte
		c := st.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], floor[:8]) < 0; k, _ = c.Next() {
			if len(dead) == limit {
				more = true
				break
			}
			if id := string(k[8:]); !strings.HasPrefix(id, "seed:") && !keep[id] {
				dead = append(dead, bytes.Clone(k))
			}
		}
		for _, k := range dead {
			if err := st.Delete(k); err != nil {
				return false, err
			}
			if err := cb.Delete(k[8:]); err != nil {
				return false, err
			}
		}
		return more, nil
	})
	if err != nil {
		return err
	}
	// The alerts of stories that are gone: those created before the
	// cutoff, read from the time index, then deletes in batches.
	var dead [][]byte
	err = s.view(func(tx *bolt.Tx) error {
		cb, ab := tx.Bucket(bClusters), tx.Bucket(bAlerts)
		end := timeIDKey(cutoff, "")
		c := tx.Bucket(bAlertTime).Cursor()
		for k, state := c.First(); k != nil && bytes.Compare(k, end) < 0; k, state = c.Next() {
			if string(state) == AlertPending {
				continue
			}
			a, err := getJSON[Alert](ab, k[8:])
			if err != nil {
				return fmt.Errorf("alert %s: %w", k[8:], err)
			}
			if cb.Get([]byte(a.Cluster)) == nil {
				dead = append(dead, bytes.Clone(k)) // the alert's id follows its time
			}
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return err
	}
	return s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		batch := dead[:min(len(dead), limit)]
		dead = dead[len(batch):]
		for _, k := range batch {
			if err := tx.Bucket(bAlerts).Delete(k[8:]); err != nil {
				return false, err
			}
			if err := tx.Bucket(bAlertTime).Delete(k); err != nil {
				return false, err
			}
		}
		return len(dead) > 0, nil
	})
}

// buryKeys puts tombstones in a pruned item's identity keys, so that a
// feed still listing it does not bring it back as new, and takes out its
// text key: an exact copy of a text no longer stored is a new item.
func buryKeys(tx *bolt.Tx, it *Item, now time.Time) error {
	kb, tb := tx.Bucket(bKeys), tx.Bucket(bTombs)
	for _, k := range it.Keys {
		if string(kb.Get([]byte(k))) != it.ID {
			continue // another item's (or a file's from before ids were kept)
		}
		if err := kb.Put([]byte(k), tombstone(now)); err != nil {
			return err
		}
		if err := tb.Put(append(u64(uint64(now.UnixNano())), k...), nil); err != nil {
			return err
		}
	}
	if it.TextHash != "" && string(kb.Get([]byte("text:"+it.TextHash))) == it.ID {
		return kb.Delete([]byte("text:" + it.TextHash))
	}
	return nil
}

// sweepTombs takes out the tombstones laid before cutoff, one retention
// period after their items went: a feed that still lists an item that old
// is rare, and without this the keys grew by about 100 bytes an item for
// good.
func (s *Bolt) sweepTombs(ctx context.Context, cutoff time.Time) error {
	floor := u64(uint64(cutoff.UnixNano()))
	return s.inSizedBatches(ctx, func(tx *bolt.Tx, limit int) (more bool, err error) {
		kb, tb := tx.Bucket(bKeys), tx.Bucket(bTombs)
		var dead [][]byte
		c := tb.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], floor) < 0; k, _ = c.Next() {
			if len(dead) == limit {
				more = true
				break
			}
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			// A key buried again later holds a later time: it stays.
			if v := kb.Get(k[8:]); isTombstone(v) && bytes.Equal(v[1:], k[:8]) {
				if err := kb.Delete(k[8:]); err != nil {
					return false, err
				}
			}
			if err := tb.Delete(k); err != nil {
				return false, err
			}
		}
		return more, nil
	})
}

// inBatches runs step in write transactions of its own until it says there
// is no more, so that a long clean-up or migration does not hold the writer
// for long, and a crash keeps the batches done.
func (s *Bolt) inBatches(ctx context.Context, step func(tx *bolt.Tx) (more bool, err error)) error {
	for more := true; more; {
		if err := s.hold(func(tx *bolt.Tx) (err error) {
			more, err = step(tx)
			return err
		}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Bolt) Fingerprint(_ context.Context, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		key := []byte(id)
		if !strings.HasPrefix(id, "seed:") {
			if key = seqOf(tx.Bucket(bIDs).Get(key)); key == nil {
				return ErrNotFound
			}
		}
		v := tx.Bucket(bPrints).Get(key)
		if len(v) < 8 {
			return ErrNotFound
		}
		out = append([]byte(nil), v[8:]...)
		return nil
	})
	return out, err
}

// putAlert stores an alert and keeps the pending index in step, so that the
// dispatcher reads the outbox's pending alerts, not the whole history.
func putAlert(tx *bolt.Tx, a *Alert) error {
	if err := putJSON(tx.Bucket(bAlerts), []byte(a.ID), a); err != nil {
		return err
	}
	if err := tx.Bucket(bAlertTime).Put(alertKey(a), []byte(a.State)); err != nil {
		return err
	}
	if a.State == AlertPending {
		return tx.Bucket(bPending).Put([]byte(a.ID), nil)
	}
	return tx.Bucket(bPending).Delete([]byte(a.ID))
}

func (s *Bolt) Alerts(_ context.Context, state string) ([]*Alert, error) {
	var out []*Alert
	err := s.view(func(tx *bolt.Tx) error {
		if state == AlertPending {
			ab := tx.Bucket(bAlerts)
			return tx.Bucket(bPending).ForEach(func(k, _ []byte) error {
				a, err := getJSON[Alert](ab, k)
				if err != nil {
					return fmt.Errorf("pending alert %s: %w", k, err)
				}
				out = append(out, a)
				return nil
			})
		}
		return tx.Bucket(bAlerts).ForEach(func(k, v []byte) error {
			var a Alert
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

func (s *Bolt) Alert(_ context.Context, id string) (*Alert, error) {
	var a *Alert
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		a, err = getJSON[Alert](tx.Bucket(bAlerts), []byte(id))
		return err
	})
	return a, err
}

func (s *Bolt) UpdateAlert(_ context.Context, a *Alert) error {
	return s.update(func(tx *bolt.Tx) error { return putAlert(tx, a) })
}

func (s *Bolt) UpdateAlerts(_ context.Context, as []*Alert) error {
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
