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

// collapse squeezes spaces within lines and blank lines between paragraphs.
// Words are copied in runs of bytes; only the separators are looked at.
func collapse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
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
		if b.Len() > 0 {
			switch {
			case newline > 0:
				b.WriteByte('\n')
			case space:
				b.WriteByte(' ')
			}
		}
		newline, space = 0, false
		j := i + 1
		for j < len(s) && !maybeSeparator(s[j]) {
			j++
		}
		b.WriteString(s[i:j])
		i = j
	}
	return b.String()
}

// maybeSeparator reports whether a separator collapse knows may start at
// byte c.
func maybeSeparator(c byte) bool {
	switch c {
	case '\n', '\r', ' ', '\t', '\f', '\v', 0xC2, 0xE2:
		return true
	}
	return false
}
