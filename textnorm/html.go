package textnorm

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipped elements' text is never content.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Iframe: true,
	atom.Object: true, atom.Embed: true, atom.Template: true, atom.Svg: true,
	atom.Math: true, atom.Head: true, atom.Title: true, atom.Select: true, atom.Button: true,
}

// blocks become line breaks so that paragraphs stay apart.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Tr: true, atom.Td: true, atom.Th: true,
	atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true, atom.Aside: true,
	atom.Nav: true, atom.Figure: true, atom.Figcaption: true, atom.Hr: true, atom.Dd: true, atom.Dt: true,
	atom.Main: true, atom.Form: true,
}

// LooksLikeHTML reports whether s holds markup or entities worth parsing.
func LooksLikeHTML(s string) bool {
	i := strings.IndexAny(s, "<&")
	if i < 0 {
		return false
	}
	return strings.Contains(s[i:], ">") || strings.Contains(s[i:], ";")
}

// HTMLToText returns the visible text of an HTML fragment: tags dropped,
// scripts and styles removed with their content, entities decoded, block
// elements turned into line breaks, runs of spaces collapsed.
func HTMLToText(s string) string {
	if !LooksLikeHTML(s) {
		return collapse(s)
	}
	if text, ok := plainHTMLToText(s); ok {
		return text
	}
	return tokenHTMLToText(s)
}

// tokenHTMLToText is HTMLToText by x/net/html's tokenizer, for any HTML.
func tokenHTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	b.Grow(len(s))
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return collapse(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] && tt == html.StartTagToken && a != atom.Br {
				skip++
			}
			if blocks[a] {
				b.WriteByte('\n')
			} else if skip == 0 {
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] && skip > 0 {
				skip--
			}
			if blocks[a] {
				b.WriteByte('\n')
			}
		}
	}
}

// rawText are the elements after whose start tag the tokenizer reads text
// as it is, up to their end tag.
var rawText = map[atom.Atom]bool{
	atom.Iframe: true, atom.Noembed: true, atom.Noframes: true, atom.Noscript: true, atom.Plaintext: true,
	atom.Script: true, atom.Style: true, atom.Textarea: true, atom.Title: true, atom.Xmp: true,
}

// plainHTMLToText is tokenHTMLToText by a scan of its own, for the HTML
// that feeds carry: text, entities, and tags of elements that are neither
// skipped nor raw text, with or without attributes. At anything else (a
// comment or doctype, a '<' that opens no tag, a tag cut off, a skipped or
// raw-text element) it gives up, ok false, for the tokenizer to do. It
// reads tags exactly as the tokenizer does (a fuzz test holds the two to
// the same output) at several times its speed: the tokenizer copies each
// text and tag into a token and looks every tag's attributes over.
func plainHTMLToText(s string) (text string, ok bool) {
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	b := (*bp)[:0]
	defer func() { *bp = b[:0] }() // keeps what appending grew
	var name [16]byte
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			b = appendHTMLText(b, s[i:])
			break
		}
		b = appendHTMLText(b, s[i:i+j])
		i += j + 1
		end := i < len(s) && s[i] == '/'
		if end {
			i++
		}
		if i >= len(s) || !('a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z') {
			return "", false // text, a comment, "</>": the tokenizer's
		}
		start := i
		for i < len(s) && !htmlSpace(s[i]) && s[i] != '/' && s[i] != '>' {
			i++
		}
		var a atom.Atom
		if n := i - start; n <= len(name) {
			for k := 0; k < n; k++ {
				c := s[start+k]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				name[k] = c
			}
			a = atom.Lookup(name[:n])
		}
		if i = skipAttributes(s, i); i < 0 {
			return "", false // cut off
		}
		switch {
		case !end && (skipped[a] || rawText[a]):
			return "", false
		case blocks[a]:
			b = append(b, '\n')
		case !end && !skipped[a]:
			b = append(b, ' ')
		}
	}
	return string(collapseBytes(b)), true
}

// skipAttributes returns the index just past the '>' that ends a tag whose
// name ends before s[i], reading attributes as the tokenizer's readTag
// does, or -1 if s ends first.
func skipAttributes(s string, i int) int {
	i = skipHTMLSpace(s, i)
	for i < len(s) {
		if s[i] == '>' {
			return i + 1
		}
		// The attribute's name: an '=' first is part of it.
		k := i
		for ; i < len(s); i++ {
			c := s[i]
			if c == '=' && i == k {
				continue
			}
			if htmlSpace(c) || c == '=' || c == '/' || c == '>' {
				break
			}
		}
		// Its value.
		if i = skipHTMLSpace(s, i); i >= len(s) {
			return -1
		}
		c := s[i]
		i++
		switch {
		case c == '/':
		case c != '=':
			i--
		default:
			if i = skipHTMLSpace(s, i); i >= len(s) {
				return -1
			}
			switch q := s[i]; q {
			case '>':
			case '"', '\'':
				e := strings.IndexByte(s[i+1:], q)
				if e < 0 {
					return -1
				}
				i += e + 2
			default:
				for i++; i < len(s) && !htmlSpace(s[i]) && s[i] != '>'; i++ {
				}
				if i < len(s) && s[i] != '>' {
					i++ // the space that ended it
				}
			}
		}
		i = skipHTMLSpace(s, i)
	}
	return -1
}

func htmlSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

func skipHTMLSpace(s string, i int) int {
	for i < len(s) && htmlSpace(s[i]) {
		i++
	}
	return i
}

// appendHTMLText appends a text token as the tokenizer gives it: line
// breaks made "\n", entities decoded.
func appendHTMLText(b []byte, t string) []byte {
	if strings.IndexByte(t, '\r') >= 0 {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "\r\n", "\n"), "\r", "\n")
	}
	if strings.IndexByte(t, '&') >= 0 {
		t = html.UnescapeString(t)
	}
	return append(b, t...)
}

// collapse squeezes spaces within lines and blank lines between paragraphs.
func collapse(s string) string { return string(collapseBytes([]byte(s))) }

// collapseBytes is collapse in place: what it writes is never longer than
// what it has read. Words are copied in runs of bytes; only the separators
// are looked at.
func collapseBytes(s []byte) []byte {
	w := 0
	space, newline := false, 0
	for i := 0; i < len(s); {
		var n int // length of a separator at i, or 0
		nl := false
		switch c := s[i]; {
		case c == '\n' || c == '\r':
			n, nl = 1, true
		case c == ' ' || c == '\t' || c == '\f' || c == '\v':
			n = 1
		case c == 0xC2 && i+1 < len(s) && s[i+1] == 0xA0: // U+00A0
			n = 2
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9): // U+2028, U+2029
			n, nl = 3, true
		}
		if n > 0 {
			if nl {
				newline++
				space = false
			} else {
				space = true
			}
			i += n
			continue
		}
		if w > 0 {
			switch {
			case newline > 0:
				s[w] = '\n'
				w++
			case space:
				s[w] = ' '
				w++
			}
		}
		newline, space = 0, false
		j := i + 1
		for j < len(s) && !maybeSeparator(s[j]) {
			j++
		}
		w += copy(s[w:], s[i:j])
		i = j
	}
	return s[:w]
}

// maybeSeparator reports whether a separator collapse knows may start at
// byte c. A table: collapse asks it of every byte of a text.
func maybeSeparator(c byte) bool { return separatorStart[c] }

var separatorStart = func() (t [256]bool) {
	for _, c := range []byte{'\n', '\r', ' ', '\t', '\f', '\v', 0xC2, 0xE2} {
		t[c] = true
	}
	return t
}()
