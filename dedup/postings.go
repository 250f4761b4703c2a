package dedup

import (
	"slices"
	"sort"
)

// buckets: sample hashes are split by their top 16 bits, which a table of
// offsets stands for, so an entry keeps only the low 16 bits and the
// document ordinal: 6 bytes instead of 8. At a million documents (about
// 34 million entries) that is 200 MB instead of 270.
const buckets = 1 << 16

// postingTable is the sorted bulk of the index: for each sample hash, the
// ordinals of the documents holding it, oldest first.
type postingTable struct {
	start []uint32 // buckets+1 offsets: bucket b is [start[b], start[b+1])
	low   []uint16 // the hash's low 16 bits, ascending within a bucket
	ord   []uint32 // document ordinals, ascending within one hash
}

func (p *postingTable) len() int { return len(p.ord) }

// span returns the range of hash h's entries.
func (p *postingTable) span(h uint32) (int, int) {
	if len(p.start) == 0 {
		return 0, 0
	}
	b := h >> 16
	lo, hi := int(p.start[b]), int(p.start[b+1])
	l := uint16(h)
	i := lo + sort.Search(hi-lo, func(k int) bool { return p.low[lo+k] >= l })
	j := i
	for j < hi && p.low[j] == l {
		j++ // posting lists are short (maxPosting)
	}
	return i, j
}

// tableBuilder fills a postingTable from a sequence of (hash, ordinal)
// entries in key order, keeping at most maxPosting entries a hash.
type tableBuilder struct {
	t    postingTable
	b    uint32 // the bucket being filled
	last uint32 // the hash of the last entry kept
	run  int    // entries kept for it; 0 before the first
}

func newTableBuilder(capacity int) *tableBuilder {
	return &tableBuilder{t: postingTable{
		start: make([]uint32, buckets+1),
		low:   make([]uint16, 0, capacity),
		ord:   make([]uint32, 0, capacity),
	}}
}

// add appends an entry; entries come sorted by hash, then ordinal.
func (tb *tableBuilder) add(h, o uint32) {
	if tb.run > 0 && h == tb.last {
		if tb.run >= maxPosting {
			return
		}
		tb.run++
	} else {
		tb.last, tb.run = h, 1
	}
	for tb.b < h>>16 {
		tb.b++
		tb.t.start[tb.b] = uint32(len(tb.t.ord))
	}
	tb.t.low = append(tb.t.low, uint16(h))
	tb.t.ord = append(tb.t.ord, o)
}

func (tb *tableBuilder) done() postingTable {
	for tb.b < buckets {
		tb.b++
		tb.t.start[tb.b] = uint32(len(tb.t.ord))
	}
	return tb.t
}

// loader places the entries of documents loaded at start straight into
// their buckets (a counting sort): a first pass counts each bucket's
// entries, so nothing is allocated twice and no 8-byte pairs are sorted.
type loader struct {
	docs, idBytes int
	counts        []uint32 // per bucket, from the counting pass
	fill          []uint32 // per bucket, the next free slot
	t             postingTable
}

func (l *loader) count(samples []uint32) {
	if l.counts == nil {
		l.counts = make([]uint32, buckets)
	}
	for _, s := range samples {
		l.counts[s>>16]++
	}
}

// allocate lays out the buckets from the counts.
func (l *loader) allocate() {
	if l.counts == nil {
		l.counts = make([]uint32, buckets)
	}
	l.t.start = make([]uint32, buckets+1)
	total := uint32(0)
	for b, n := range l.counts {
		l.t.start[b] = total
		total += n
	}
	l.t.start[buckets] = total
	l.t.low = make([]uint16, total)
	l.t.ord = make([]uint32, total)
	l.fill = slices.Clone(l.t.start[:buckets])
	l.counts = nil
}

// place puts one entry in its bucket; false when the counting pass did
// not make room for it.
func (l *loader) place(h, o uint32) bool {
	b := h >> 16
	if l.fill == nil || l.fill[b] >= l.t.start[b+1] {
		return false
	}
	l.t.low[l.fill[b]], l.t.ord[l.fill[b]] = uint16(h), o
	l.fill[b]++
	return true
}

// seal sorts each bucket by hash, then ordinal, keeps maxPosting entries a
// hash, and closes the gaps of slots that were counted but not filled. It
// builds the table in place: a bucket is read before any of its entries is
// written, and entries only move towards the front.
func (l *loader) seal() postingTable {
	t := l.t
	tb := &tableBuilder{t: postingTable{start: t.start, low: t.low[:0], ord: t.ord[:0]}}
	var buf []uint64
	for b := uint32(0); b < buckets; b++ {
		buf = buf[:0]
		for i := t.start[b]; i < l.fill[b]; i++ {
			buf = append(buf, uint64(t.low[i])<<32|uint64(t.ord[i]))
		}
		slices.Sort(buf)
		for _, v := range buf {
			tb.add(b<<16|uint32(v>>32), uint32(v))
		}
	}
	*l = loader{}
	return tb.done()
}
