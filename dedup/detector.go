package dedup

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Verdict is the outcome of checking one new document.
type Verdict struct {
	Duplicate bool
	Of        string  // the earlier document's id
	Score     float64 // how alike, 0..1: the share seen before, or the rewrite's similarity
	Reason    string
	// Related: not a duplicate, but about the same event (an update, a
	// reaction, a roundup that carries it): the new document follows Of.
	Related bool
	// Compared is how many earlier documents were compared.
	Compared int
}

// ErrGone is what a Fingerprint loader returns for a document no longer stored.
var ErrGone = errors.New("document no longer stored")

// Detector finds, for a new document, the earlier document it repeats.
type Detector struct {
	Index *Index
	// Window is how far back history counts; seeds never expire.
	Window time.Duration
	// Fingerprint loads a stored document's fingerprint.
	Fingerprint func(id string) (Fingerprint, error)
	// Candidates is how many index hits of each kind are compared exactly.
	Candidates int
	// DocFreq weighs words by their rarity in recent history; nil weighs
	// them alike.
	DocFreq *DocFreq
}

// leadKeys is how many of its rarest title and lead words a document is
// indexed and looked up by: a rewrite shares few shingles with its
// original but keeps the names and terms of its subject.
const leadKeys = 12

// minLeadHits: a candidate found by its words must share at least this
// many of them.
const minLeadHits = 2

// IndexKeys are what the index holds of a document: its shingle samples
// and its rarest title and lead words (marked apart from shingle hashes),
// sorted. They are worked out once, with the word weights of the moment.
func (d *Detector) IndexKeys(doc *Doc) []uint32 {
	if doc.index == nil {
		keys := append(slices.Clone(doc.Samples()), d.leadKeys(doc)...)
		slices.Sort(keys)
		doc.index = slices.Compact(keys)
	}
	return doc.index
}

// leadKeys are the index keys of doc's rarest title and lead words, the
// title's first where all weigh alike; worked out once.
func (d *Detector) leadKeys(doc *Doc) []uint32 {
	if doc.lead == nil {
		doc.lead = d.rarestLead(doc)
	}
	return doc.lead
}

func (d *Detector) rarestLead(doc *Doc) []uint32 {
	words := contentKeys(doc.peg) // in text order
	ws := d.DocFreq.weights(words, nil)
	order := make([]int, len(words))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(ws[j], ws[i]) })
	// Once the frequencies are trusted, a word that many recent documents
	// have is left out: a lookup would not count it (RareCandidates), and
	// at a million documents each entry costs 6 bytes.
	common := d.DocFreq.common(maxPosting / 2)
	out := make([]uint32, 0, leadKeys)
	for _, i := range order {
		if len(out) == leadKeys || ws[i] < common {
			break
		}
		out = append(out, leadIndexKey(words[i]))
	}
	return out
}

// leadIndexKey turns a word key into an index key: rehashed, so that a
// word and a shingle that share a hash do not meet.
func leadIndexKey(k uint32) uint32 { return uint32(mix(uint64(k)|1<<40) >> 32) }

// Check compares doc with the documents it shares text or rare words with
// and returns the best match: a duplicate, else the one it follows, else
// the closest.
func (d *Detector) Check(doc *Doc, now time.Time) (Verdict, error) {
	limit := d.Candidates
	if limit <= 0 {
		limit = 8
	}
	var since time.Time
	if d.Window > 0 {
		since = now.Add(-d.Window)
	}
	var cands []Candidate
	samples := doc.Samples()
	for _, c := range d.Index.Candidates(samples, since, limit) {
		// Sharing a tenth of the samples is far below what a copy shares;
		// the rewrite test finds the others by their words.
		if c.Hits*10 >= len(samples) {
			cands = append(cands, c)
		}
	}
	// Fewer by words: sharing rare words is a looser sign than sharing
	// text, and a story's first copies rank first.
	for _, c := range d.Index.RareCandidates(d.leadKeys(doc), since, max(1, limit/2)) {
		if c.Hits >= minLeadHits && !slices.ContainsFunc(cands, func(o Candidate) bool { return o.ID == c.ID }) {
			cands = append(cands, c)
		}
	}
	var best, related, closest Verdict
	for _, c := range cands {
		fp, err := d.Fingerprint(c.ID)
		if errors.Is(err, ErrGone) {
			d.Index.Remove(c.ID) // pruned from the store
			continue
		}
		if err != nil {
			return Verdict{}, fmt.Errorf("load fingerprint %s: %w", c.ID, err)
		}
		if !worthJudging(doc, &fp) {
			continue
		}
		age := now.Sub(c.Date)
		if c.Date.IsZero() {
			// A seed: an article the desk has known for an unknown time.
			// A new report in its words is a copy or news, never a rewrite
			// of the same day's dispatch.
			age = math.MaxInt64
		}
		v := Judge(doc, &fp, d.DocFreq, age)
		v.Of = c.ID
		switch {
		case v.Duplicate:
			if !best.Duplicate || v.Score > best.Score {
				best = v
			}
		case v.Related:
			if !related.Related || v.Score > related.Score {
				related = v
			}
		case closest.Of == "" || v.Score > closest.Score:
			closest = v
		}
	}
	switch {
	case best.Duplicate:
	case related.Related:
		best = related
	default:
		best = closest
	}
	best.Compared = len(cands)
	return best, nil
}

// worthJudging tells a candidate that can be neither a copy nor a rewrite
// nor the same event, cheaply: it shares too few shingles to be a copy
// (minContain) and too few words to be alike (minWordCos, of the plain
// word sets, where the rewrite test and the related test need a weighted
// cosine well above it).
func worthJudging(doc *Doc, fp *Fingerprint) bool {
	if len(doc.Print.Shingles) == 0 || intersect(doc.Print.Shingles, fp.Shingles)*100 >= minContain*len(doc.Print.Shingles) {
		return true
	}
	if len(doc.Print.Words) == 0 || len(fp.Words) == 0 {
		return false
	}
	n := float64(intersect(doc.Print.Words, fp.Words))
	return n*n >= minWordCos*minWordCos*float64(len(doc.Print.Words))*float64(len(fp.Words))
}

// minContain (percent): a new item whose distinct shingles are less than
// this share in a candidate cannot have half its words inside shared
// shingles (minSeen).
const minContain = 15

// minWordCos: below this cosine of the plain word sets, a candidate is
// not compared further.
const minWordCos = 0.3

// Add puts a stored document into the index (false when the id is
// indexed already, which changes nothing) and, when it starts a story,
// its words into the document frequencies. A duplicate is indexed by its
// shingles only: a story copied a hundred times would otherwise make its
// own names common (a rewrite, found by them, would then not be found),
// and the story's first copies stand for it.
func (d *Detector) Add(id string, date time.Time, doc *Doc, story bool) (added bool) {
	if !story {
		return d.Index.Add(id, date, doc.Samples())
	}
	if !d.Index.Add(id, date, d.IndexKeys(doc)) {
		return false
	}
	if d.DocFreq != nil {
		d.DocFreq.Add(doc.Print.Words)
	}
	return true
}
