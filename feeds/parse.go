package feeds

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	xunicode "golang.org/x/text/encoding/unicode"
)

// prolog matches the XML declaration's encoding attribute.
var prologEncoding = regexp.MustCompile(`^(\s*<\?xml[^>]*?\bencoding\s*=\s*)["']([A-Za-z0-9._:-]+)["']`)

// ParseError is a body that is not a feed raqib can read.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

// Parse turns a fetched body into a feed. contentType is the HTTP header
// (its charset counts), language the feed's configured language (a hint
// for bodies that declare no charset and are not UTF-8).
func Parse(body []byte, contentType, language string) (*gofeed.Feed, error) {
	text, err := ToUTF8(body, contentType, language)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimLeft(text, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &ParseError{"empty body: the server answered 200 with nothing in it"}
	}
	if looksLikeHTMLPage(trimmed) {
		return nil, &ParseError{"the server sent an HTML page, not a feed: the URL may be a web page; use the address of its RSS or Atom link"}
	}
	// gofeed's memory follows the body's elements, not its bytes: a body
	// within the size cap can still hold enough of them to take hundreds
	// of megabytes, so its shape is checked first, in one cheap pass, and
	// a feed of more items than are taken is read up to the last taken.
	head, tail, err := bound(text)
	if err != nil {
		return nil, err
	}
	var r io.Reader = bytes.NewReader(head)
	if tail != nil {
		r = io.MultiReader(r, bytes.NewReader(tail))
	}
	fp := gofeed.NewParser()
	// Raqib shows no item images, so gofeed's fallback that parses every
	// RSS item's HTML to find a first <img> is work thrown away: it was a
	// third of the parse of a feed of long articles.
	fp.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	feed, err := fp.Parse(r)
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, &ParseError{"not an RSS, Atom or JSON feed (the body " + describeStart(trimmed) + ")"}
		}
		return nil, &ParseError{"malformed feed" + whereMalformed(err)}
	}
	return feed, nil
}

// describeStart says what kind of body a non-feed answer is without
// quoting it: the answer may be an internal service's, and its bytes do not
// belong in an error that the API and the log show.
func describeStart(b []byte) string {
	switch {
	case b[0] == '{' || b[0] == '[':
		return "is JSON but not a JSON Feed"
	case b[0] == '<':
		return "is XML or HTML with no RSS, Atom or RDF root"
	case !utf8.Valid(b[:min(len(b), 512)]):
		return "is binary"
	default:
		return "is plain text"
	}
}

// whereMalformed gives a parse error's line, and nothing of its text,
// which quotes the body's element names and characters.
func whereMalformed(err error) string {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf(": XML syntax error on line %d", syn.Line)
	}
	var js *json.SyntaxError
	if errors.As(err, &js) {
		return fmt.Sprintf(": JSON syntax error at byte %d", js.Offset)
	}
	if m := lineRe.FindString(err.Error()); m != "" {
		return ": error on " + m
	}
	return ""
}

var lineRe = regexp.MustCompile(`line \d+`)

func looksLikeHTMLPage(b []byte) bool {
	head := strings.ToLower(string(b[:min(len(b), 512)]))
	head = strings.TrimPrefix(head, "\ufeff")
	if strings.HasPrefix(head, "<?xml") {
		// XHTML served with a prolog: still a page if its root is html.
		if i := strings.Index(head, "?>"); i >= 0 {
			head = strings.TrimLeft(head[i+2:], " \t\r\n")
		}
	}
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

// ToUTF8 returns body as UTF-8. The charset comes from, in order: a byte
// order mark, the HTTP Content-Type (RFC 7303 gives it precedence), the XML
// prolog, and else detection. A prolog naming another charset is rewritten
// to utf-8 so that the XML parser does not decode twice. Control bytes that
// XML forbids are dropped.
func ToUTF8(body []byte, contentType, language string) ([]byte, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	var enc encoding.Encoding
	var name string
	if bytes.HasPrefix(body, []byte("\xff\xfe")) || bytes.HasPrefix(body, []byte("\xfe\xff")) {
		enc, name = xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM), "utf-16"
	}
	if enc == nil && contentType != "" {
		if _, params, err := mime.ParseMediaType(contentType); err == nil && params["charset"] != "" {
			name = strings.ToLower(params["charset"])
		}
	}
	if enc == nil && name == "" {
		if m := prologEncoding.FindSubmatch(body[:min(len(body), 200)]); m != nil {
			name = strings.ToLower(string(m[2]))
		}
	}
	if enc == nil && name != "" {
		e, err := htmlindex.Get(name)
		if err == nil {
			enc = e
		}
		// An unknown label falls through to detection rather than failing:
		// the bytes decide.
	}
	if enc != nil {
		if n, _ := htmlindex.Name(enc); n == "utf-8" {
			enc = nil
		}
	}
	if enc == nil {
		if valid, clean := scanUTF8(body); valid {
			if !clean {
				body = stripControl(body)
			}
			return fixProlog(body), nil
		}
		if mostlyUTF8(body) {
			// A UTF-8 feed with a few broken bytes: keep its text, mark the
			// broken bytes, rather than reading it all as a legacy charset.
			return fixProlog(stripControl(bytes.ToValidUTF8(body, []byte("\uFFFD")))), nil
		}
		enc = detect(body, language)
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return nil, &ParseError{fmt.Sprintf("cannot decode the body as %s: %v", name, err)}
	}
	return fixProlog(stripControl(out)), nil
}

func fixProlog(b []byte) []byte {
	m := prologEncoding.FindSubmatchIndex(b[:min(len(b), 200)])
	if m == nil || strings.EqualFold(string(b[m[4]:m[5]]), "utf-8") {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:m[4]]...)
	out = append(out, "utf-8"...)
	return append(out, b[m[5]:]...)
}

// scanUTF8 reports whether b is valid UTF-8 and whether it is free of the
// control characters stripControl drops: one pass over the body instead of
// two (utf8.Valid goes a character at a time over Arabic text anyway).
func scanUTF8(b []byte) (valid, clean bool) {
	clean = true
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= 0x20 && c < 0x80:
			i++
		case c < 0x20:
			clean = clean && !isC0(c)
			i++
		case c >= 0xC2 && c <= 0xDF && i+1 < len(b) && b[i+1]&0xC0 == 0x80:
			i += 2 // a two-byte character: all of Arabic
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return false, clean
			}
			i += n
		}
	}
	return true, clean
}

// isC0 reports whether c is a C0 control character other than tab, LF and
// CR: what XML forbids, and what a feed's text may not carry.
func isC0(c byte) bool { return c < 0x20 && c != '\t' && c != '\n' && c != '\r' }

// stripControl drops C0 control characters other than tab, CR and LF; XML
// forbids them and one NUL would otherwise fail the whole feed.
func stripControl(b []byte) []byte {
	clean := true
	for _, c := range b {
		if isC0(c) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if !isC0(c) {
			out = append(out, c)
		}
	}
	return out
}

// mostlyUTF8 reports whether nearly all of a body's non-ASCII bytes form
// valid UTF-8 sequences (legacy single-byte text almost never does).
func mostlyUTF8(b []byte) bool {
	valid, invalid := 0, 0
	for len(b) > 0 {
		if b[0] < 0x80 {
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			invalid++
			b = b[1:]
			continue
		}
		valid += n
		b = b[n:]
	}
	return valid > 0 && invalid*4 < valid
}

// detect guesses the legacy charset of a body that is not UTF-8 and says
// none. Arabic feeds use windows-1256 or ISO-8859-6; both decode any byte,
// so the one that yields more Arabic letters (and fewer unassigned or
// accented-Latin characters) wins. Other languages fall back to windows-1252.
func detect(body []byte, language string) encoding.Encoding {
	candidates := []encoding.Encoding{charmap.Windows1256, charmap.ISO8859_6, charmap.Windows1252}
	lang := strings.ToLower(language)
	if lang != "" && !strings.HasPrefix(lang, "ar") && !strings.HasPrefix(lang, "fa") && !strings.HasPrefix(lang, "ur") {
		candidates = []encoding.Encoding{charmap.Windows1252, charmap.Windows1256}
	}
	best, bestScore := candidates[0], -1<<31
	for _, enc := range candidates {
		out, err := enc.NewDecoder().Bytes(body)
		if err != nil {
			continue
		}
		score := 0
		for _, r := range string(out) {
			switch {
			case r < 0x80:
			case r == utf8.RuneError || r == 0x1A || (r >= 0x80 && r < 0xA0):
				score -= 5
			case r >= 0x0600 && r <= 0x06FF:
				score += 2
			case unicode.IsLetter(r):
				score++
			default:
				score--
			}
		}
		if score > bestScore {
			best, bestScore = enc, score
		}
	}
	return best
}
