package dedup

import (
	"fmt"
	"slices"
	"unicode"
)

// Features describe what a new document brings beyond an earlier one.
type Features struct {
	Contain   float64 // share of the new doc's shingles found in the old
	Cover     float64 // share of the old doc's shingles found in the new
	Lead      float64 // containment of the new doc's first leadWords words
	NewRun    int     // longest run of consecutive new words
	NewInRuns float64 // share of the new doc's words in runs of ≥ runMin new words
	Nums      int     // distinct numbers in the new doc
	NewNums   int     // of those, absent from the old
	NewWords  float64 // share of distinct words absent from the old
	WCover    float64 // share of the new doc's words inside a shingle seen in the old
	PegNew    int     // content words of the title and lead that the old lacks
	PegAll    int
	TitleNew  int // content words of the title that the old lacks
	TitleAll  int
	LenB      int
	LenA      int
	Rewrite
}

const (
	leadWords = 40
	runMin    = 12
)

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) && r != '.' && r != ',' {
			return false
		}
	}
	return w != ""
}

type wordKey struct {
	key    uint32
	number bool
}

// prepareKeys computes, once per new document, the word keys Compare
// looks up in every candidate.
func (d *Doc) prepareKeys(words []word, title, body []int32) {
	seenWord := make([]bool, len(words))
	seenKey := make(map[uint32]bool, len(words))
	for _, id := range body {
		if seenWord[id] {
			continue
		}
		seenWord[id] = true
		if w := words[id]; !seenKey[w.key] {
			seenKey[w.key] = true
			d.distinct = append(d.distinct, wordKey{w.key, w.number})
		}
	}
	content := func(ids []int32, into []uint32, seen map[uint32]bool) []uint32 {
		for _, id := range ids {
			if w := words[id]; w.content && !seen[w.key] {
				seen[w.key] = true
				into = append(into, w.key)
			}
		}
		return into
	}
	d.title = content(title, nil, map[uint32]bool{})
	pegSeen := map[uint32]bool{}
	d.peg = content(title, nil, pegSeen)
	d.peg = content(body[:min(len(body), leadWords)], d.peg, pegSeen)
	inBody := make(map[uint32]bool, len(d.distinct))
	for _, w := range d.distinct {
		inBody[w.key] = true
	}
	for _, k := range d.title {
		if inBody[k] {
			d.topic = append(d.topic, k)
		}
	}
}

// prepareFacts finds the facts the text states (factOf), once each, and
// where: the title, the lead (the first leadWords words of the body). A
// figure followed by a scale word is the rounded figure a headline gives
// ("16 ألف" is "16k"); a large figure is also known by its roundings, so
// that such a headline finds it ("41389" is known as "41k" and "42k" too,
// without being a fact of its own twice).
func (d *Doc) prepareFacts(words []word, title, body []int32) {
	at := map[string]int{}
	note := func(text string, inTitle, inLead, derived bool) {
		i, ok := at[text]
		if !ok {
			i = len(d.facts)
			at[text] = i
			d.facts = append(d.facts, fact{key: factKey(text), text: text, derived: true})
		}
		f := &d.facts[i]
		f.derived = f.derived && derived
		if !derived {
			f.title = f.title || inTitle
			f.lead = f.lead || inLead || inTitle
		}
	}
	scan := func(ids []int32, inTitle bool) {
		for i, id := range ids {
			text := words[id].fact
			if text == "" {
				continue
			}
			inLead := !inTitle && i < leadWords
			if isFigure(text) && i+1 < len(ids) {
				if unit := scales[words[ids[i+1]].folded]; unit != "" {
					note(text+unit, inTitle, inLead, false)
					note(text, inTitle, inLead, true)
					continue
				}
			}
			note(text, inTitle, inLead, false)
			if isFigure(text) {
				for _, r := range roundings(text[1:]) {
					note("#"+r, inTitle, inLead, true)
				}
			}
		}
	}
	scan(title, true)
	scan(body, false)
	var all, lead []uint32
	for _, f := range d.facts {
		all = append(all, f.key)
		if f.lead && !f.derived {
			lead = append(lead, f.key)
		}
	}
	d.Print.Facts = slices.Compact(sortHashes(all))
	d.Print.LeadFacts = slices.Compact(sortHashes(lead))
}

// Compare computes the features of new doc b against old fingerprint a,
// words weighed by df (nil: all alike).
func Compare(b *Doc, a *Fingerprint, df *DocFreq) Features {
	f := Features{LenB: b.Print.Length, LenA: a.Length}
	f.Rewrite = compareRewrite(b, a, df)
	if len(b.Shingles) == 0 || len(a.Shingles) == 0 {
		return f
	}
	common := intersect(b.Print.Shingles, a.Shingles)
	f.Contain = float64(common) / float64(len(b.Print.Shingles))
	f.Cover = float64(common) / float64(len(a.Shingles))
	if common*100 < minContain*len(b.Print.Shingles) {
		// Too few shared shingles for a copy: what the copy test reads
		// is not worked out, and the share of words seen is taken as the
		// shingles' (below minSeen either way).
		f.WCover, f.NewInRuns, f.PegAll = f.Contain, 1, 0
		return f
	}

	// Which word positions of b are covered by a shingle seen in a.
	covered := make([]bool, b.Print.Length)
	leadSeen, leadAll := 0, 0
	for i, h := range b.Shingles {
		in := has(a.Shingles, uint32(h>>32))
		if in {
			for j := i; j < i+shingleSize && j < len(covered); j++ {
				covered[j] = true
			}
		}
		if i < leadWords {
			leadAll++
			if in {
				leadSeen++
			}
		}
	}
	if leadAll > 0 {
		f.Lead = float64(leadSeen) / float64(leadAll)
	}
	run, inRuns := 0, 0
	flush := func() {
		if run > f.NewRun {
			f.NewRun = run
		}
		if run >= runMin {
			inRuns += run
		}
		run = 0
	}
	for _, c := range covered {
		if c {
			flush()
		} else {
			run++
		}
	}
	flush()
	f.NewInRuns = float64(inRuns) / float64(b.Print.Length)
	nc := 0
	for _, c := range covered {
		if c {
			nc++
		}
	}
	f.WCover = float64(nc) / float64(len(covered))
	for _, k := range b.title {
		f.TitleAll++
		if !has(a.Words, k) {
			f.TitleNew++
		}
	}
	for _, k := range b.peg {
		f.PegAll++
		if !has(a.Words, k) {
			f.PegNew++
		}
	}
	newWords, distinct := 0, len(b.distinct)
	for _, w := range b.distinct {
		inA := has(a.Words, w.key)
		if !inA {
			newWords++
		}
		if w.number {
			f.Nums++
			if !inA {
				f.NewNums++
			}
		}
	}
	if distinct > 0 {
		f.NewWords = float64(newWords) / float64(distinct)
	}
	return f
}

func (f Features) String() string {
	return fmt.Sprintf("contain %.2f wcover %.2f cover %.2f lead %.2f inruns %.2f peg %2d/%2d len %d/%d | cos %.2f leadcos %.2f titlein %.2f facts +%v lead +%v/-%d day %v topic +%d/-%d",
		f.Contain, f.WCover, f.Cover, f.Lead, f.NewInRuns, f.PegNew, f.PegAll, f.LenB, f.LenA,
		f.Cos, f.LeadCos, f.TitleIn, f.NewTitleFacts, f.NewLeadFacts, f.LostLeadFacts, f.OtherDay, f.NewTopic, f.LostTopic)
}

// Explain is Compare for people: the features as one line.
func Explain(b, a *Doc, df *DocFreq) string { return Compare(b, &a.Print, df).String() }
