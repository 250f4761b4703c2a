package dedup

import "fmt"

// Thresholds of the duplicate decision; docs/DEDUP.md gives the figures
// they were chosen from.
const (
	// minSeen: at least this share of the new item's words must sit in text
	// already seen (inside a word 3-shingle the earlier document has).
	minSeen = 0.5
	// maxNewBlock: new material in runs of runMin+ consecutive new words (a
	// new paragraph, a second story in a roundup, a new lead) must stay
	// under this share of the item.
	maxNewBlock = 0.25
	// maxNewPeg: the share of the title's and lead's content words that the
	// earlier document lacks (a new name, place or verb: the news peg).
	maxNewPeg = 0.45
)

// Judge decides whether doc (new) repeats the earlier document a.
//
// What counts is how much of the new document was already seen, not how
// alike the two are overall: a trimmed or summary copy is contained in its
// original, while a later report that carries the earlier text under a new
// lead, or with a new block of facts, brings news.
func Judge(doc *Doc, a *Fingerprint) Verdict {
	f := Compare(doc, a)
	v := Verdict{Score: round2(f.WCover)}
	pegShare := 0.0
	if f.PegAll > 0 {
		pegShare = float64(f.PegNew) / float64(f.PegAll)
	}
	switch {
	case f.WCover < minSeen:
		v.Reason = fmt.Sprintf("only %.0f%% of its words were seen before", 100*f.WCover)
	case f.NewInRuns >= maxNewBlock:
		v.Reason = fmt.Sprintf("brings new blocks of text (%.0f%% of it)", 100*f.NewInRuns)
	case pegShare >= maxNewPeg:
		v.Reason = fmt.Sprintf("its title and lead are new (%d of %d content words)", f.PegNew, f.PegAll)
	default:
		v.Duplicate = true
		v.Reason = fmt.Sprintf("%.0f%% of its words seen before, title and lead known", 100*f.WCover)
	}
	return v
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
