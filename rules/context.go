package rules

import (
	"strings"

	"github.com/raqib/raqib/textnorm"
)

// Context shows the matched words of a text with a few words either side,
// the matches in [brackets], and "…" where text is left out.
func Context(t *Text, hits []int32, around int) string {
	if len(hits) == 0 {
		return ""
	}
	hit := map[int]bool{}
	for _, h := range hits {
		hit[int(h)] = true
	}
	show := map[int]bool{}
	for _, h := range hits {
		i, ok := t.word(h)
		if !ok {
			continue
		}
		for j := max(0, i-around); j <= min(len(t.ids)-1, i+around); j++ {
			show[j] = true
		}
	}
	words := make([]string, len(t.ids))
	marked := map[int]bool{}
	for i, id := range t.ids {
		words[i] = t.vocab[id]
		marked[i] = hit[int(t.pos(i))]
	}
	return excerpt(words, marked, show)
}

// excerpt writes the shown words, the marked ones in [brackets], with "…"
// where words are left out.
func excerpt(words []string, marked, show map[int]bool) string {
	var b strings.Builder
	last := -1
	for i, w := range words {
		if !show[i] {
			continue
		}
		if last >= 0 && i != last+1 {
			b.WriteString(" …")
		} else if last < 0 && i > 0 {
			b.WriteString("…")
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if marked[i] {
			b.WriteString("[" + w + "]")
		} else {
			b.WriteString(w)
		}
		last = i
	}
	if last < len(words)-1 {
		b.WriteString(" …")
	}
	return b.String()
}

// ContextIn is Context in the words of the original text, as a reader
// wrote them (hamza, taa marbuta, diacritics and all), not in their
// normalised forms; t must be NewText("", original). Where the original
// cannot be lined up with the normalised words, it is Context.
func ContextIn(original string, t *Text, hits []int32, around int) string {
	if len(hits) == 0 {
		return ""
	}
	tokens := strings.Fields(original)
	var owner []int // per normalised word, its token
	for ti, tok := range tokens {
		norm := textnorm.Normalize(tok)
		for i := 0; ; {
			start, end := textnorm.NextWord(norm, i)
			if start < 0 {
				break
			}
			owner = append(owner, ti)
			i = end
		}
	}
	if len(owner) != len(t.ids) || t.titleN != 0 {
		return Context(t, hits, around)
	}
	hit, show := map[int]bool{}, map[int]bool{}
	for _, h := range hits {
		i, ok := t.word(h)
		if !ok {
			continue
		}
		hit[owner[i]] = true
		for j := max(0, owner[i]-around); j <= min(len(tokens)-1, owner[i]+around); j++ {
			show[j] = true
		}
	}
	return excerpt(tokens, hit, show)
}
