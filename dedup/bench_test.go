package dedup

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// synthetic makes n documents of about words words each, drawn from a
// Zipf-distributed vocabulary of Arabic-looking words, so that common words
// and stock phrases recur as in news text.
type synthetic struct {
	vocab []string
	rng   *rand.Rand
	zipf  *rand.Zipf
}

func newSynthetic(seed uint64) *synthetic {
	rng := rand.New(rand.NewPCG(seed, 7))
	vocab := make([]string, 50000)
	for i := range vocab {
		n := 3 + rng.IntN(5)
		w := make([]rune, n)
		for j := range w {
			w[j] = letters[rng.IntN(len(letters))]
		}
		vocab[i] = string(w)
	}
	return &synthetic{vocab: vocab, rng: rng, zipf: rand.NewZipf(rng, 1.07, 2, uint64(len(vocab)-1))}
}

var letters = []rune("ابتثجحخدذرزسشصضطظعغفقكلمنهوي")

// story is text with two names of its own near its start, as a report
// names its people and places: words few other documents have, by which
// a rewrite is found.
func (s *synthetic) story(words int) string {
	w := strings.Fields(s.text(words))
	for _, at := range []int{3, 11} {
		name := make([]rune, 7)
		for j := range name {
			name[j] = letters[s.rng.IntN(len(letters))]
		}
		w[at] = string(name)
	}
	return strings.Join(w, " ")
}

func (s *synthetic) text(words int) string {
	var b strings.Builder
	for i := 0; i < words; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.vocab[s.zipf.Uint64()])
	}
	return b.String()
}

type corpus struct {
	ix      *Index
	df      *DocFreq
	prints  map[string][]byte
	samples map[string][]byte
	texts   []string // a few stored texts, to make copies of
}

var (
	corpora   = map[int]*corpus{}
	corporaMu sync.Mutex
)

// build indexes n synthetic documents of 120 words (a feed item's length).
func build(b *testing.B, n int) *corpus {
	corporaMu.Lock()
	defer corporaMu.Unlock()
	if c, ok := corpora[n]; ok {
		return c
	}
	gen := newSynthetic(1)
	c := &corpus{ix: NewIndex(), df: NewDocFreq(0), prints: make(map[string][]byte, n), samples: make(map[string][]byte, n)}
	now := time.Now()
	keys := &Detector{DocFreq: c.df}
	for i := 0; i < n; i++ {
		t := gen.story(120)
		d := Prepare("", t)
		id := fmt.Sprint(i)
		c.prints[id] = d.Print.Encode()
		c.samples[id] = EncodeSamples(keys.IndexKeys(d)) // shingle samples and rare lead words, as the pipeline stores them
		c.df.Add(d.Print.Words)
		if i%(n/100) == 0 {
			c.texts = append(c.texts, t)
		}
	}
	// Loaded as at start: count, allocate, load, seal.
	for i := 0; i < n; i++ {
		samples, _ := DecodeSamples(c.samples[fmt.Sprint(i)])
		c.ix.Count(len(fmt.Sprint(i)), samples)
	}
	c.ix.Grow()
	for i := 0; i < n; i++ {
		samples, _ := DecodeSamples(c.samples[fmt.Sprint(i)])
		c.ix.Load([]byte(fmt.Sprint(i)), now, samples)
	}
	c.ix.Seal()
	corpora[n] = c
	return c
}

func (c *corpus) detector() *Detector {
	return &Detector{Index: c.ix, Window: 24 * time.Hour, DocFreq: c.df, Fingerprint: func(id string) (Fingerprint, error) { return Decode(c.prints[id]) }}
}

// queries are, in turn, copies of stored documents (trimmed, with a new
// sentence), new documents, and rewrites (a stored document's words in
// another order, so that it shares few shingles and is found, if at all,
// by its words); prepared outside the timed loop.
func queries(c *corpus) []*Doc {
	gen := newSynthetic(99)
	var qs []*Doc
	for i, t := range c.texts {
		w := strings.Fields(t)
		switch i % 3 {
		case 0:
			qs = append(qs, Prepare("", strings.Join(w[:90], " ")+" "+gen.text(10)))
		case 1:
			qs = append(qs, Prepare("", gen.story(120)))
		default:
			for j := 0; j+1 < len(w); j += 2 {
				w[j], w[j+1] = w[j+1], w[j]
			}
			qs = append(qs, Prepare("", strings.Join(w, " ")))
		}
	}
	return qs
}

// BenchmarkLookup: one new item against the index (candidates from the
// sampled-shingle index, then exact comparison of the best candidates).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			c := build(b, n)
			d, qs := c.detector(), queries(c)
			now := time.Now()
			found := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, _ := d.Check(qs[i%len(qs)], now)
				if v.Duplicate {
					found++
				}
			}
			b.StopTimer()
			if b.N >= len(qs) && found < b.N/3-len(qs) {
				b.Fatalf("copies not found: %d of %d", found, b.N)
			}
		})
	}
}

// BenchmarkLookupLatency is BenchmarkLookup at a million documents with
// each lookup timed: the median and the 99th percentile.
func BenchmarkLookupLatency(b *testing.B) {
	c := build(b, 1_000_000)
	d, qs := c.detector(), queries(c)
	now := time.Now()
	took := make([]time.Duration, 0, b.N)
	compared, rewrites, found := 0, 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		v, _ := d.Check(qs[i%len(qs)], now)
		took = append(took, time.Since(start))
		compared += v.Compared
		if k := i % len(qs); k%3 == 2 { // a rewrite of stored text k (queries)
			rewrites++
			if v.Of == fmt.Sprint(k*(len(c.prints)/100)) {
				found++
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(found)/float64(max(1, rewrites)), "rewrites-found")
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(compared)/float64(b.N), "compared/op")
}

// BenchmarkExhaustive compares a new item with every stored document: what
// the index saves.
func BenchmarkExhaustive(b *testing.B) {
	c := build(b, 100_000)
	qs := queries(c)
	prints := make([]Fingerprint, 0, len(c.prints))
	for _, p := range c.prints {
		f, _ := Decode(p)
		prints = append(prints, f)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := qs[i%len(qs)]
		for j := range prints {
			Judge(q, &prints[j], nil, 0)
		}
	}
}

// BenchmarkIndexLoad rebuilds the index from the stored index samples, as
// the daemon does at start, and reports the index's heap size.
func BenchmarkIndexLoad(b *testing.B) {
	c := build(b, 1_000_000)
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ix := NewIndex()
		var buf []uint32
		for id, p := range c.samples {
			buf, _ = AppendSamples(buf[:0], p)
			ix.Count(len(id), buf)
		}
		ix.Grow()
		for id, p := range c.samples {
			samples, err := AppendSamples(buf[:0], p)
			if err != nil {
				b.Fatal(err)
			}
			buf = samples
			ix.Load([]byte(id), now, samples)
		}
		ix.Seal()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-MiB")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(c.samples)), "bytes/doc")
		b.ReportMetric(float64(c.df.Bytes())/(1<<20), "docfreq-MiB")
		runtime.KeepAlive(ix)
	}
}
