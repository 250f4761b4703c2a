package rules

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// Queries an attacker (or a desk's typo) sends, each refused with where
// it goes wrong, none taking the process's memory or stack.
func TestQueryBounds(t *testing.T) {
	group := "(100 OR قبل OR 30 OR وفق OR ٤٥ OR 1500)"
	cases := []struct {
		name, q string
		pos     int
		msg     string
	}{
		{"a huge NEAR distance", group + " NEAR/1000000 " + group, len([]rune(group)) + 2, "at most 1000"},
		{"four في NEAR/1000000", "في NEAR/1000000 في NEAR/1000000 في NEAR/1000000 في", 4, "at most 1000"},
		{"a million parentheses", strings.Repeat("(", 1_000_000) + "a" + strings.Repeat(")", 1_000_000), MaxQueryLength + 1, "characters long"},
		{"parentheses nested too deep", strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1), MaxDepth + 1, "nested more than"},
		{"exclusions without end", strings.Repeat("NOT ", MaxDepth+1) + "a b", 4*MaxDepth + 1, "exclusions in a row"},
		{"too many words", strings.TrimSpace(strings.Repeat("كلمة ", MaxTerms+1)), 5*MaxTerms + 1, "more than 256 words"},
		{"a long NEAR chain", strings.TrimSpace(strings.Repeat("أ NEAR/2 ", MaxNearChain+1)) + " ب", 3 + 9*MaxNearChain, "NEARs in a row"},
	}
	for _, c := range cases {
		_, err := Parse(c.q)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%s: %v, want position %d and %q", c.name, err, c.pos, c.msg)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: the error quotes the whole query (%d bytes)", c.name, len(err.Error()))
		}
	}
	// At the bounds, queries parse.
	for _, q := range []string{
		strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth),
		strings.TrimSpace(strings.Repeat("أ NEAR/1000 ", MaxNearChain)) + " ب",
	} {
		if _, err := Parse(q); err != nil {
			t.Errorf("%.40s…: %v", q, err)
		}
	}
}

// NEAR pairs each side's match with the other side's nearest ones, not
// with every one: chained over a text made of nothing but the words, the
// spans stay a few times the positions.
func TestNearIsLinear(t *testing.T) {
	group := "(100 OR قبل OR 30 OR وفق OR 45 OR 1500)"
	q := strings.Join([]string{group, group, group, group, group, group, group}, " NEAR/1000 ") + " NEAR/1 zzzz"
	n, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields("100 قبل 30 وفق 45 1500")
	var b strings.Builder
	for i := range 20_000 {
		b.WriteString(words[i%len(words)] + " ")
	}
	text := NewText("", b.String()+" zzzz")
	if !text.Matches(n) {
		t.Error("the chain does not match a text that has it")
	}
	if sp := text.spans(n); len(sp) > 6*20_000 {
		t.Errorf("%d spans for 20,000 positions", len(sp))
	}
	ok, hits := text.Match(n)
	if !ok || len(hits) == 0 || len(hits) > 6*20_001 {
		t.Errorf("Match: %v, %d hits", ok, len(hits))
	}
	// An ordinary rule on a hostile item: every word one of the two.
	b.Reset()
	for i := range 30_000 {
		b.WriteString([]string{"ليبيا ", "حفتر "}[i%2])
	}
	n, _ = Parse("ليبيا NEAR/5 حفتر")
	text = NewText("", b.String())
	if sp := text.spans(n); len(sp) == 0 || len(sp) > 180_000 {
		t.Errorf("ليبيا NEAR/5 حفتر: %d spans over 30,000 words", len(sp))
	}
}

// near finds a match exactly when some pair of spans lies within the
// distance, and every span it gives is such a pair's.
func TestNearAgreesWithEveryPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	spans := func() [][2]int32 {
		out := make([][2]int32, rng.IntN(6))
		for i := range out {
			s := int32(rng.IntN(60))
			out[i] = [2]int32{s, s + int32(rng.IntN(4))}
		}
		return out
	}
	for range 20_000 {
		as, bs, n := spans(), spans(), int32(1+rng.IntN(8))
		all := map[[2]int32]bool{}
		for _, a := range as {
			for _, b := range bs {
				if gap(a, b) <= n {
					all[[2]int32{min(a[0], b[0]), max(a[1], b[1])}] = true
				}
			}
		}
		got := near(as, bs, n)
		if (len(got) > 0) != (len(all) > 0) {
			t.Fatalf("near(%v, %v, %d) = %v; pairs give %v", as, bs, n, got, all)
		}
		for _, s := range got {
			if !all[s] {
				t.Fatalf("near(%v, %v, %d) gives %v, no pair's span", as, bs, n, s)
			}
		}
	}
}
