package rules

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/raqib/raqib/textnorm"
)

// Text is a document prepared for matching: its normalised words and, for
// each form a word can take once its proclitics are removed, which of its
// distinct words take it. Forms are worked out once per distinct word (a
// news article repeats most of its words), and word positions only when a
// phrase, NEAR or prefix needs them.
type Text struct {
	Norm   string
	vocab  []string         // distinct words, in order of first occurrence
	ids    []int32          // per word of the text, its word in vocab
	titleN int              // how many of ids are the title's
	forms  map[string]int32 // form -> first of the links of the words taking it
	links  []formLink
	where  [][]int32 // per vocab word, its positions; made on first need
	sorted []string  // the forms in order, made on the first prefix query
}

// formLink chains the vocab words that take one form: most forms belong
// to one word, so a map to a chain allocates nothing per form.
type formLink struct {
	word, next int32 // next < 0 ends the chain
}

// Words returns the text's distinct normalised words and, for the title
// and the body, each word as an index into them, for other consumers of
// the same text (dedup), so that it is normalised and split once.
func (t *Text) Words() (vocab []string, title, body []int32) {
	return t.vocab, t.ids[:t.titleN], t.ids[t.titleN:]
}

// titleGap keeps a phrase or NEAR from spanning the title and the body.
const titleGap = 64

// pos is the word position of the text's i-th word.
func (t *Text) pos(i int) int32 {
	if i >= t.titleN {
		return int32(i + titleGap)
	}
	return int32(i)
}

// word is the index of the word at position p, the inverse of pos, or
// false for a position no word holds.
func (t *Text) word(p int32) (int, bool) {
	i := int(p)
	if i >= t.titleN+titleGap {
		i -= titleGap // a body word
	} else if i >= t.titleN {
		return 0, false
	}
	return i, i >= 0 && i < len(t.ids)
}

// wordIndexes are NewText's maps from a word to its place in the
// vocabulary, used while the text is split and then cleared for the next:
// a cleared map keeps its room.
var wordIndexes = sync.Pool{New: func() any { return make(map[string]int32, 512) }}

// NewText prepares a title and a plain-text body. Words go straight from
// the normalised text into the vocabulary, without a token list between.
func NewText(title, body string) *Text {
	t := &Text{}
	tn, bn := textnorm.Normalize(title), textnorm.Normalize(body)
	switch {
	case tn == "":
		t.Norm = bn
	case bn == "":
		t.Norm = tn
	default:
		t.Norm = tn + "\n" + bn
	}
	index := wordIndexes.Get().(map[string]int32)
	defer func() { clear(index); wordIndexes.Put(index) }()
	t.ids = make([]int32, 0, len(t.Norm)/8)
	add := func(s string) {
		for i := 0; ; {
			start, end := textnorm.NextWord(s, i)
			if start < 0 {
				return
			}
			w := s[start:end]
			id, ok := index[w]
			if !ok {
				id = int32(len(t.vocab))
				index[w] = id
				t.vocab = append(t.vocab, w)
			}
			t.ids = append(t.ids, id)
			i = end
		}
	}
	add(t.Norm[:len(tn)])
	t.titleN = len(t.ids)
	add(t.Norm[len(t.Norm)-len(bn):])
	t.forms = make(map[string]int32, len(t.vocab)*3/2)
	t.links = make([]formLink, 0, len(t.vocab)*3/2)
	var buf []string
	for id, w := range t.vocab {
		buf = Forms(w, buf[:0])
		for _, f := range buf {
			head, ok := t.forms[f]
			if ok && t.links[head].word == int32(id) {
				continue // the same word again
			}
			next := int32(-1)
			if ok {
				next = head
			}
			t.links = append(t.links, formLink{int32(id), next})
			t.forms[f] = int32(len(t.links) - 1)
		}
	}
	return t
}

// formPositions returns the sorted positions of the words taking form f.
// The slice may be shared: callers only read it.
func (t *Text) formPositions(f string) []int32 {
	head, ok := t.forms[f]
	if !ok {
		return nil
	}
	if t.where == nil {
		t.indexPositions()
	}
	if t.links[head].next < 0 {
		return t.where[t.links[head].word]
	}
	var out []int32
	for k := head; k >= 0; k = t.links[k].next {
		out = append(out, t.where[t.links[k].word]...)
	}
	slices.Sort(out) // distinct words never share a position
	return out
}

// indexPositions lists each vocab word's positions, all in one array.
func (t *Text) indexPositions() {
	ends := make([]int32, len(t.vocab))
	for _, id := range t.ids {
		ends[id]++
	}
	n := int32(0)
	for i, c := range ends {
		n += c
		ends[i] = n
	}
	all := make([]int32, len(t.ids))
	t.where = make([][]int32, len(t.vocab))
	for id := range t.where {
		start := int32(0)
		if id > 0 {
			start = ends[id-1]
		}
		t.where[id] = all[start:start:ends[id]]
	}
	for i, id := range t.ids {
		t.where[id] = append(t.where[id], t.pos(i))
	}
}

var (
	conjunctions = []string{"", "و", "ف"}
	prepositions = []string{"", "ب", "ك", "ل"}
)

// Forms appends to out the forms an Arabic text word can match as: itself
// and what remains when proclitics are taken off: و/ف, then ب/ك/ل, then
// the article ال (ل+ال is written لل). A query word's own article is
// optional (termForms), so "للأمم" matches a query for "الأمم" through
// the bare form "امم". Latin words and numbers match only whole. The forms
// are substrings of w: no allocation.
func Forms(w string, out []string) []string {
	first := len(out)
	out = append(out, w)
	if len(w) < 6 || !textnorm.IsArabic(w) {
		return out // fewer than three letters: nothing to strip
	}
	switch w[:2] {
	case "و", "ف", "ب", "ك", "ل", "ا":
	default:
		return out
	}
	for _, c := range conjunctions {
		rest0, ok := strings.CutPrefix(w, c)
		if !ok {
			continue
		}
		for _, p := range prepositions {
			rest1, ok := strings.CutPrefix(rest0, p)
			if !ok {
				continue
			}
			for _, art := range []string{"", "ال"} {
				rest := rest1
				switch {
				case art == "" && c == "" && p == "":
					continue
				case art != "" && p == "ل":
					// ل + ال is written لل: the ل is already off.
					if rest, ok = strings.CutPrefix(rest1, "ل"); !ok {
						continue
					}
				case art != "":
					if rest, ok = strings.CutPrefix(rest1, art); !ok {
						continue
					}
				}
				if len(rest) >= 4 && utf8.RuneCountInString(rest) >= 2 {
					out = append(out, rest)
				}
			}
		}
	}
	// Each form with the article has its form without it too: the
	// matcher's index keys on that one. Spellings the clitics above do
	// not foresee (لال… for لل…, a doubled article) give a form with the
	// article that nothing stripped.
	for i := first; i < len(out); i++ { // what it adds is looked at too
		if rest, ok := strings.CutPrefix(out[i], "ال"); ok && len(rest) >= 4 && utf8.RuneCountInString(rest) >= 2 && !slices.Contains(out[first:], rest) {
			out = append(out, rest)
		}
	}
	return out
}

// termForms are the forms a query term looks for: the word, and without
// its own leading article.
func termForms(t *Term) []string {
	if t.forms != nil {
		return t.forms
	}
	if rest, ok := strings.CutPrefix(t.Word, "ال"); ok && !t.Latin && utf8.RuneCountInString(rest) >= 2 {
		return []string{t.Word, rest}
	}
	return []string{t.Word}
}

// positions returns the sorted word positions where the term matches.
func (t *Text) positions(term *Term) []int32 {
	var out []int32
	if !term.Prefix {
		fs := termForms(term)
		if len(fs) == 1 {
			return t.formPositions(fs[0]) // sorted and unique already; read only
		}
		for _, f := range fs {
			out = append(out, t.formPositions(f)...)
		}
	} else {
		if t.sorted == nil {
			t.sorted = make([]string, 0, len(t.forms))
			for f := range t.forms {
				t.sorted = append(t.sorted, f)
			}
			sort.Strings(t.sorted)
		}
		for _, q := range termForms(term) {
			for i := sort.SearchStrings(t.sorted, q); i < len(t.sorted) && strings.HasPrefix(t.sorted[i], q); i++ {
				out = append(out, t.formPositions(t.sorted[i])...)
			}
		}
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		out = dedupe(out)
	}
	return out
}

func dedupe(xs []int32) []int32 {
	out := xs[:1]
	for _, x := range xs[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// spans returns the start and end positions of the node's matches, for
// terms, phrases, ORs of them and NEAR.
func (t *Text) spans(n Node) [][2]int32 {
	switch n := n.(type) {
	case *Term:
		ps := t.positions(n)
		out := make([][2]int32, len(ps))
		for i, p := range ps {
			out[i] = [2]int32{p, p}
		}
		return out
	case *Phrase:
		sets := make([]map[int32]bool, len(n.Terms))
		for i, term := range n.Terms[1:] {
			sets[i+1] = map[int32]bool{}
			for _, p := range t.positions(term) {
				sets[i+1][p] = true
			}
		}
		var out [][2]int32
	next:
		for _, p := range t.positions(n.Terms[0]) {
			for i := 1; i < len(n.Terms); i++ {
				if !sets[i][p+int32(i)] {
					continue next
				}
			}
			out = append(out, [2]int32{p, p + int32(len(n.Terms)-1)})
		}
		return out
	case *Or:
		var out [][2]int32
		for _, k := range n.Kids {
			out = append(out, t.spans(k)...)
		}
		return out
	case *Near:
		return near(t.spans(n.A), t.spans(n.B), int32(n.N))
	}
	return nil
}

// near joins two sides' spans that lie within n words of each other. Every
// pair would be the product of the sides (a common word NEAR another,
// chained, ran a daemon out of memory): each span is paired with the
// nearest span of the other side before it, after it and over it, which
// finds a match wherever there is one and keeps the list linear in the
// sides' lengths.
func near(as, bs [][2]int32, n int32) [][2]int32 {
	if len(as) == 0 || len(bs) == 0 {
		return nil
	}
	var out [][2]int32
	join := func(xs, ys [][2]int32) {
		byStart := slices.Clone(ys)
		slices.SortFunc(byStart, func(a, b [2]int32) int { return cmp.Compare(a[0], b[0]) })
		byEnd := slices.Clone(ys)
		slices.SortFunc(byEnd, func(a, b [2]int32) int { return cmp.Compare(a[1], b[1]) })
		pair := func(x, y [2]int32) {
			if gap(x, y) <= n {
				out = append(out, [2]int32{min(x[0], y[0]), max(x[1], y[1])})
			}
		}
		for _, x := range xs {
			// The first span starting after x ends, and the one before it
			// in that order (starting within or before x).
			i, _ := slices.BinarySearchFunc(byStart, x[1]+1, func(y [2]int32, p int32) int { return cmp.Compare(y[0], p) })
			if i < len(byStart) {
				pair(x, byStart[i])
			}
			if i > 0 {
				pair(x, byStart[i-1])
			}
			// The last span ending before x starts.
			if j, _ := slices.BinarySearchFunc(byEnd, x[0], func(y [2]int32, p int32) int { return cmp.Compare(y[1], p) }); j > 0 {
				pair(x, byEnd[j-1])
			}
		}
	}
	join(as, bs)
	join(bs, as)
	slices.SortFunc(out, func(a, b [2]int32) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	return slices.Compact(out)
}

// gap is the distance in word positions between two spans.
func gap(a, b [2]int32) int32 {
	switch {
	case b[0] > a[1]:
		return b[0] - a[1]
	case a[0] > b[1]:
		return a[0] - b[1]
	}
	return 0
}

// Match reports whether the query matches, and the positions of the words
// that made it match (for showing them in context).
func (t *Text) Match(n Node) (bool, []int32) {
	var hits []int32
	ok := t.eval(n, &hits)
	if !ok {
		return false, nil
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i] < hits[j] })
	if len(hits) > 0 {
		hits = dedupe(hits)
	}
	return true, hits
}

// eval evaluates a node; hits, when not nil, collects matched positions.
func (t *Text) eval(n Node, hits *[]int32) bool {
	switch n := n.(type) {
	case *And:
		mark := 0
		if hits != nil {
			mark = len(*hits)
		}
		for _, k := range n.Kids {
			if !t.eval(k, hits) {
				if hits != nil {
					*hits = (*hits)[:mark]
				}
				return false
			}
		}
		return true
	case *Or:
		any := false
		for _, k := range n.Kids {
			if t.eval(k, hits) {
				any = true
			}
		}
		return any
	case *Not:
		return !t.eval(n.Kid, nil)
	case *Term:
		if hits == nil && !n.Prefix {
			return t.has(n)
		}
	}
	sp := t.spans(n)
	if hits == nil {
		return len(sp) > 0
	}
	for _, s := range sp {
		if s[1]-s[0] >= spanWords {
			// Words NEAR each other: what matched are the ends, not
			// every word between them.
			*hits = append(*hits, s[0], s[1])
			continue
		}
		for p := s[0]; p <= s[1]; p++ {
			*hits = append(*hits, p)
		}
	}
	return len(sp) > 0
}

// spanWords: a match this long or longer is shown by its ends (a phrase
// is shorter: every word of it is shown).
const spanWords = 16

// Matches is Match without positions.
func (t *Text) Matches(n Node) bool {
	return t.eval(n, nil)
}

// has reports whether a whole-word term occurs, without listing where.
func (t *Text) has(term *Term) bool {
	for _, f := range termForms(term) {
		if _, ok := t.forms[f]; ok {
			return true
		}
	}
	return false
}
