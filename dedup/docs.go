package dedup

import (
	"bytes"
	"hash/maphash"
	"math"
	"time"
)

// docTable holds what the index knows of each document: its id and date,
// by ordinal. At a million documents a string and a map entry per id cost
// about 100 bytes each; here the ids lie end to end in one byte slice and
// are found through a map of their 64-bit hashes, about 35 bytes a
// document beyond the id itself. Ids whose hash another id already holds
// (vanishingly rare) go to a small map of their own, so lookups stay exact.
type docTable struct {
	ids    []byte
	ends   []uint32 // document o's id is ids[ends[o-1]:ends[o]]
	dates  []uint32 // unix seconds; 0 for seeds, which never expire
	dead   []bool
	byHash map[uint64]uint32
	clash  map[string]uint32
	live   int
}

var idSeed = maphash.MakeSeed()

func newDocTable() docTable {
	return docTable{byHash: map[uint64]uint32{}, clash: map[string]uint32{}}
}

// grow makes room for n more documents with idBytes bytes of ids.
func (t *docTable) grow(n, idBytes int) {
	if n <= 0 {
		return
	}
	t.ids = growTo(t.ids, idBytes)
	t.ends = growTo(t.ends, n)
	t.dates = growTo(t.dates, n)
	t.dead = growTo(t.dead, n)
	if len(t.byHash) == 0 {
		t.byHash = make(map[uint64]uint32, n)
	}
}

func growTo[T any](s []T, more int) []T {
	if cap(s)-len(s) >= more {
		return s
	}
	return append(make([]T, 0, len(s)+more), s...)
}

// id returns document o's id; the slice is the table's, not to be kept.
func (t *docTable) id(o uint32) []byte {
	start := uint32(0)
	if o > 0 {
		start = t.ends[o-1]
	}
	return t.ids[start:t.ends[o]]
}

// find returns the ordinal of a live document.
func (t *docTable) find(id []byte) (uint32, bool) {
	if o, ok := t.byHash[maphash.Bytes(idSeed, id)]; ok && bytes.Equal(t.id(o), id) {
		return o, true
	}
	o, ok := t.clash[string(id)]
	return o, ok
}

// add appends a document not in the table and returns its ordinal.
func (t *docTable) add(id []byte, date time.Time) uint32 {
	return t.appendDoc(id, unixDate(date))
}

func (t *docTable) appendDoc(id []byte, date uint32) uint32 {
	o := uint32(len(t.ends))
	t.ids = append(t.ids, id...)
	t.ends = append(t.ends, uint32(len(t.ids)))
	t.dates = append(t.dates, date)
	t.dead = append(t.dead, false)
	t.index(id, o)
	t.live++
	return o
}

// index makes document o findable by its id.
func (t *docTable) index(id []byte, o uint32) {
	h := maphash.Bytes(idSeed, id)
	if _, taken := t.byHash[h]; taken {
		t.clash[string(id)] = o
	} else {
		t.byHash[h] = o
	}
}

// kill marks document o dead and forgets its id; its ordinal stays taken.
func (t *docTable) kill(o uint32) {
	if t.dead[o] {
		return
	}
	t.dead[o] = true
	t.live--
	id := t.id(o)
	h := maphash.Bytes(idSeed, id)
	if p, ok := t.byHash[h]; ok && p == o {
		delete(t.byHash, h)
	} else {
		delete(t.clash, string(id))
	}
}

// unixDate is a date as the table keeps it: unix seconds, 0 for none.
func unixDate(d time.Time) uint32 {
	if d.IsZero() {
		return 0
	}
	return uint32(min(max(d.Unix(), 1), math.MaxUint32))
}

// gone marks a dead document in compact's mapping.
const gone = math.MaxUint32

// compact rebuilds the table without its dead documents once they are
// most of it, and returns each old ordinal's new one (gone for the dead);
// nil when it left the table as it was.
func (t *docTable) compact() []uint32 {
	n := len(t.ends)
	if n < 1024 || t.live*2 > n {
		return nil
	}
	remap := make([]uint32, n)
	idBytes := 0
	for o := range n {
		if !t.dead[o] {
			idBytes += len(t.id(uint32(o)))
		}
	}
	fresh := newDocTable()
	fresh.grow(t.live, idBytes)
	for o := range n {
		if t.dead[o] {
			remap[o] = gone
			continue
		}
		remap[o] = fresh.appendDoc(t.id(uint32(o)), t.dates[o])
	}
	*t = fresh
	return remap
}
