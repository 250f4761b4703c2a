package dedup

import "fmt"

// Judge decides whether doc (new) repeats the earlier document a.
//
// What counts is how much of the new document was already seen
// (containment of its shingles in a), not how alike the two are overall:
// a trimmed or summary copy is contained in its original, while a later
// report that carries the earlier text under a new lead is not.
func Judge(doc *Doc, a *Fingerprint) Verdict {
	b := &doc.Print
	if len(b.Shingles) == 0 || len(a.Shingles) == 0 {
		return Verdict{}
	}
	common := intersect(b.Shingles, a.Shingles)
	contain := float64(common) / float64(len(b.Shingles))
	v := Verdict{Score: contain}
	v.Duplicate = contain >= 0.5
	v.Reason = fmt.Sprintf("containment %.2f", contain)
	return v
}
