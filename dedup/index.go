package dedup

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// maxPosting bounds how many documents one sampled shingle points to: the
// oldest ones are kept. A story copied a thousand times is still found
// through its first copies (they share its cluster), and a stock phrase or
// site furniture held by every article costs a bounded amount per lookup.
const maxPosting = 64

// Index maps sampled shingles to the documents that hold them. The bulk is
// a sorted table of 6-byte entries (postingTable) searched by binary
// search; recent additions sit in a small map until merged.
type Index struct {
	mu    sync.RWMutex
	docs  docTable
	base  postingTable
	delta deltaTable
	load  loader // only while loading at start

	spareMu sync.Mutex
	spare   *tally // a lookup's tally, kept for the next
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{docs: newDocTable(), delta: newDeltaTable()}
}

// Len is the number of documents indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.docs.live
}

// Add indexes a document's samples (false, and nothing changes, when
// its id is indexed already); a zero date marks a document that
// never leaves the window (a seed).
func (ix *Index) Add(id string, date time.Time, samples []uint32) (added bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.docs.find([]byte(id)); ok {
		return false
	}
	ord := ix.docs.add([]byte(id), date)
	for _, s := range samples {
		if n := ix.delta.count(s); n >= maxPosting || ix.baseCount(s)+n >= maxPosting {
			continue
		}
		ix.delta.add(s, ord)
	}
	if n := len(ix.delta.entries); n > 65536 && n > ix.base.len()/4 {
		ix.merge()
	}
	return true
}

// Loading at start is two passes over the stored documents: Count each
// one's id and samples, Grow, then Load each, and Seal. The counts let
// every slice be allocated once at its final size and each entry be put
// straight into its place.

// Count notes a document that Load will add.
func (ix *Index) Count(idLen int, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.load.count(samples)
	ix.load.docs++
	ix.load.idBytes += idLen
}

// Grow allocates for what Count noted.
func (ix *Index) Grow() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.docs.grow(ix.load.docs, ix.load.idBytes)
	if ix.base.len() == 0 && len(ix.delta.entries) == 0 {
		ix.load.allocate()
	}
}

// Load adds a document at start. Neither id nor samples are kept: the
// caller may reuse them. A document Count did not note still goes in,
// by way of the map of recent additions.
func (ix *Index) Load(id []byte, date time.Time, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.docs.find(id); ok {
		return
	}
	ord := ix.docs.add(id, date)
	for _, s := range samples {
		if !ix.load.place(s, ord) && ix.delta.count(s) < maxPosting {
			ix.delta.add(s, ord)
		}
	}
}

// Seal sorts what Load placed and trims each posting list to maxPosting.
func (ix *Index) Seal() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.load.fill != nil {
		ix.base = ix.load.seal()
	}
	ix.load = loader{}
	if len(ix.delta.entries) > 0 {
		ix.merge()
	}
}

func (ix *Index) baseCount(h uint32) int {
	lo, hi := ix.base.span(h)
	return hi - lo
}

// merge folds the recent additions into the sorted table, leaving out
// dead documents.
func (ix *Index) merge() {
	add := make([]uint64, len(ix.delta.entries))
	for i, e := range ix.delta.entries {
		add[i] = uint64(e.h)<<32 | uint64(e.o)
	}
	slices.Sort(add)
	// Once most documents are dead (expired from the window), the table is
	// rebuilt with the live ones only, or a daemon that runs for months
	// would keep every id it ever indexed. Ordinals keep their order, so
	// the entries stay sorted.
	remap := ix.docs.compact()
	tb := newTableBuilder(ix.base.len() + len(add))
	j := 0
	emit := func(h, o uint32) {
		if remap != nil {
			if o = remap[o]; o != gone {
				tb.add(h, o)
			}
		} else if !ix.docs.dead[o] {
			tb.add(h, o)
		}
	}
	for b := uint32(0); b < buckets && len(ix.base.start) > 0; b++ {
		for i := ix.base.start[b]; i < ix.base.start[b+1]; i++ {
			h, o := b<<16|uint32(ix.base.low[i]), ix.base.ord[i]
			for j < len(add) && add[j] < uint64(h)<<32|uint64(o) {
				emit(uint32(add[j]>>32), uint32(add[j]))
				j++
			}
			emit(h, o)
		}
	}
	for ; j < len(add); j++ {
		emit(uint32(add[j]>>32), uint32(add[j]))
	}
	ix.base = tb.done()
	ix.delta = newDeltaTable()
}

// deltaTable holds the postings added since the last merge, in one slice:
// each sample's entries are chained from its last, so adding a document
// allocates nothing per sample.
type deltaTable struct {
	last    map[uint32]deltaHead
	entries []deltaEntry
}

type deltaHead struct {
	last int32 // the sample's newest entry
	n    int32
}

type deltaEntry struct {
	h, o uint32
	prev int32 // the sample's entry before, or -1
}

func newDeltaTable() deltaTable { return deltaTable{last: map[uint32]deltaHead{}} }

func (d *deltaTable) count(h uint32) int { return int(d.last[h].n) }

func (d *deltaTable) add(h, o uint32) {
	head, ok := d.last[h]
	if !ok {
		head.last = -1
	}
	d.entries = append(d.entries, deltaEntry{h: h, o: o, prev: head.last})
	d.last[h] = deltaHead{last: int32(len(d.entries) - 1), n: head.n + 1}
}

// each calls fn with the documents holding sample h, newest first.
func (d *deltaTable) each(h uint32, fn func(o uint32)) {
	head, ok := d.last[h]
	if !ok {
		return
	}
	for i := head.last; i >= 0; i = d.entries[i].prev {
		fn(d.entries[i].o)
	}
}

// Expire forgets documents dated before cutoff (seeds stay).
func (ix *Index) Expire(cutoff time.Time) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	c := unixDate(cutoff)
	for o, d := range ix.docs.dates {
		if !ix.docs.dead[o] && d != 0 && d < c {
			ix.docs.kill(uint32(o))
			n++
		}
	}
	if n > 0 {
		ix.merge()
	}
	return n
}

// Remove forgets one document (its commit failed).
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if o, ok := ix.docs.find([]byte(id)); ok {
		ix.docs.kill(o)
	}
}

// Candidate is a stored document sharing sampled shingles with a query.
type Candidate struct {
	ID    string
	Date  time.Time // when it was indexed; zero for a seed
	Hits  int       // samples shared
	Score float64   // the same, each weighed by how rare it is
}

// tally is a lookup's count of hits per document, kept for the next: a
// map from document to count was most of a lookup's time.
type tally struct {
	at   []int32 // per document ordinal, 1 + its place in hits, or 0
	hits []hit
}

type hit struct {
	o     uint32
	n     int
	score float64
}

// takeTally returns the index's spare tally, or a new one when a
// concurrent lookup holds it; putTally keeps it for the next lookup.
func (ix *Index) takeTally() *tally {
	ix.spareMu.Lock()
	defer ix.spareMu.Unlock()
	t := ix.spare
	ix.spare = nil
	if t == nil {
		t = new(tally)
	}
	return t
}

func (ix *Index) putTally(t *tally) {
	ix.spareMu.Lock()
	defer ix.spareMu.Unlock()
	ix.spare = t
}

// Candidates returns up to limit documents sharing the most samples with
// the query, dated at or after since (seeds always qualify).
func (ix *Index) Candidates(samples []uint32, since time.Time, limit int) []Candidate {
	return ix.candidates(samples, since, limit, 0)
}

// RareCandidates is Candidates counting only the keys fewer than half a
// posting list's documents hold: a title word that many documents share
// tells none of them apart, and tallying them was most of a lookup.
func (ix *Index) RareCandidates(keys []uint32, since time.Time, limit int) []Candidate {
	return ix.candidates(keys, since, limit, maxPosting/2)
}

func (ix *Index) candidates(samples []uint32, since time.Time, limit, common int) []Candidate {
	if limit <= 0 {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.takeTally()
	defer ix.putTally(t)
	if n := len(ix.docs.dates); len(t.at) < n {
		t.at = make([]int32, n+n/4)
	}
	hits := t.hits[:0]
	s := unixDate(since)
	for _, h := range samples {
		lo, hi := ix.base.span(h)
		held := hi - lo + ix.delta.count(h)
		if common > 0 && held >= common {
			continue
		}
		// A shingle that many documents share says less about which one
		// this is: weigh it like inverse document frequency.
		w := 1 / (1 + math.Log2(float64(held)))
		count := func(o uint32) {
			if d := ix.docs.dates[o]; ix.docs.dead[o] || (d != 0 && d < s) {
				return
			}
			i := t.at[o] - 1
			if i < 0 {
				i = int32(len(hits))
				t.at[o] = i + 1
				hits = append(hits, hit{o: o})
			}
			hits[i].n++
			hits[i].score += w
		}
		for _, o := range ix.base.ord[lo:hi] {
			count(o)
		}
		ix.delta.each(h, count)
	}
	for _, h := range hits {
		t.at[h.o] = 0 // clean for the next lookup
	}
	t.hits = hits
	// The best limit by score, ties to the document indexed first (a
	// story's first copies; ordinals keep the order documents came in,
	// through compactions too). News shares its stock phrases widely, so
	// a document can hit thousands of others: a full sort of them, or
	// ties told by comparing ids, was most of the lookup.
	before := func(a, b *hit) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return a.o < b.o
	}
	var top []hit
	for i := range hits {
		h := &hits[i]
		if len(top) == limit && !before(h, &top[limit-1]) {
			continue
		}
		j := sort.Search(len(top), func(k int) bool { return before(h, &top[k]) })
		if len(top) < limit {
			top = append(top, hit{})
		}
		copy(top[j+1:], top[j:])
		top[j] = *h
	}
	out := make([]Candidate, len(top))
	for i, h := range top {
		out[i] = Candidate{ID: string(ix.docs.id(h.o)), Hits: h.n, Score: h.score}
		if d := ix.docs.dates[h.o]; d != 0 {
			out[i].Date = time.Unix(int64(d), 0)
		}
	}
	return out
}
