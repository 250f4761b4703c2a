package dedup

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Thresholds of the copy test; docs/DEDUP.md gives the figures they were
// chosen from.
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

// Rewrites is the rewrite test: a logistic model over the similarity
// features, fitted on the development pairs by `go run ./cmd/raqib-eval
// fit` (docs/DEDUP.md has the procedure and its cross-validated figures).
// A rewrite must score at least one half and state no new fact.
var Rewrites = Model{
	Bias:    -5.315,
	Weights: [NumModelFeatures]float64{3.453, 2.897, 2.293, 0.240},
}

// rewriteWithin: a rewrite of the same dispatch appears within days of
// it; an item that reads like one weeks later is another day's report in
// the same words.
const rewriteWithin = 72 * time.Hour

// relatedCos: below a duplicate, a text this alike (or one that carries
// half of the earlier text) tells of the same event: it follows it.
const relatedCos = 0.4

// NumModelFeatures is how many features the rewrite model weighs.
const NumModelFeatures = 4

// Model is a logistic model: P(rewrite) = σ(Bias + Σ Weights·x).
type Model struct {
	Bias    float64
	Weights [NumModelFeatures]float64
}

// ModelFeatures are the inputs of the rewrite model, in Weights' order:
// the texts' weighted cosine, the share of the title's words found, the
// shingle containment, the figures both give (up to four).
func ModelFeatures(f *Features) [NumModelFeatures]float64 {
	return [NumModelFeatures]float64{f.Cos, f.TitleIn, f.Contain, min(float64(f.SharedFigures), 4) / 4}
}

// Prob is the model's probability that f describes a rewrite.
func (m *Model) Prob(f *Features) float64 {
	x := ModelFeatures(f)
	s := m.Bias
	for i, w := range m.Weights {
		s += w * x[i]
	}
	return 1 / (1 + math.Exp(-s))
}

// Judge decides whether doc (new) repeats the earlier document a, read
// age after it, with words weighed by df (nil: all alike).
//
// Two tests make a duplicate. The copy test asks how much of the new
// document was already seen, word for word: a trimmed or summary copy is
// contained in its original, while a later report that carries the
// earlier text under a new lead, or with a new block of facts, brings
// news. The rewrite test asks whether it says the same in other words:
// alike in its rare words, title and lead, within days, with no new fact.
// A new figure or day in its title or lead, or another subject in the same
// template, keeps it apart however alike the rest is.
func Judge(doc *Doc, a *Fingerprint, df *DocFreq, age time.Duration) Verdict {
	f := Compare(doc, a, df)
	return Rewrites.Decide(&f, age)
}

// Decide is the judgement on features f of a document read age after the
// earlier one, with m as the rewrite test.
func (m *Model) Decide(f *Features, age time.Duration) Verdict {
	pegShare := 0.0
	if f.PegAll > 0 {
		pegShare = float64(f.PegNew) / float64(f.PegAll)
	}
	newFact := ""
	switch r := &f.Rewrite; {
	case len(r.NewTitleFacts) > 0:
		newFact = "its title has a figure the other lacks (" + strings.Join(r.NewTitleFacts, ", ") + ")"
	case len(r.NewLeadFacts) > 0 && r.LostLeadFacts > 0:
		newFact = "its lead has other figures (" + strings.Join(r.NewLeadFacts, ", ") + ")"
	case r.OtherDay:
		newFact = "it names another day"
	case r.NewTopic > 0 && r.LostTopic > 0:
		newFact = "its title's subject is another"
	}
	copied := f.WCover >= minSeen && f.NewInRuns < maxNewBlock && pegShare < maxNewPeg
	otherSubject := f.NewTopic > 0 && f.LostTopic > 0 && f.NewTopic+f.LostTopic >= 3
	v := Verdict{Score: round2(f.WCover)}
	switch {
	case copied && !hasFigure(f.NewTitleFacts) && !otherSubject:
		v.Duplicate = true
		v.Reason = fmt.Sprintf("%.0f%% of its words seen before, title and lead known", 100*f.WCover)
		return v
	case !f.Rewrite.Known:
	case newFact != "":
		v.Reason = fmt.Sprintf("text %.2f alike, but %s", f.Cos, newFact)
	case age > rewriteWithin:
		v.Reason = fmt.Sprintf("text %.2f alike, but %s later", f.Cos, age.Round(time.Hour))
	default:
		if m.Prob(f) >= 0.5 {
			v.Duplicate = true
			v.Score = round2(max(f.Cos, f.WCover))
			v.Reason = fmt.Sprintf("the same report reworded: text %.2f alike, lead %.2f, same figures", f.Cos, f.LeadCos)
			return v
		}
	}
	// The same event, told again with news: its subject's words kept (an
	// update's title has words of its own: the toll, "rises"), not
	// another day's.
	v.Related = (f.Cos >= relatedCos || f.WCover >= minSeen) && f.LostTopic <= 1 && !f.OtherDay
	if v.Reason == "" {
		switch {
		case f.WCover < minSeen:
			v.Reason = fmt.Sprintf("only %.0f%% of its words were seen before (text %.2f alike)", 100*f.WCover, f.Cos)
		case f.NewInRuns >= maxNewBlock:
			v.Reason = fmt.Sprintf("brings new blocks of text (%.0f%% of it)", 100*f.NewInRuns)
		case pegShare >= maxNewPeg:
			v.Reason = fmt.Sprintf("its title and lead are new (%d of %d content words)", f.PegNew, f.PegAll)
		default:
			v.Reason = fmt.Sprintf("text %.2f alike, lead %.2f: not the same report", f.Cos, f.LeadCos)
		}
	}
	return v
}

// hasFigure reports whether facts hold a figure in digits: a copy's new
// headline may well say "the second" where the text does not, but a new
// figure in it is news.
func hasFigure(facts []string) bool {
	for _, f := range facts {
		if isFigure("#" + f) {
			return true
		}
	}
	return false
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
