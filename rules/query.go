// Package rules is raqib's alert rule language: parsing queries, matching
// them against Arabic and Latin text, and matching thousands of rules at
// once through an index of their words.
//
// Words are ANDed; OR between alternatives; NOT or -word excludes;
// parentheses group; "two words" is a phrase; word* matches any ending;
// a NEAR/n b needs a and b within n word positions. Arabic words in the
// text match with proclitics (و ف ب ك ل ال and their combinations) in
// front; a query word's own leading ال is optional.
package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/raqib/raqib/textnorm"
)

// SyntaxError is a malformed query, with the 1-based character position
// where the problem is.
type SyntaxError struct {
	Query string
	Pos   int
	Msg   string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query %q: position %d: %s", around(e.Query, e.Pos), e.Pos, e.Msg)
}

// around is a long query as an error quotes it: the part about pos.
func around(q string, pos int) string {
	r := []rune(q)
	if len(r) <= 120 {
		return q
	}
	from, to := max(0, pos-1-40), min(len(r), pos-1+40)
	out := string(r[from:to])
	if from > 0 {
		out = "…" + out
	}
	if to < len(r) {
		out += "…"
	}
	return out
}

type tokKind int

const (
	tWord tokKind = iota
	tPhrase
	tOr
	tAnd
	tNot
	tMinus
	tNear
	tLParen
	tRParen
	tEOF
)

type token struct {
	kind tokKind
	text string
	n    int // NEAR distance
	pos  int // 1-based rune position
}

func lex(q string) ([]token, error) {
	var toks []token
	rs := []rune(q)
	i := 0
	for i < len(rs) {
		r := rs[i]
		pos := i + 1
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{kind: tLParen, pos: pos})
			i++
		case r == ')':
			toks = append(toks, token{kind: tRParen, pos: pos})
			i++
		case r == '"' || r == '“' || r == '”' || r == '«' || r == '»':
			close := map[rune]string{'"': `"`, '“': `”"`, '”': `”"`, '«': `»"`, '»': `»"`}[r]
			j := i + 1
			for j < len(rs) && !strings.ContainsRune(close, rs[j]) {
				j++
			}
			if j >= len(rs) {
				return nil, &SyntaxError{q, pos, "unbalanced quote: this phrase is never closed"}
			}
			toks = append(toks, token{kind: tPhrase, text: string(rs[i+1 : j]), pos: pos})
			i = j + 1
		case r == '-' && (i+1 < len(rs) && !unicode.IsSpace(rs[i+1])) && (i == 0 || unicode.IsSpace(rs[i-1]) || rs[i-1] == '('):
			toks = append(toks, token{kind: tMinus, pos: pos})
			i++
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '(' && rs[j] != ')' && rs[j] != '"' && rs[j] != '«' && rs[j] != '»' && rs[j] != '“' && rs[j] != '”' {
				j++
			}
			w := string(rs[i:j])
			t := token{kind: tWord, text: w, pos: pos}
			switch {
			case w == "OR":
				t.kind = tOr
			case w == "AND":
				t.kind = tAnd
			case w == "NOT":
				t.kind = tNot
			case strings.HasPrefix(w, "NEAR/"):
				n, err := strconv.Atoi(w[5:])
				if err != nil || n < 1 {
					return nil, &SyntaxError{q, pos, fmt.Sprintf("%s: NEAR needs a distance of 1 or more, as in NEAR/5", w)}
				}
				if n > MaxNear {
					return nil, &SyntaxError{q, pos, fmt.Sprintf("%s: the distance is at most %d words", w, MaxNear)}
				}
				t.kind, t.n = tNear, n
			case w == "NEAR":
				return nil, &SyntaxError{q, pos, "NEAR needs a distance, as in NEAR/5"}
			}
			toks = append(toks, t)
			i = j
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(rs) + 1})
	return toks, nil
}

// Node is a parsed query.
type Node interface{ node() }

// And needs every child; Or any; Not none of its child.
type (
	And  struct{ Kids []Node }
	Or   struct{ Kids []Node }
	Not  struct{ Kid Node }
	Near struct {
		A, B Node
		N    int
	}
	// Term is one normalised word, or a prefix with Prefix set.
	Term struct {
		Word   string
		Prefix bool
		Latin  bool
		forms  []string // what it looks for in a text's forms
	}
	// Phrase is consecutive terms.
	Phrase struct{ Terms []*Term }
)

func (*And) node()    {}
func (*Or) node()     {}
func (*Not) node()    {}
func (*Near) node()   {}
func (*Term) node()   {}
func (*Phrase) node() {}

type parser struct {
	q     string
	toks  []token
	i     int
	depth int // parentheses open
	terms int // words so far
}

// Bounds of a query: a rule comes from a desk's configuration, but a query
// also comes from anyone who can reach /api/items?q=, and each of these
// once took the daemon's memory or stack. Far above what a desk writes.
const (
	MaxQueryLength = 4096 // characters
	MaxTerms       = 256  // words, phrases' words included
	MaxDepth       = 32   // nested parentheses
	MaxNearChain   = 8    // NEARs in one chain (a NEAR/n b NEAR/m c …)
	MaxNear        = 1000 // the largest NEAR distance
)

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{p.q, pos, fmt.Sprintf(format, args...)}
}

// Parse parses a query; a malformed one is a *SyntaxError.
func Parse(q string) (Node, error) {
	if strings.TrimSpace(q) == "" {
		return nil, &SyntaxError{q, 1, "empty query"}
	}
	if n := utf8.RuneCountInString(q); n > MaxQueryLength {
		return nil, &SyntaxError{q, MaxQueryLength + 1, fmt.Sprintf("the query is %d characters long: at most %d", n, MaxQueryLength)}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errf(t.pos, "unbalanced parenthesis: ')' closes nothing")
		}
		return nil, p.errf(t.pos, "unexpected %s", describe(t))
	}
	if !positive(n) {
		return nil, &SyntaxError{q, 1, "the query only excludes: add a word it must contain"}
	}
	return n, nil
}

func describe(t token) string {
	switch t.kind {
	case tOr:
		return "OR"
	case tAnd:
		return "AND"
	case tNot:
		return "NOT"
	case tNear:
		return "NEAR"
	case tRParen:
		return "')'"
	case tLParen:
		return "'('"
	case tEOF:
		return "end of query"
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) or() (Node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []Node{first}
	for p.peek().kind == tOr {
		op := p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, p.errf(op.pos, "OR needs something after it")
		}
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &Or{kids}, nil
}

func (p *parser) and() (Node, error) {
	var kids []Node
	for {
		t := p.peek()
		switch t.kind {
		case tEOF, tRParen, tOr:
			if len(kids) == 0 {
				if t.kind == tOr {
					return nil, p.errf(t.pos, "OR needs something before it")
				}
				if t.kind == tRParen {
					return nil, p.errf(t.pos, "empty parentheses or a ')' that closes nothing")
				}
				return nil, p.errf(t.pos, "the query ends where a word was expected")
			}
			if len(kids) == 1 {
				return kids[0], nil
			}
			return &And{byCost(kids)}, nil
		case tAnd:
			p.next()
			if len(kids) == 0 {
				return nil, p.errf(t.pos, "AND needs something before it")
			}
			if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
				return nil, p.errf(t.pos, "AND needs something after it")
			}
			continue
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
}

func (p *parser) unary() (Node, error) {
	t := p.peek()
	if t.kind == tNot || t.kind == tMinus {
		p.next()
		if p.depth++; p.depth > MaxDepth {
			return nil, p.errf(t.pos, "more than %d exclusions in a row", MaxDepth)
		}
		defer func() { p.depth-- }()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, p.errf(t.pos, "%s needs a word after it", map[bool]string{true: "NOT", false: "'-'"}[t.kind == tNot])
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Not{n}, nil
	}
	return p.near()
}

func (p *parser) near() (Node, error) {
	a, err := p.primary()
	if err != nil {
		return nil, err
	}
	chain := 0
	for p.peek().kind == tNear {
		op := p.next()
		if chain++; chain > MaxNearChain {
			return nil, p.errf(op.pos, "at most %d NEARs in a row", MaxNearChain)
		}
		if !nearOperand(a) {
			return nil, p.errf(op.pos, "NEAR joins words, phrases or (a OR b) groups")
		}
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd || k == tNot || k == tMinus {
			return nil, p.errf(op.pos, "NEAR needs a word after it")
		}
		b, err := p.primary()
		if err != nil {
			return nil, err
		}
		if !nearOperand(b) {
			return nil, p.errf(op.pos, "NEAR joins words, phrases or (a OR b) groups")
		}
		a = &Near{A: a, B: b, N: op.n}
	}
	return a, nil
}

// byCost orders an AND's children cheapest first (whole words, then
// prefixes and phrases, then the rest), so that evaluation stops early on
// the common case of a missing word. The order does not change the result.
func byCost(kids []Node) []Node {
	cost := func(n Node) int {
		switch n := n.(type) {
		case *Term:
			if n.Prefix {
				return 1
			}
			return 0
		case *Phrase:
			return 1
		case *Not:
			return 3
		}
		return 2
	}
	out := append([]Node(nil), kids...)
	sort.SliceStable(out, func(i, j int) bool { return cost(out[i]) < cost(out[j]) })
	return out
}

// nearOperand: NEAR needs positions, so its sides are terms, phrases, or
// ORs of those (and nested NEARs).
func nearOperand(n Node) bool {
	switch n := n.(type) {
	case *Term, *Phrase, *Near:
		return true
	case *Or:
		for _, k := range n.Kids {
			if !nearOperand(k) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *parser) primary() (Node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if p.depth++; p.depth > MaxDepth {
			return nil, p.errf(t.pos, "parentheses nested more than %d deep", MaxDepth)
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if c := p.next(); c.kind != tRParen {
			return nil, p.errf(t.pos, "unbalanced parenthesis: this '(' is never closed")
		}
		return n, nil
	case tPhrase:
		var terms []*Term
		for _, w := range textnorm.Words(textnorm.Normalize(t.text)) {
			terms = append(terms, newTerm(w, false))
		}
		if p.terms += len(terms); p.terms > MaxTerms {
			return nil, p.errf(t.pos, "more than %d words", MaxTerms)
		}
		if len(terms) == 0 {
			return nil, p.errf(t.pos, "empty phrase")
		}
		if len(terms) == 1 {
			return terms[0], nil
		}
		return &Phrase{terms}, nil
	case tWord:
		return p.word(t)
	case tEOF:
		return nil, p.errf(t.pos, "the query ends where a word was expected")
	}
	return nil, p.errf(t.pos, "unexpected %s where a word was expected", describe(t))
}

func (p *parser) word(t token) (Node, error) {
	raw := t.text
	prefix := strings.HasSuffix(raw, "*")
	raw = strings.TrimRight(raw, "*")
	if strings.Contains(raw, "*") {
		return nil, p.errf(t.pos, "%q: '*' goes only at the end of a word", t.text)
	}
	ws := textnorm.Words(textnorm.Normalize(raw))
	if p.terms += len(ws); p.terms > MaxTerms {
		return nil, p.errf(t.pos, "more than %d words", MaxTerms)
	}
	switch {
	case len(ws) == 0 && prefix:
		return nil, p.errf(t.pos, "'*' needs letters before it")
	case len(ws) == 0:
		return nil, p.errf(t.pos, "%q has no letters or digits to match", t.text)
	case len(ws) == 1:
		if prefix && utf8.RuneCountInString(ws[0]) < 2 {
			return nil, p.errf(t.pos, "%q: a prefix needs at least two letters", t.text)
		}
		return newTerm(ws[0], prefix), nil
	}
	// "U.S." or "covid-19": the pieces as a phrase.
	var terms []*Term
	for i, w := range ws {
		terms = append(terms, newTerm(w, prefix && i == len(ws)-1))
	}
	return &Phrase{terms}, nil
}

func newTerm(w string, prefix bool) *Term {
	t := &Term{Word: w, Prefix: prefix, Latin: !textnorm.IsArabic(w)}
	t.forms = termForms(t)
	return t
}

// positive reports whether a match needs some word present (a query made
// only of exclusions would match nearly everything).
func positive(n Node) bool {
	switch n := n.(type) {
	case *Not:
		return false
	case *And:
		for _, k := range n.Kids {
			if positive(k) {
				return true
			}
		}
		return false
	case *Or:
		for _, k := range n.Kids {
			if !positive(k) {
				return false
			}
		}
		return true
	}
	return true
}
