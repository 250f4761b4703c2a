package dedup

import (
	"math"
	"sync"
)

// DocFreq counts in how many recent documents each word (its light stem's
// key) occurs: the inverse document frequency that weighs a word in the
// similarity of two reports. A desk's own feeds are its corpus, so the
// counts come from what the store holds and grow as items arrive.
//
// Two generations of up to genSize documents each are kept: when the
// current one is full, it becomes the previous and the oldest is dropped,
// so the counts always cover the last genSize to 2×genSize documents and
// the table's memory stays bounded however long the daemon runs.
type DocFreq struct {
	mu      sync.RWMutex
	genSize int
	// count is the sum of the two generations, so that a weight is one
	// lookup; prev is kept to be taken out of it when it is dropped.
	count     map[uint32]uint32
	cur, prev map[uint32]uint32
	curN      int
	prevN     int
}

// DocFreqGeneration is how many documents a generation of DocFreq holds.
const DocFreqGeneration = 20000

// trustDocs is how many documents the counts need before they are
// trusted: with fewer, every word weighs about the same (a new store, or
// a test with a handful of items), and the weights move towards true IDF
// as history grows.
const trustDocs = 500

// NewDocFreq returns an empty table; genSize <= 0 means DocFreqGeneration.
func NewDocFreq(genSize int) *DocFreq {
	if genSize <= 0 {
		genSize = DocFreqGeneration
	}
	return &DocFreq{genSize: genSize, count: map[uint32]uint32{}, cur: map[uint32]uint32{}, prev: map[uint32]uint32{}}
}

// Add counts one document's distinct word keys (Fingerprint.Words).
func (d *DocFreq) Add(words []uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.curN >= d.genSize {
		for k, n := range d.prev {
			if c := d.count[k] - n; c == 0 {
				delete(d.count, k)
			} else {
				d.count[k] = c
			}
		}
		d.prev, d.prevN = d.cur, d.curN
		d.cur, d.curN = make(map[uint32]uint32, len(d.prev)), 0
	}
	for _, k := range words {
		d.cur[k]++
		d.count[k]++
	}
	d.curN++
}

// Docs is how many documents the counts cover.
func (d *DocFreq) Docs() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.curN + d.prevN
}

// Full reports whether the counts cover at least a generation: loading
// history at start stops there.
func (d *DocFreq) Full() bool { return d.Docs() >= d.genSize }

// Weight is the key's smoothed inverse document frequency, 1 for a word
// the counts cannot yet tell anything about, blended towards 1 while the
// table covers few documents.
func (d *DocFreq) Weight(k uint32) float64 {
	if d == nil {
		return 1
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return idf(d.curN+d.prevN, int(d.count[k]))
}

// common is the weight of a word that docs documents have, once the
// counts are trusted (every word weighs more before).
func (d *DocFreq) common(docs int) float64 {
	if d == nil {
		return 0
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := d.curN + d.prevN
	if n < trustDocs {
		return 0
	}
	return idf(n, docs)
}

// weights appends the weight of each key to out, under one lock.
func (d *DocFreq) weights(keys []uint32, out []float64) []float64 {
	if d == nil {
		for range keys {
			out = append(out, 1)
		}
		return out
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := d.curN + d.prevN
	if n == 0 {
		for range keys {
			out = append(out, 1)
		}
		return out
	}
	trust, logN := float64(n)/float64(n+trustDocs), logPlus1(n)
	for _, k := range keys {
		out = append(out, 1+trust*(logN-logPlus1(int(d.count[k]))))
	}
	return out
}

func idf(n, df int) float64 {
	if n == 0 {
		return 1
	}
	trust := float64(n) / float64(n+trustDocs)
	return 1 + trust*(logPlus1(n)-logPlus1(df))
}

// logs holds log(k+1) for the counts most words have: a comparison
// weighs hundreds of words, and math.Log was most of it.
var logs = func() (t [1 << 12]float64) {
	for k := range t {
		t[k] = math.Log(float64(k + 1))
	}
	return t
}()

func logPlus1(k int) float64 {
	if k < len(logs) {
		return logs[k]
	}
	return math.Log(float64(k + 1))
}

// Bytes estimates the table's memory: a map entry of a 4-byte key and a
// 4-byte count costs about 20 bytes with the map's own overhead.
func (d *DocFreq) Bytes() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return 20 * (len(d.count) + len(d.cur) + len(d.prev))
}
