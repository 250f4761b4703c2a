// Package dedup recognises the same story told again: near-duplicate
// detection of news items against the seed corpus and recent history.
//
// Each document becomes a fingerprint: the sorted set of hashes of its
// word 3-shingles and of its words. A consistent sample of the shingles
// (those whose hash is 0 mod 4) goes into an in-memory inverted index, so a
// new item finds the documents it shares text with without comparing against
// every stored one; the candidates are then compared exactly on their full
// fingerprints. See docs/DEDUP.md for the method and its measured figures.
package dedup

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/raqib/raqib/textnorm"
)

const (
	shingleSize = 3
	sampleMod   = 4
	maxSamples  = 128
)

// Doc is a document prepared for comparison.
type Doc struct {
	Shingles []uint64 // per body word position, hash of words[i:i+shingleSize]
	Title    []string
	Print    Fingerprint

	wordKeys  []uint32  // wordHash of each body word
	titleKeys []uint32  // and of each title word
	distinct  []wordKey // the body's distinct words
	title     []uint32  // content words of the title
	peg       []uint32  // content words of the title and lead
	samples   []uint32  // Print.Samples(), made once
	topic     []uint32  // content words of the title that the body repeats
	facts     []fact    // the facts the text states, each once
	words     []word    // the distinct words
	body      []int32   // the body's words, as indexes into folded
	index     []uint32  // the index keys (Detector.IndexKeys), made once
	lead      []uint32  // the index keys of its rarest lead words, made once
	rw        *preparedRewrite
}

// fact is one fact a document states, and where.
type fact struct {
	key         uint32
	text        string // "#4", "@الخميس", "#16k"
	title, lead bool
	derived     bool // only a rounding of a figure the text gives
}

// AppendText appends the body's dedup-folded words to b, each followed by
// a space: the text whose hash tells an exact copy.
func (d *Doc) AppendText(b []byte) []byte {
	for _, id := range d.body {
		b = append(append(b, d.words[id].folded...), ' ')
	}
	return b
}

// TextLen is len(AppendText(nil)).
func (d *Doc) TextLen() int {
	n := 0
	for _, id := range d.body {
		n += len(d.words[id].folded) + 1
	}
	return n
}

// Samples are the document's index samples (Fingerprint.Samples), worked
// out once: a new item's are encoded, looked up and indexed.
func (d *Doc) Samples() []uint32 {
	if d.samples == nil {
		d.samples = d.Print.Samples()
	}
	return d.samples
}

// Fingerprint is the compact form stored for every document. All lists
// are sorted and hold each value once.
type Fingerprint struct {
	Shingles []uint32 // hashes of the body's word 3-shingles
	Words    []uint32 // keys of every word (its light stem)
	Length   int      // words in the body

	// What a rewrite keeps (format 2; empty in fingerprints stored
	// before it, which are then compared as copies only).
	Lead      []uint32 // content words of the title and the lead
	Topic     []uint32 // content words of the title that the body repeats
	Facts     []uint32 // the figures and days the text states (factOf)
	LeadFacts []uint32 // those of the title and the lead
}

// foldDedup goes beyond textnorm.Normalize where copy-editors differ but
// matching should not: hamza seats and a lone hamza.
func foldDedup(w string) string {
	// ؤ ئ ء are U+0624, U+0626, U+0621: bytes D8 A4, D8 A6, D8 A1.
	found := false
	for i := 0; i+1 < len(w); i++ {
		if w[i] == 0xD8 && (w[i+1] == 0xA4 || w[i+1] == 0xA6 || w[i+1] == 0xA1) {
			found = true
			break
		}
	}
	if !found {
		return w
	}
	var b strings.Builder
	for _, r := range w {
		switch r {
		case 'ؤ':
			b.WriteRune('و')
		case 'ئ':
			b.WriteRune('ي')
		case 'ء':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Prepare turns a title and a plain-text body into a Doc. A body-less item
// is compared on its title.
func Prepare(title, body string) *Doc {
	return PrepareWords(textnorm.Words(textnorm.Normalize(title)), textnorm.Words(textnorm.Normalize(body)))
}

// PrepareWords is Prepare on words already normalised (textnorm.Normalize
// and Tokenize).
func PrepareWords(title, body []string) *Doc {
	index := map[string]int32{}
	var vocab []string
	ids := func(ws []string) []int32 {
		out := make([]int32, len(ws))
		for i, w := range ws {
			id, ok := index[w]
			if !ok {
				id = int32(len(vocab))
				index[w] = id
				vocab = append(vocab, w)
			}
			out[i] = id
		}
		return out
	}
	t := ids(title)
	return PrepareVocab(vocab, t, ids(body))
}

// word is what dedup needs of one distinct word of a document.
type word struct {
	folded  string
	hash    uint64 // hashWord of folded: shingles are made of these
	key     uint32 // wordHash of the light stem
	number  bool
	content bool   // not a function word, and two letters or more
	fact    string // factOf(folded)
}

// PrepareVocab is PrepareWords on a text given as its distinct normalised
// words (vocab) and, for title and body, each word as an index into vocab,
// as the rule matcher's text holds them: each distinct word is folded,
// stemmed and hashed once, however often the text repeats it.
func PrepareVocab(vocab []string, title, body []int32) *Doc {
	words := make([]word, len(vocab))
	for i, w := range vocab {
		f := foldDedup(w)
		s := stem(f)
		words[i] = word{
			folded:  f,
			hash:    hashWord(f),
			key:     wordHash(s),
			number:  isNumber(f),
			content: !stopwords[f] && utf8.RuneCountInString(f) >= 2 && !stopwords[s] && utf8.RuneCountInString(s) >= 2,
			fact:    factOf(f),
		}
	}
	if len(body) == 0 {
		body = title // a body-less item is compared on its title
	}
	d := &Doc{}
	d.Title = make([]string, len(title))
	d.titleKeys = make([]uint32, len(title))
	for i, id := range title {
		d.Title[i], d.titleKeys[i] = words[id].folded, words[id].key
	}
	d.words = words
	d.body = body
	d.wordKeys = make([]uint32, len(body))
	hs := make([]uint64, len(body))
	for i, id := range body {
		d.wordKeys[i], hs[i] = words[id].key, words[id].hash
	}
	d.Shingles = shingles(hs)
	keys := make([]uint32, len(words))
	for i := range words {
		keys[i] = words[i].key // every vocab word is in the title or the body
	}
	d.Print = Fingerprint{Shingles: uniq32(d.Shingles), Words: slices.Compact(sortHashes(keys)), Length: len(body)}
	d.prepareKeys(words, title, body)
	d.prepareFacts(words, title, body)
	d.Print.Lead = slices.Compact(sortHashes(slices.Clone(d.peg)))
	d.Print.Topic = slices.Compact(sortHashes(slices.Clone(d.topic)))
	return d
}

// hashWord is FNV-1a, 64 bits.
func hashWord(w string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finaliser: shingle hashes must be uniform for
// mod-sampling to be an unbiased sample.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// shingles hashes each run of shingleSize words, given the words' hashes.
func shingles(hs []uint64) []uint64 {
	if len(hs) == 0 {
		return nil
	}
	n := len(hs) - shingleSize + 1
	if n < 1 {
		n = 1
	}
	out := make([]uint64, n)
	for i := 0; i < n; i++ {
		var h uint64
		for j := i; j < i+shingleSize && j < len(hs); j++ {
			h = h*0x9E3779B97F4A7C15 + hs[j]
		}
		out[i] = mix(h)
	}
	return out
}

func uniq32(hs []uint64) []uint32 {
	out := make([]uint32, len(hs))
	for i, h := range hs {
		out[i] = uint32(h >> 32)
	}
	return slices.Compact(sortHashes(out))
}

// sortHashes sorts xs in place and returns it. Hashes are uniform, and a
// document has hundreds to thousands: a radix sort, a byte at a time,
// takes a fifth of the time of a comparison sort at that size.
func sortHashes(xs []uint32) []uint32 {
	if len(xs) < 128 {
		slices.Sort(xs)
		return xs
	}
	tmp := make([]uint32, len(xs))
	src, dst := xs, tmp
	for shift := 0; shift < 32; shift += 8 {
		var count [257]int
		for _, x := range src {
			count[(x>>shift)&0xFF+1]++
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for _, x := range src {
			b := (x >> shift) & 0xFF
			dst[count[b]] = x
			count[b]++
		}
		src, dst = dst, src
	}
	return src // after four passes, xs again
}

// wordHash keys the word set by a word's light stem, so that clitics don't
// count as new words.
func wordHash(stemmed string) uint32 { return uint32(mix(hashWord(stemmed)) >> 32) }

// Samples are the shingle hashes that go into the index: those 0 mod
// sampleMod, at most maxSamples of the smallest, so every document picks
// the same shingles and containment survives sampling.
func (f *Fingerprint) Samples() []uint32 {
	var out []uint32
	for _, h := range f.Shingles {
		if mix(uint64(h))%sampleMod == 0 {
			out = append(out, h)
			if len(out) == maxSamples {
				break
			}
		}
	}
	if len(out) == 0 && len(f.Shingles) > 0 {
		// A very short text still needs one entry to be found by.
		out = append(out, f.Shingles[0])
	}
	return out
}

// appendList writes a sorted list as its length and delta-coded varints.
func appendList(buf []byte, xs []uint32) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(xs)))
	prev := uint32(0)
	for _, h := range xs {
		buf = binary.AppendUvarint(buf, uint64(h-prev))
		prev = h
	}
	return buf
}

// readList reads what appendList wrote and returns the rest of b.
func readList(b []byte) ([]uint32, []byte, error) {
	return appendRead(nil, b)
}

// appendRead appends to dst the list appendList wrote at the start of b,
// and returns the rest of b.
func appendRead(dst []uint32, b []byte) ([]uint32, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[k:]
	dst = slices.Grow(dst, int(n))
	prev := uint32(0)
	for range n {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, errCorrupt
		}
		b = b[k:]
		prev += uint32(d)
		dst = append(dst, prev)
	}
	return dst, b, nil
}

// Encode writes the fingerprint: a format version, the length, and the
// lists as delta-coded varints.
func (f *Fingerprint) Encode() []byte {
	lists := f.lists()
	n := 3 * binary.MaxVarintLen32
	for _, l := range lists {
		n += binary.MaxVarintLen32 + 3*len(*l)
	}
	buf := make([]byte, 0, n)
	buf = binary.AppendUvarint(buf, 2) // format version
	buf = binary.AppendUvarint(buf, uint64(f.Length))
	for _, l := range lists {
		buf = appendList(buf, *l)
	}
	return buf
}

// lists are the fingerprint's lists in the order Encode writes them; a
// format 1 fingerprint has the first two.
func (f *Fingerprint) lists() []*[]uint32 {
	return []*[]uint32{&f.Shingles, &f.Words, &f.Lead, &f.Topic, &f.Facts, &f.LeadFacts}
}

var errCorrupt = errors.New("corrupt fingerprint")

// DecodeWords reads only the word list of what Encode wrote, appending it
// to dst: what the document frequencies count.
func DecodeWords(dst []uint32, b []byte) ([]uint32, error) {
	v, k := binary.Uvarint(b)
	if k <= 0 || v < 1 || v > 2 {
		return nil, errCorrupt
	}
	b = b[k:]
	if _, k = binary.Uvarint(b); k <= 0 {
		return nil, errCorrupt
	}
	b = b[k:]
	n, k := binary.Uvarint(b) // the shingles, skipped
	if k <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[k:]
	for range n {
		for len(b) > 0 && b[0]&0x80 != 0 {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil, errCorrupt
		}
		b = b[1:]
	}
	dst, _, err := appendRead(dst, b)
	return dst, err
}

// EncodeSamples writes a sorted sample list as delta-coded varints.
func EncodeSamples(xs []uint32) []byte { return appendList(make([]byte, 0, 2+2*len(xs)), xs) }

// SampleCount reads only the length of an encoded sample list.
func SampleCount(b []byte) int {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return 0
	}
	return int(n)
}

// DecodeSamples reads what EncodeSamples wrote.
func DecodeSamples(b []byte) ([]uint32, error) {
	return AppendSamples(nil, b)
}

// AppendSamples is DecodeSamples appending to dst, so that loading a
// million documents' samples can reuse one buffer.
func AppendSamples(dst []uint32, b []byte) ([]uint32, error) {
	xs, _, err := appendRead(dst, b)
	return xs, err
}

// Decode reads what Encode wrote.
func Decode(b []byte) (Fingerprint, error) {
	var f Fingerprint
	v, k := binary.Uvarint(b)
	if k <= 0 || v < 1 || v > 2 {
		return f, errCorrupt
	}
	b = b[k:]
	l, k := binary.Uvarint(b)
	if k <= 0 {
		return f, errCorrupt
	}
	f.Length = int(l)
	b = b[k:]
	lists := f.lists()
	if v == 1 {
		lists = lists[:2]
	}
	for _, list := range lists {
		var err error
		if *list, b, err = readList(b); err != nil {
			return Fingerprint{}, err
		}
	}
	return f, nil
}

// intersect counts common elements of two sorted lists.
func intersect(a, b []uint32) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			n++
			i++
			j++
		}
	}
	return n
}

func has(sorted []uint32, h uint32) bool {
	_, ok := slices.BinarySearch(sorted, h)
	return ok
}
