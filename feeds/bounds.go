package feeds

import (
	"bytes"
	"fmt"
)

// The shape a body may have before gofeed parses it. gofeed keeps a
// struct, a map or both for every element it reads (an unknown element
// becomes a tree of maps), and copies the namespaces in scope at every
// element, so its memory follows the count of elements, not the body's
// size: under the body cap alone, a body of nothing but tags cost many
// times its size. A real feed is far inside these; docs/RELIABILITY.md
// ("Parse bounds") gives the measurements they come from.
const (
	// maxDepth is how deep elements may nest. RSS and Atom are under ten
	// deep; Atom's xhtml content adds the depth of an article's HTML.
	maxDepth = 256
	// maxOpen bounds the elements open at once counting HTML's empty
	// elements (<br>, <img>, ...), which feeds with raw HTML leave
	// unclosed and the XML parser closes only with their parent: those do
	// not count toward maxDepth, but gofeed recurses into every open one.
	maxOpen = 4096
	// maxElements bounds the elements in a body; with maxAttributes, it is
	// what bounds gofeed's memory for any body that passes. So many of the
	// costliest elements measured take a small multiple of poll.max_body's
	// default; the first MaxItems items of a real feed, all that is
	// counted, hold well under it.
	maxElements = 50_000
	// maxAttributes bounds attributes in a body: each is a string pair,
	// and an unknown element's go into a map.
	maxAttributes = 50_000
	// maxNamespaces bounds the namespace declarations in scope: gofeed
	// copies every binding in scope at every element, so time and garbage
	// go as declarations times elements. Feeds declare a few, podcasts a
	// couple of dozen; Atom's xhtml content declares one per entry, but
	// each is out of scope after its entry.
	maxNamespaces = 64
	// maxJSONDepth is how deep a JSON Feed's arrays and objects may nest;
	// JSON Feed itself is five deep.
	maxJSONDepth = 64
	// maxJSONValues bounds a JSON body's values (arrays, objects, strings,
	// numbers, literals; not keys): each item, author, attachment or tag
	// gofeed decodes is a struct or string of its own.
	maxJSONValues = 100_000
)

// bound refuses a body that nests too deep or holds too many elements or
// values for gofeed to parse in bounded memory, and returns what gofeed is
// to read: b whole, or, for a feed of more than MaxItems items, b up to
// its MaxItems-th item followed by tail, which closes what is open there.
// Only the first MaxItems items are ever taken (ToItems), so the rest is
// neither parsed nor counted. It reads b once and allocates nothing per
// element; what is not well-formed is left for the parser to report, so
// its errors stay the parser's.
func bound(b []byte) (head, tail []byte, err error) {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return boundJSON(b)
	}
	return boundXML(b)
}

// shapeError names the bound a body broke and where, never its bytes.
func shapeError(b []byte, at int, what string) error {
	line := 1 + bytes.Count(b[:min(at, len(b))], []byte("\n"))
	return &ParseError{fmt.Sprintf("refused before parsing: %s (line %d); no real feed is shaped so", what, line)}
}

// openElement is an element on the scan's stack: its name's place in the
// body, so that an end tag closes what the XML parser would close.
type openElement struct {
	start, end int
	decls      int  // namespace declarations it makes
	empty      bool // an HTML empty element such as <br>
}

// boundXML follows encoding/xml as gofeed runs it (not strict): an end tag
// closes every element opened since the one it names, as the parser does
// for unclosed HTML; comments, CDATA, processing instructions and
// directives (<!DOCTYPE>, with its quoted strings and inner comments) hold
// no elements; quoted attribute values may hold '>' and '/'. An item is an
// <item> or <entry> (of any prefix) in the root (Atom, RSS 1.0) or in a
// <channel> in the root (RSS 2.0).
func boundXML(b []byte) (head, tail []byte, err error) {
	var (
		open                 = make([]openElement, 0, 32)
		depth                int // open elements, not counting empty ones
		inScope              int // namespace declarations on open elements
		elements, attributes int
		items                int
	)
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 || i+j+1 >= len(b) {
			return b, nil, nil
		}
		at := i + j // the '<'
		i = at + 1
		switch b[i] {
		case '/':
			start := i + 1
			end := start + nameLen(b[start:])
			i = end
			if k := bytes.IndexByte(b[end:], '>'); k >= 0 {
				i = end + k + 1
			}
			// Close the innermost open element of that local name (the
			// parser compares no prefixes: two may name one namespace)
			// and all opened after it. An end tag that matches none ends
			// the parse with an error, so nothing after it costs memory.
			name := localName(b[start:end])
			k := len(open) - 1
			for k >= 0 && !bytes.Equal(localName(b[open[k].start:open[k].end]), name) {
				k--
			}
			if k < 0 {
				return b, nil, nil
			}
			for _, e := range open[k:] {
				if !e.empty {
					depth--
				}
				inScope -= e.decls
			}
			open = open[:k]
		case '?':
			i = skipPast(b, i+1, "?>")
		case '!':
			switch {
			case bytes.HasPrefix(b[i:], []byte("!--")):
				i = skipPast(b, i+3, "-->")
			case bytes.HasPrefix(b[i:], []byte("![CDATA[")):
				i = skipPast(b, i+8, "]]>")
			default:
				i = skipDirective(b, i+1)
			}
		default:
			start := i
			end := start + nameLen(b[start:])
			if end == start {
				continue // a '<' in text: the parser's error to report
			}
			if isItem(b[start:end]) && (depth == 1 || depth == 2 && isChannel(b, open[len(open)-1])) {
				if items++; items > MaxItems {
					return b[:at], closeXML(b, open), nil
				}
			}
			elements++
			if elements > maxElements {
				return nil, nil, shapeError(b, at, fmt.Sprintf("more than %d elements", maxElements))
			}
			var attrs, decls int
			var selfClosed bool
			i, attrs, decls, selfClosed = scanTag(b, end)
			if attributes += attrs; attributes > maxAttributes {
				return nil, nil, shapeError(b, at, fmt.Sprintf("more than %d attributes", maxAttributes))
			}
			if inScope+decls > maxNamespaces {
				return nil, nil, shapeError(b, at, fmt.Sprintf("more than %d XML namespace declarations in scope", maxNamespaces))
			}
			if selfClosed {
				continue
			}
			empty := htmlEmpty(b[start:end])
			open = append(open, openElement{start, end, decls, empty})
			inScope += decls
			if !empty {
				if depth++; depth > maxDepth {
					return nil, nil, shapeError(b, at, fmt.Sprintf("elements nested deeper than %d", maxDepth))
				}
			}
			if len(open) > maxOpen {
				return nil, nil, shapeError(b, at, fmt.Sprintf("more than %d elements open at once, counting unclosed HTML <br>, <img> and the like", maxOpen))
			}
		}
	}
}

// localName is a name less its prefix, split as encoding/xml splits it.
func localName(name []byte) []byte {
	if k := bytes.IndexByte(name, ':'); k > 0 && k < len(name)-1 && bytes.IndexByte(name[k+1:], ':') < 0 {
		return name[k+1:]
	}
	return name
}

// isItem reports whether an element's name is RSS's item or Atom's entry,
// with or without a prefix.
func isItem(name []byte) bool {
	name = localName(name)
	return string(name) == "item" || string(name) == "entry"
}

func isChannel(b []byte, e openElement) bool {
	return string(localName(b[e.start:e.end])) == "channel"
}

// closeXML is the end tags of the open elements, innermost first.
func closeXML(b []byte, open []openElement) []byte {
	var tail []byte
	for k := len(open) - 1; k >= 0; k-- {
		tail = append(tail, "</"...)
		tail = append(tail, b[open[k].start:open[k].end]...)
		tail = append(tail, '>')
	}
	return tail
}

// scanTag reads a start tag's attributes from i, just after its name, to
// just past its '>', counting attributes and namespace declarations. As
// the parser does when not strict, an attribute may lack a value or its
// quotes.
func scanTag(b []byte, i int) (next, attrs, decls int, selfClosed bool) {
	for i < len(b) {
		switch c := b[i]; {
		case c == '>':
			return i + 1, attrs, decls, false
		case c == '/':
			if i+1 < len(b) && b[i+1] == '>' {
				return i + 2, attrs, decls, true
			}
			i++
		case isXMLSpace(c):
			i++
		default:
			n := nameLen(b[i:])
			if n == 0 {
				i++ // a stray quote, '=' or '<': the parser's error
				continue
			}
			attrs++
			if name := b[i : i+n]; bytes.Equal(name, []byte("xmlns")) || bytes.HasPrefix(name, []byte("xmlns:")) {
				decls++
			}
			i += n
			for i < len(b) && isXMLSpace(b[i]) {
				i++
			}
			if i >= len(b) || b[i] != '=' {
				continue
			}
			i++
			for i < len(b) && isXMLSpace(b[i]) {
				i++
			}
			if i < len(b) && (b[i] == '"' || b[i] == '\'') {
				k := bytes.IndexByte(b[i+1:], b[i])
				if k < 0 {
					return len(b), attrs, decls, false
				}
				i += k + 2
				continue
			}
			for i < len(b) && isUnquotedValue(b[i]) {
				i++
			}
		}
	}
	return len(b), attrs, decls, false
}

// nameLen is the length of the element or attribute name at the start of
// b: up to a space or a byte that cannot be in a name.
func nameLen(b []byte) int {
	for i, c := range b {
		switch {
		case isXMLSpace(c), c == '>', c == '/', c == '=', c == '<', c == '"', c == '\'':
			return i
		}
	}
	return len(b)
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isUnquotedValue is what the parser, when not strict, takes into an
// unquoted attribute value.
func isUnquotedValue(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == ':' || c == '-'
}

// htmlEmpty reports whether name is one of HTML's empty elements, which
// raw HTML in a feed leaves unclosed.
func htmlEmpty(name []byte) bool {
	if len(name) < 2 || len(name) > 6 {
		return false
	}
	var lower [6]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(name)]) {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr":
		return true
	}
	return false
}

// skipPast returns the index just past the first end at or after i, or
// len(b) if there is none.
func skipPast(b []byte, i int, end string) int {
	if k := bytes.Index(b[i:], []byte(end)); k >= 0 {
		return i + k + len(end)
	}
	return len(b)
}

// skipDirective returns the index just past the '>' that ends a directive
// begun at i (after "<!"), as encoding/xml finds it: brackets nest, quoted
// ones do not count, and comments inside are skipped whole.
func skipDirective(b []byte, i int) int {
	var quote byte
	nest := 0
	for i < len(b) {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			if nest == 0 {
				return i + 1
			}
			nest--
		case c == '<':
			if bytes.HasPrefix(b[i+1:], []byte("!--")) {
				i = skipPast(b, i+4, "-->")
				continue
			}
			nest++
		}
		i++
	}
	return len(b)
}

// boundJSON bounds a JSON body's nesting and its values. Brackets inside
// strings do not count; a string followed by ':' is a key, not a value.
// The items are the values of the root object's "items" array.
func boundJSON(b []byte) (head, tail []byte, err error) {
	var (
		depth, values int
		objects       uint64 // bit d-1 set: the container at depth d is an object
		itemsKey      bool   // the root's last key was "items"
		inItems       bool   // depth 2 is the root's items array
		items         int
		itemEnd       int // just past the last item
	)
	value := func(i int) error {
		if values++; values > maxJSONValues {
			return shapeError(b, i, fmt.Sprintf("more than %d JSON values", maxJSONValues))
		}
		return nil
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inItems && depth == 2 && startsJSONValue(c) {
			if items++; items > MaxItems {
				return b[:itemEnd], closeJSON(depth, objects), nil
			}
		}
		switch c {
		case ' ', '\t', '\r', '\n', ',', ':':
		case '{', '[':
			if err := value(i); err != nil {
				return nil, nil, err
			}
			if depth == 1 && c == '[' && itemsKey && objects&1 != 0 {
				inItems = true
			}
			if depth++; depth > maxJSONDepth {
				return nil, nil, shapeError(b, i, fmt.Sprintf("JSON nested deeper than %d arrays and objects", maxJSONDepth))
			}
			if c == '{' {
				objects |= 1 << (depth - 1)
			} else {
				objects &^= 1 << (depth - 1)
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
			if depth == 2 && inItems {
				itemEnd = i + 1
			}
			if depth < 2 {
				inItems = false
			}
		case '"':
			end := jsonStringEnd(b, i)
			if end < 0 {
				return b, nil, nil // unterminated: the parser's error
			}
			k := end + 1
			for k < len(b) && isXMLSpace(b[k]) {
				k++
			}
			if k < len(b) && b[k] == ':' {
				if depth == 1 {
					itemsKey = string(b[i+1:end]) == "items"
				}
			} else if err := value(i); err != nil {
				return nil, nil, err
			}
			i = end
			if depth == 2 && inItems {
				itemEnd = i + 1
			}
		default:
			// A number or literal (true, false, null), or bytes the
			// parser will refuse: one value up to the next delimiter.
			if err := value(i); err != nil {
				return nil, nil, err
			}
			for i+1 < len(b) && !isJSONDelimiter(b[i+1]) {
				i++
			}
			if depth == 2 && inItems {
				itemEnd = i + 1
			}
		}
	}
	return b, nil, nil
}

// startsJSONValue reports whether c, where a value may be, starts one.
func startsJSONValue(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', '}', ']':
		return false
	}
	return true
}

// closeJSON closes the arrays and objects open at depth, innermost first.
func closeJSON(depth int, objects uint64) []byte {
	tail := make([]byte, 0, depth)
	for d := depth; d >= 1; d-- {
		if objects&(1<<(d-1)) != 0 {
			tail = append(tail, '}')
		} else {
			tail = append(tail, ']')
		}
	}
	return tail
}

// jsonStringEnd is the index of the quote that closes the string opened at
// i, or -1. A quote is escaped when an odd run of backslashes precedes it;
// each run is counted once, so the scan stays linear.
func jsonStringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		j = q + 1
	}
	return -1
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}
