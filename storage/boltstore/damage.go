package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// ErrDamaged is a store file that is not what raqib wrote: truncated,
// overwritten, or not a store at all. Raqib refuses it rather than read
// garbage or start over on top of it.
var ErrDamaged = errors.New("the store file is damaged")

// damagedAdvice is what to do about a damaged file.
const damagedAdvice = "stop raqib, keep the file for inspection, and restore the last backup (made by \"raqib store backup FILE\"); " +
	"or move the file aside to start an empty store; \"raqib store check\" lists what is wrong"

// DamagedError says which file is damaged, how, and what to do.
type DamagedError struct {
	Path string
	What string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("store %s is damaged (%s): %s", e.Path, e.What, damagedAdvice)
}

func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// checkBeforeOpen refuses what bbolt would take for a new store or read
// past its end: an empty file (bbolt writes a fresh store into it, so a
// store lost to a bad copy would silently start over) and a file shorter
// than two pages.
func checkBeforeOpen(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("open store %s: it is a folder; storage.path names the file", path)
	}
	switch size := fi.Size(); {
	case size == 0:
		return &DamagedError{path, "it is empty: 0 bytes"}
	case size < 2*int64(os.Getpagesize()):
		return &DamagedError{path, fmt.Sprintf("%d bytes, shorter than any store", size)}
	}
	want, err := headerLength(path)
	if err != nil || want == 0 {
		return err // no valid header: bbolt says so, in openError
	}
	if fi.Size() < want {
		return &DamagedError{path, fmt.Sprintf("truncated: %d bytes of the %d its header counts", fi.Size(), want)}
	}
	return nil
}

// headerLength reads the file's newest valid header (bbolt's meta page;
// there are two, written in turn) and returns the length it counts, or 0
// when neither is valid. bbolt maps the file and would read past a short
// file's end, which faults instead of failing.
func headerLength(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	const pageHeader, metaSize = 16, 64
	var best struct{ txid, length int64 }
	read := func(off int64) (pageSize uint32) {
		b := make([]byte, pageHeader+metaSize)
		if _, err := f.ReadAt(b, off); err != nil {
			return 0
		}
		m := b[pageHeader:]
		le := binary.LittleEndian
		h := fnv.New64a()
		h.Write(m[:56])
		if le.Uint32(m[0:]) != 0xED0CDAED || h.Sum64() != le.Uint64(m[56:]) {
			return 0
		}
		pageSize = le.Uint32(m[8:])
		if txid := int64(le.Uint64(m[48:])); txid >= best.txid {
			best.txid, best.length = txid, int64(le.Uint64(m[40:]))*int64(pageSize)
		}
		return pageSize
	}
	ps := read(0)
	if ps == 0 {
		ps = uint32(os.Getpagesize())
	}
	read(int64(ps))
	return best.length, nil
}

// openGuarded is bolt.Open with a damaged page (its free list, read at
// open) turned into the damaged-file error instead of a panic or a fault.
func openGuarded(path string, opt *bolt.Options) (db *bolt.DB, err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &DamagedError{path, fmt.Sprintf("opening it failed: %v", r)}
		}
	}()
	return bolt.Open(path, 0o600, opt)
}

// openError turns bbolt's complaints about a file's header into the
// damaged-file error.
func openError(path string, err error) error {
	if errors.Is(err, bolterr.ErrInvalid) || errors.Is(err, bolterr.ErrChecksum) || errors.Is(err, bolterr.ErrVersionMismatch) {
		return &DamagedError{path, "its header is not a store's: " + err.Error()}
	}
	return nil
}

// checkLength refuses a file shorter than its header says it is (cut
// short by a copy or a full disk): reading a page past the end would fault.
func (s *Bolt) checkLength() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	var want int64
	if err := s.db.View(func(tx *bolt.Tx) error { want = tx.Size(); return nil }); err != nil {
		return err
	}
	if fi.Size() < want {
		return &DamagedError{s.path, fmt.Sprintf("truncated: %d bytes of the %d it holds", fi.Size(), want)}
	}
	return nil
}

// checkAtOpen is the largest file whose every page is checked at open: a
// small store is read whole in a moment, a large one is checked by
// "raqib store check", and meets its damage, if any, when it reads it.
const checkAtOpen = 64 << 20

// checkPages runs bbolt's check of every page when the file is small.
func (s *Bolt) checkPages() error {
	fi, err := os.Stat(s.path)
	if err != nil || fi.Size() > checkAtOpen {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		var first error
		for e := range tx.Check() { // read to the end: the check runs beside
			if first == nil {
				first = e
			}
		}
		if first == nil {
			return nil
		}
		d := &DamagedError{s.path, "a check of its pages: " + first.Error()}
		s.damaged.CompareAndSwap(nil, d)
		return d
	})
}

// guard runs a transaction so that a damaged page, which bbolt meets with
// a panic or a fault on the mapped file, is an error naming the file, and
// the store refuses further work instead of writing on top of garbage.
func (s *Bolt) guard(run func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (err error) {
	if d := s.damaged.Load(); d != nil {
		return d
	}
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			d := &DamagedError{s.path, fmt.Sprintf("reading it failed: %v", r)}
			s.damaged.CompareAndSwap(nil, d)
			err = d
		}
	}()
	return run(fn)
}

func (s *Bolt) view(fn func(*bolt.Tx) error) error   { return s.guard(s.db.View, fn) }
func (s *Bolt) update(fn func(*bolt.Tx) error) error { return s.guard(s.db.Update, fn) }

// Damaged is the damage found so far, or nil.
func (s *Bolt) Damaged() error {
	if d := s.damaged.Load(); d != nil {
		return d
	}
	return nil
}

// Check reads the whole file: every page of every bucket (bbolt's own
// check), then raqib's records and indexes against each other. It calls
// problem with each thing wrong and returns how many there were; a read
// that fails outright is the error. It runs in a read transaction, so the
// daemon goes on writing meanwhile.
func (s *Bolt) Check(ctx context.Context, problem func(string)) (int, error) {
	n := 0
	report := func(format string, args ...any) {
		n++
		if problem != nil {
			problem(fmt.Sprintf(format, args...))
		}
	}
	err := s.view(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			report("pages: %v", e)
		}
		if n > 0 {
			return nil // the records cannot be trusted to read
		}
		return checkRecords(ctx, tx, report)
	})
	if err == nil && n > 0 {
		s.damaged.CompareAndSwap(nil, &DamagedError{s.path, fmt.Sprintf("%d problems found by a check", n)})
	}
	return n, err
}

// checkRecords checks that every item is known by its id and found by its
// indexes, and that every id names a stored item.
func checkRecords(ctx context.Context, tx *bolt.Tx, report func(string, ...any)) error {
	items, ids, bt, fetched, byStory := tx.Bucket(bItems), tx.Bucket(bIDs), tx.Bucket(bByTime), tx.Bucket(bFetched), tx.Bucket(bByStory)
	seen := 0
	err := items.ForEach(func(k, v []byte) error {
		if seen++; seen%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		it, err := decodeJSON[storage.Item](v)
		if err != nil {
			report("item %x: cannot be read: %v", k, err)
			return nil
		}
		seq := binary.BigEndian.Uint64(k)
		if got := seqOf(ids.Get([]byte(it.ID))); string(got) != string(k) {
			report("item %s: its id does not lead to it", it.ID)
		}
		if bt.Get(timeKey(it.Date(), seq)) == nil {
			report("item %s: missing from the time index", it.ID)
		}
		if fetched.Get(timeKey(it.Fetched, seq)) == nil {
			report("item %s: missing from the fetched index", it.ID)
		}
		if byStory.Get(storyKey(it.Cluster, seq)) == nil {
			report("item %s: missing from its story's index", it.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ids.ForEach(func(k, v []byte) error {
		if seq := seqOf(v); len(seq) == 8 && items.Get(seq) == nil {
			report("id %s: names an item that is not stored", k)
		}
		return nil
	})
}

// Backup writes a consistent copy of the store to w, from one read
// transaction: the daemon goes on writing meanwhile, and the copy is the
// store as of the backup's start.
// size, if not nil, learns the copy's length before it is written.
func (s *Bolt) Backup(ctx context.Context, w io.Writer, size func(int64)) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return n, err
}

// BackupFile writes the copy to path, whole or not at all: into a file
// beside it first, synced, then renamed over it.
func (s *Bolt) BackupFile(ctx context.Context, path string) (int64, error) {
	return WriteFileAtomically(path, func(w io.Writer) (int64, error) { return s.Backup(ctx, w, nil) })
}

// WriteFileAtomically writes path through a temporary file beside it,
// synced and renamed into place, so that a crash leaves the old file or
// the new one, never half of one.
func WriteFileAtomically(path string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return n, err
}

// ctxWriter stops a long copy when its context ends (a client that left).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
