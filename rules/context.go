package rules

import "strings"

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
	var b strings.Builder
	last := -1
	for i, id := range t.ids {
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
		if w := t.vocab[id]; hit[int(t.pos(i))] {
			b.WriteString("[" + w + "]")
		} else {
			b.WriteString(w)
		}
		last = i
	}
	if last < len(t.ids)-1 {
		b.WriteString(" …")
	}
	return b.String()
}
