package dedup

import (
	"math"
	"slices"
)

// A rewrite keeps a report's content and changes its wording: another
// outlet's headline, its own attribution sentence, paragraphs rephrased.
// Shingles measure copying and miss it; what a rewrite keeps is its words
// (weighed by how rare they are in the desk's recent history), its title's
// subject and its facts. These are the features of that judgement.

// Rewrite holds how much of an earlier report b's words and facts repeat.
type Rewrite struct {
	Cos     float64 // weighted cosine of the two texts' content words
	LeadCos float64 // the same, of the titles and leads
	TitleIn float64 // weighted share of b's title words that a has
	// Facts of b that a lacks: in b's title, in b's lead; facts of a's
	// lead that b lacks; two different days named.
	// SharedFigures counts b's figures that a gives too: the same toll,
	// sum and count are the surest sign of the same report.
	SharedFigures int
	NewTitleFacts []string
	NewLeadFacts  []string
	LostLeadFacts int
	OtherDay      bool
	// Subject words (a title's words that its body repeats) that one
	// report has and the other lacks: both sides having some is another
	// subject told in the same template.
	NewTopic, LostTopic int
	// Known is false for an earlier fingerprint stored before these
	// features existed: it is compared as a copy only.
	Known bool
}

// stopKeys are the keys of function words and of one-character words:
// they take no part in the similarity. A 64 Kbit filter on the key's top
// bits says at once that most keys are not among them.
var stopKeys struct {
	filter [1 << 10]uint64
	keys   []uint32
}

func init() {
	var keys []uint32
	for w := range stopwords {
		keys = append(keys, wordHash(stem(w)), wordHash(w))
	}
	for r := 'ء'; r <= 'ي'; r++ {
		keys = append(keys, wordHash(string(r)))
	}
	for r := 'a'; r <= 'z'; r++ {
		keys = append(keys, wordHash(string(r)))
	}
	for r := '0'; r <= '9'; r++ {
		keys = append(keys, wordHash(string(r)))
	}
	slices.Sort(keys)
	stopKeys.keys = slices.Compact(keys)
	for _, k := range stopKeys.keys {
		stopKeys.filter[k>>22] |= 1 << (k >> 16 & 63)
	}
}

func isStopKey(k uint32) bool {
	if stopKeys.filter[k>>22]&(1<<(k>>16&63)) == 0 {
		return false
	}
	_, ok := slices.BinarySearch(stopKeys.keys, k)
	return ok
}

// contentKeys are a sorted key list without its stop keys.
func contentKeys(keys []uint32) []uint32 {
	out := make([]uint32, 0, len(keys))
	for _, k := range keys {
		if !isStopKey(k) {
			out = append(out, k)
		}
	}
	return out
}

// weighed is a sorted key list with each key's weight and their squared
// sum.
type weighed struct {
	keys []uint32
	w    []float64
	norm float64 // sum of squares
	sum  float64
}

func weigh(keys []uint32, df *DocFreq) weighed {
	v := weighed{keys: keys, w: df.weights(keys, make([]float64, 0, len(keys)))}
	for _, x := range v.w {
		v.norm += x * x
		v.sum += x
	}
	return v
}

// cosine of two weighed lists whose weights come from one table.
func cosine(b, a weighed) float64 {
	if b.norm == 0 || a.norm == 0 {
		return 0
	}
	dot := 0.0
	for i, j := 0, 0; i < len(b.keys) && j < len(a.keys); {
		switch {
		case b.keys[i] < a.keys[j]:
			i++
		case b.keys[i] > a.keys[j]:
			j++
		default:
			dot += b.w[i] * a.w[j]
			i++
			j++
		}
	}
	return dot / math.Sqrt(b.norm*a.norm)
}

// preparedRewrite is what a new document's rewrite features need of it,
// weighed once by the table of the moment.
type preparedRewrite struct {
	df          *DocFreq
	docs        int // df.Docs() when weighed
	all, lead   weighed
	title       weighed
	titleTopics []uint32 // sorted
}

func (d *Doc) rewriteSide(df *DocFreq) *preparedRewrite {
	docs := 0
	if df != nil {
		docs = df.Docs()
	}
	if p := d.rw; p != nil && p.df == df && p.docs == docs {
		return p
	}
	p := &preparedRewrite{df: df, docs: docs}
	p.all = weigh(contentKeys(d.Print.Words), df)
	p.lead = weigh(contentKeys(d.Print.Lead), df)
	p.title = weigh(contentKeys(slices.Compact(sortHashes(slices.Clone(d.title)))), df)
	p.titleTopics = d.Print.Topic
	d.rw = p
	return p
}

// compareRewrite computes the rewrite features of new document b against
// the earlier fingerprint a, words weighed by df (nil: all alike).
func compareRewrite(b *Doc, a *Fingerprint, df *DocFreq) Rewrite {
	r := Rewrite{Known: len(a.Lead) > 0 || len(a.Topic) > 0 || len(a.Facts) > 0}
	if !r.Known {
		return r
	}
	pb := b.rewriteSide(df)
	aa := weigh(contentKeys(a.Words), df)
	r.Cos = cosine(pb.all, aa)
	r.LeadCos = cosine(pb.lead, weigh(contentKeys(a.Lead), df))
	if pb.title.sum > 0 {
		in := 0.0
		for i, k := range pb.title.keys {
			if has(a.Words, k) {
				in += pb.title.w[i]
			}
		}
		r.TitleIn = in / pb.title.sum
	}
	for _, k := range pb.titleTopics {
		if !has(a.Words, k) {
			r.NewTopic++
		}
	}
	for _, k := range a.Topic {
		if !has(b.Print.Words, k) {
			r.LostTopic++
		}
	}
	bDay, aDay, shareDay := false, false, false
	for _, f := range b.facts {
		if f.derived {
			continue
		}
		in := has(a.Facts, f.key)
		if isDay(f.text) {
			bDay = true
			shareDay = shareDay || in
			continue
		}
		if in {
			if isFigure(f.text) {
				r.SharedFigures++
			}
			continue
		}
		if f.title {
			r.NewTitleFacts = append(r.NewTitleFacts, f.text[1:])
		}
		if f.lead {
			r.NewLeadFacts = append(r.NewLeadFacts, f.text[1:])
		}
	}
	for _, k := range a.Facts {
		aDay = aDay || isDayKey(k)
	}
	for _, k := range a.LeadFacts {
		if !isDayKey(k) && !has(b.Print.Facts, k) {
			r.LostLeadFacts++
		}
	}
	r.OtherDay = bDay && aDay && !shareDay
	return r
}

// factKey is a fact's key: a day's has its top bit set, a figure's not,
// so that a stored list tells them apart.
func factKey(text string) uint32 {
	k := wordHash(text) &^ (1 << 31)
	if isDay(text) {
		k |= 1 << 31
	}
	return k
}

func isDayKey(k uint32) bool { return k&(1<<31) != 0 }
