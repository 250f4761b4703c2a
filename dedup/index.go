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
// one sorted slice of (hash<<32 | ordinal), 8 bytes an entry, searched by
// binary search; recent additions sit in a small map until merged.
type Index struct {
	mu    sync.RWMutex
	docs  docTable
	base  []uint64
	delta map[uint32][]uint32
	nd    int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{docs: newDocTable(), delta: map[uint32][]uint32{}}
}

// Len is the number of documents indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.docs.live
}

// Add indexes a document's samples; a zero date marks a document that
// never leaves the window (a seed).
func (ix *Index) Add(id string, date time.Time, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.docs.find([]byte(id)); ok {
		return
	}
	ord := ix.docs.add([]byte(id), date)
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

// Grow makes room for docs documents with idBytes bytes of ids, holding
// postings samples in all, so that loading at start allocates once instead
// of doubling as it goes.
func (ix *Index) Grow(docs, idBytes, postings int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.base = growTo(ix.base, postings)
	ix.docs.grow(docs, idBytes)
}

// Load adds many documents at once (at start) and merges once. Neither
// id nor samples are kept: the caller may reuse them.
func (ix *Index) Load(id []byte, date time.Time, samples []uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.docs.find(id); ok {
		return
	}
	ord := ix.docs.add(id, date)
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
		if !ix.docs.dead[uint32(v)] {
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
	s := unixDate(since)
	for _, h := range samples {
		base, delta := ix.postings(h), ix.delta[h]
		// A shingle that many documents share says less about which one
		// this is: weigh it like inverse document frequency.
		w := 1 / (1 + math.Log2(float64(len(base)+len(delta))))
		count := func(o uint32) {
			if d := ix.docs.dates[o]; ix.docs.dead[o] || (d != 0 && d < s) {
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
		out = append(out, Candidate{ID: string(ix.docs.id(o)), Hits: x.n, Score: x.score})
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
