package dedup

import (
	"errors"
	"fmt"
	"time"
)

// Verdict is the outcome of checking one new document.
type Verdict struct {
	Duplicate bool
	Of        string  // the earlier document's id
	Score     float64 // how much of the new document was already seen, 0..1
	Reason    string
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
	// Candidates is how many index hits are compared exactly.
	Candidates int
}

// Check compares doc with the documents it shares text with and returns the
// best match, a duplicate or not.
func (d *Detector) Check(doc *Doc, now time.Time) (Verdict, error) {
	limit := d.Candidates
	if limit <= 0 {
		limit = 8
	}
	var since time.Time
	if d.Window > 0 {
		since = now.Add(-d.Window)
	}
	best := Verdict{}
	samples := doc.Samples()
	for _, c := range d.Index.Candidates(samples, since, limit) {
		// Sharing a tenth of the samples is far below what a copy shares;
		// skip the exact comparison (a sure non-duplicate is cheap to tell).
		if c.Hits*10 < len(samples) {
			continue
		}
		fp, err := d.Fingerprint(c.ID)
		if errors.Is(err, ErrGone) {
			d.Index.Remove(c.ID) // pruned from the store
			continue
		}
		if err != nil {
			return Verdict{}, fmt.Errorf("load fingerprint %s: %w", c.ID, err)
		}
		if len(doc.Print.Shingles) > 0 && intersect(doc.Print.Shingles, fp.Shingles)*100 < minContain*len(doc.Print.Shingles) {
			continue
		}
		v := Judge(doc, &fp)
		v.Of = c.ID
		if v.Duplicate && (!best.Duplicate || v.Score > best.Score) || (!best.Duplicate && v.Score > best.Score) {
			best = v
		}
	}
	return best, nil
}

// minContain (percent): a new item whose distinct shingles are less than
// this share in a candidate cannot have half its words inside shared
// shingles (minSeen), so the full comparison is skipped.
const minContain = 15

// Add puts a stored document into the index.
func (d *Detector) Add(id string, date time.Time, doc *Doc) {
	d.Index.Add(id, date, doc.Samples())
}
