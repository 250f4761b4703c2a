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

type docMeta struct {
	id   string
	date int64 // unix seconds; 0 for seeds, which never expire
	dead bool
}

// Index maps sampled shingles to the documents that hold them. The bulk is
// one sorted slice of (hash<<32 | ordinal), 8 bytes an entry, searched by
// binary search; recent additions sit in a small map until merged.
type Index struct {
	mu    sync.RWMutex
	docs  []docMeta
	byID  map[string]uint32
	base  []uint64
	delta map[uint32][]uint32
	nd    int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byID: map[string]uint32{}, delta: map[uint32][]uint32{}}
}

// Len is the number of documents indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

// Add indexes a document's samples; a zero date marks a document that
// never leaves the window (a seed).
func (ix *Index) Add(id string, date time.Time, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byID[id]; ok {
		return
	}
	var unix int64
	if !date.IsZero() {
		unix = date.Unix()
	}
	ord := uint32(len(ix.docs))
	ix.docs = append(ix.docs, docMeta{id: id, date: unix})
	ix.byID[id] = ord
	for _, s := range samples {
		if len(ix.delta[s]) >= maxPosting || ix.baseCount(s)+len(ix.delta[s]) >= maxPosting {
			continue
		}
		ix.delta[s] = append(ix.delta[s], ord)
		ix.nd++
	}
	if ix.nd > 65536 && ix.nd > len(ix.base)/4 {
		ix.merge()
	}
}

// Grow makes room for docs documents holding postings samples in all, so
// that loading at start allocates once instead of doubling as it goes.
func (ix *Index) Grow(docs, postings int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if cap(ix.base)-len(ix.base) < postings {
		ix.base = append(make([]uint64, 0, len(ix.base)+postings), ix.base...)
	}
	if cap(ix.docs)-len(ix.docs) < docs {
		ix.docs = append(make([]docMeta, 0, len(ix.docs)+docs), ix.docs...)
	}
	if len(ix.byID) == 0 && docs > 0 {
		ix.byID = make(map[string]uint32, docs)
	}
}

// Load adds many documents at once (at start) and merges once.
func (ix *Index) Load(id string, date time.Time, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byID[id]; ok {
		return
	}
	var unix int64
	if !date.IsZero() {
		unix = date.Unix()
	}
	ord := uint32(len(ix.docs))
	ix.docs = append(ix.docs, docMeta{id: id, date: unix})
	ix.byID[id] = ord
	for _, s := range samples {
		ix.base = append(ix.base, uint64(s)<<32|uint64(ord))
	}
}

// Seal sorts what Load added and trims each posting list to maxPosting.
func (ix *Index) Seal() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slices.Sort(ix.base)
	ix.base = capPostings(ix.base)
}

// capPostings keeps the first maxPosting entries of each hash in a sorted
// slice; ordinals grow with time, so those are the oldest documents.
func capPostings(xs []uint64) []uint64 {
	out := xs[:0]
	run := 0
	for i, v := range xs {
		if i > 0 && v>>32 == xs[i-1]>>32 {
			run++
		} else {
			run = 0
		}
		if run < maxPosting {
			out = append(out, v)
		}
	}
	return out
}

// postings returns the base range of hash h.
func (ix *Index) postings(h uint32) []uint64 {
	lo := sort.Search(len(ix.base), func(i int) bool { return ix.base[i]>>32 >= uint64(h) })
	hi := lo + sort.Search(len(ix.base)-lo, func(i int) bool { return ix.base[lo+i]>>32 > uint64(h) })
	return ix.base[lo:hi]
}

func (ix *Index) baseCount(h uint32) int { return len(ix.postings(h)) }

func (ix *Index) merge() {
	add := make([]uint64, 0, ix.nd)
	for h, ords := range ix.delta {
		for _, o := range ords {
			add = append(add, uint64(h)<<32|uint64(o))
		}
	}
	slices.Sort(add)
	merged := make([]uint64, 0, len(ix.base)+len(add))
	i, j := 0, 0
	for i < len(ix.base) || j < len(add) {
		var v uint64
		if j >= len(add) || (i < len(ix.base) && ix.base[i] < add[j]) {
			v = ix.base[i]
			i++
		} else {
			v = add[j]
			j++
		}
		if !ix.docs[uint32(v)].dead {
			merged = append(merged, v)
		}
	}
	ix.base = capPostings(merged)
	ix.delta = map[uint32][]uint32{}
	ix.nd = 0
}

// Expire forgets documents dated before cutoff (seeds stay).
func (ix *Index) Expire(cutoff time.Time) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	c := cutoff.Unix()
	for i := range ix.docs {
		d := &ix.docs[i]
		if !d.dead && d.date != 0 && d.date < c {
			d.dead = true
			delete(ix.byID, d.id)
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
	if o, ok := ix.byID[id]; ok {
		ix.docs[o].dead = true
		delete(ix.byID, id)
	}
}

// Candidate is a stored document sharing sampled shingles with a query.
type Candidate struct {
	ID    string
	Hits  int     // samples shared
	Score float64 // the same, each weighed by how rare it is
}

// Candidates returns up to limit documents sharing the most samples with
// the query, dated at or after since (seeds always qualify).
func (ix *Index) Candidates(samples []uint32, since time.Time, limit int) []Candidate {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	type hit struct {
		n     int
		score float64
	}
	hits := map[uint32]*hit{}
	s := since.Unix()
	for _, h := range samples {
		base, delta := ix.postings(h), ix.delta[h]
		// A shingle that many documents share says less about which one
		// this is: weigh it like inverse document frequency.
		w := 1 / (1 + math.Log2(float64(len(base)+len(delta))))
		count := func(o uint32) {
			d := ix.docs[o]
			if d.dead || (d.date != 0 && d.date < s) {
				return
			}
			x := hits[o]
			if x == nil {
				x = &hit{}
				hits[o] = x
			}
			x.n++
			x.score += w
		}
		for _, v := range base {
			count(uint32(v))
		}
		for _, o := range delta {
			count(o)
		}
	}
	out := make([]Candidate, 0, len(hits))
	for o, x := range hits {
		out = append(out, Candidate{ID: ix.docs[o].id, Hits: x.n, Score: x.score})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
