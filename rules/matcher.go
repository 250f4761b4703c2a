package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Matcher matches many compiled rules against a text. Rather than
// evaluating every rule, it keeps an index from the words a rule cannot
// match without (its anchors) to the rule, looks up the text's words, and
// evaluates only the rules found: the presearcher idea of stored-query
// matching.
type Matcher struct {
	names  []string
	rules  []Node
	exact  map[string][]int32 // word form -> rules
	prefix map[string][]prefixAnchor
	always []int32 // rules without a usable anchor
}

type prefixAnchor struct {
	prefix string
	rule   int32
}

// Compile parses and indexes rules; names[i] is the rule of queries[i].
// The error names the first rule that does not parse.
func Compile(names, queries []string) (*Matcher, error) {
	m := &Matcher{exact: map[string][]int32{}, prefix: map[string][]prefixAnchor{}}
	for i, q := range queries {
		n, err := Parse(q)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", names[i], err)
		}
		m.add(names[i], n)
	}
	return m, nil
}

// Len is the number of rules.
func (m *Matcher) Len() int { return len(m.rules) }

// Name is rule i's name.
func (m *Matcher) Name(i int) string { return m.names[i] }

func (m *Matcher) add(name string, n Node) {
	id := int32(len(m.rules))
	m.names = append(m.names, name)
	m.rules = append(m.rules, n)
	terms, ok := anchors(n)
	if !ok {
		m.always = append(m.always, id)
		return
	}
	for _, t := range terms {
		fs := termForms(t)
		key := fs[len(fs)-1] // the form without the article: every text form set holds it
		if t.Prefix {
			b := bucket(key)
			m.prefix[b] = append(m.prefix[b], prefixAnchor{key, id})
		} else {
			m.exact[key] = appendOnce(m.exact[key], id)
		}
	}
}

func appendOnce(xs []int32, x int32) []int32 {
	if len(xs) > 0 && xs[len(xs)-1] == x {
		return xs
	}
	return append(xs, x)
}

// bucket is a prefix's first two letters, under which prefix anchors are
// kept so a text word checks only the prefixes that could match it.
func bucket(s string) string {
	_, a := utf8.DecodeRuneInString(s)
	_, b := utf8.DecodeRuneInString(s[a:])
	return s[:a+b]
}

// anchors returns terms of which at least one must occur in any text the
// node matches, or false when no such set is known (a negation).
func anchors(n Node) ([]*Term, bool) {
	switch n := n.(type) {
	case *Term:
		return []*Term{n}, true
	case *Phrase:
		best := n.Terms[0]
		for _, t := range n.Terms[1:] {
			if rarer(t, best) {
				best = t
			}
		}
		return []*Term{best}, true
	case *Near:
		a, okA := anchors(n.A)
		b, okB := anchors(n.B)
		if okA && (!okB || len(a) <= len(b)) {
			return a, true
		}
		return b, okB
	case *Or:
		var all []*Term
		for _, k := range n.Kids {
			ts, ok := anchors(k)
			if !ok {
				return nil, false
			}
			all = append(all, ts...)
		}
		return all, true
	case *And:
		var best []*Term
		for _, k := range n.Kids {
			ts, ok := anchors(k)
			if ok && (best == nil || better(ts, best)) {
				best = ts
			}
		}
		return best, best != nil
	}
	return nil, false
}

// rarer guesses which term is rarer in text: whole words over prefixes,
// longer words over shorter ones.
func rarer(a, b *Term) bool {
	if a.Prefix != b.Prefix {
		return !a.Prefix
	}
	return utf8.RuneCountInString(a.Word) > utf8.RuneCountInString(b.Word)
}

func better(a, b []*Term) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return rarer(a[0], b[0])
}

// Match returns the indexes of the rules that match t, in rule order.
func (m *Matcher) Match(t *Text) []int {
	seen := make([]bool, len(m.rules)) // a text is a candidate for hundreds of rules: a map grew and grew
	cand := append([]int32(nil), m.always...)
	for _, c := range cand {
		seen[c] = true
	}
	for f := range t.forms {
		for _, r := range m.exact[f] {
			if !seen[r] {
				seen[r] = true
				cand = append(cand, r)
			}
		}
		if len(m.prefix) > 0 && len(f) >= 2 {
			for _, pa := range m.prefix[bucket(f)] {
				if !seen[pa.rule] && strings.HasPrefix(f, pa.prefix) {
					seen[pa.rule] = true
					cand = append(cand, pa.rule)
				}
			}
		}
	}
	var out []int
	for _, r := range cand {
		if t.Matches(m.rules[r]) {
			out = append(out, int(r))
		}
	}
	slices.Sort(out)
	return out
}

// MatchEach evaluates every rule: the reference Match must agree with, and
// the baseline its benchmark is measured against.
func (m *Matcher) MatchEach(t *Text) []int {
	var out []int
	for i, n := range m.rules {
		if t.Matches(n) {
			out = append(out, i)
		}
	}
	return out
}
