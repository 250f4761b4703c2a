// Package textnorm turns feed text into the normalised form that dedup and
// alert matching work on: HTML to text, Unicode NFKC, Arabic orthographic
// folding (diacritics, tatweel, alef variants, taa marbuta, alef maqsura),
// ASCII digits, Latin case folding, and tokens with word positions.
package textnorm

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds s so that spelling variants compare equal. It keeps word
// boundaries and punctuation, so tokens can be taken from the result.
func Normalize(s string) string {
	out, other, bad := fold(s)
	if bad { // rare: fold again what a reader would see
		s = strings.ToValidUTF8(s, " ")
		out, other, _ = fold(s)
	}
	// Only a character beyond ASCII and the Arabic block can change under
	// NFKC: text of those alone (most of what raqib reads) is done in one
	// pass.
	if !other || !needsNFKC(s) {
		return out
	}
	out, _, _ = fold(norm.NFKC.String(s))
	// Folding can enable a composition NFKC did not make before (a lower-
	// case letter with a combining mark that has a precomposed form): go
	// once more, so that normalising normalised text changes nothing.
	if needsNFKC(out) {
		if again := norm.NFKC.String(out); again != out {
			out, _, _ = fold(again)
		}
	}
	return out
}

// arabicAt reports whether the character at s[i] is in the Arabic block
// U+0600..U+06FF (two bytes, the first D8 to DB), the bulk of what raqib
// reads, and its place in the block: the index of the tables below, found
// without the general UTF-8 decoder.
func arabicAt(s string, i int) (int, bool) {
	c := s[i]
	if c < 0xD8 || c > 0xDB || i+1 >= len(s) || s[i+1]&0xC0 != 0x80 {
		return 0, false
	}
	return int(c&0x03)<<6 | int(s[i+1]&0x3F), true
}

// Over the Arabic block, indexed as arabicAt gives: arabicFolded is Fold
// as the UTF-8 bytes each character folds to (none, an ASCII digit or
// sign, or another Arabic letter), arabicWord is isWordRune. asciiFolded
// is Fold over ASCII.
var (
	arabicFolded [0x100]struct {
		b [2]byte
		n uint8
	}
	arabicWord  [0x100]bool
	asciiFolded [0x80]byte
)

func init() {
	for r := rune(0x0600); r <= 0x06FF; r++ {
		e := &arabicFolded[r-0x0600]
		if f := Fold(r); f >= 0 {
			e.n = uint8(utf8.EncodeRune(e.b[:], f))
		}
		arabicWord[r-0x0600] = isWordRune(r)
	}
	for c := range asciiFolded {
		asciiFolded[c] = byte(Fold(rune(c)))
	}
}

// fold applies Fold to every rune. ASCII and Arabic characters, most of
// what raqib reads, are looked up by their bytes and always written: a
// news text changes a letter in ten or so (ة, أ, ى), and writing every
// character costs less than the mispredicted branches of copying only
// the changed ones. other reports a character beyond ASCII and the Arabic
// block, bad a byte that is not UTF-8 (checked here rather than in a pass
// of its own).
func fold(s string) (out string, other, bad bool) {
	// buf always has room for the rest of s, folded to no longer, so the
	// ASCII and Arabic writes need no check.
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	if cap(*bp) < len(s)+4 {
		*bp = make([]byte, len(s)+4+len(s)/4)
	}
	buf := (*bp)[:len(s)+4]
	defer func() { *bp = buf[:0] }() // keeps a buffer the fold grew
	j := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			buf[j] = asciiFolded[c]
			i++
			j++
			continue
		}
		if k, ok := arabicAt(s, i); ok {
			e := &arabicFolded[k]
			buf[j], buf[j+1] = e.b[0], e.b[1]
			j += int(e.n)
			i += 2
			continue
		}
		other = true
		r, n := utf8.DecodeRuneInString(s[i:])
		bad = bad || n == 1
		i += n
		if f := Fold(r); f >= 0 {
			var enc [utf8.UTFMax]byte
			k := utf8.EncodeRune(enc[:], f)
			if need := j + k + len(s) - i + 4; need > len(buf) {
				// The fold of a character can be longer than it: keep
				// room for the rest of s as it is.
				buf = append(buf[:j], make([]byte, need-j+len(buf)/2)...)
			}
			j += copy(buf[j:], enc[:k])
		}
	}
	if j == len(s) && string(buf[:j]) == s {
		return s, other, bad // nothing changed: keep the original
	}
	return string(buf[:j]), other, bad
}

// scratch holds work space between calls of fold and the HTML scan: their
// result is copied out as a new string anyway, so a fresh buffer per text
// was only more memory to zero and collect.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// needsNFKC reports whether NFKC could change s. ASCII and the Arabic block
// are skipped byte-quickly (Arabic text is most of what raqib reads); any
// other character is asked of the norm package's tables: one with a
// decomposition (Arabic presentation forms, ligatures, full-width and
// modifier letters, accented letters) or a combining class means NFKC.
func needsNFKC(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		if _, ok := arabicAt(s, i); ok {
			i += 2
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		p := norm.NFKC.PropertiesString(s[i:])
		if len(p.Decomposition()) > 0 || p.CCC() != 0 || !p.BoundaryBefore() {
			return true
		}
		i += n
	}
	return false
}

// Fold maps one rune to its normalised form, or -1 when it is dropped.
func Fold(r rune) rune {
	switch {
	case r == 0x0640: // tatweel
		return -1
	case r >= 0x064B && r <= 0x065F, r == 0x0670, r >= 0x06D6 && r <= 0x06ED:
		return -1 // tashkeel and Quranic marks
	case r == 0x200C || r == 0x200D || r == 0x200E || r == 0x200F || r == 0xFEFF || r == 0x061C:
		return -1 // zero-width joiners and direction marks
	case r == 'أ' || r == 'إ' || r == 'آ' || r == 'ٱ':
		return 'ا'
	case r == 'ة':
		return 'ه'
	case r == 'ى':
		return 'ي'
	case r >= '٠' && r <= '٩':
		return '0' + (r - '٠')
	case r >= '۰' && r <= '۹':
		return '0' + (r - '۰')
	case r == 'ی' || r == 'ې': // Persian/Urdu yeh
		return 'ي'
	case r == 'ک': // keheh
		return 'ك'
	case r == '٫': // Arabic decimal separator
		return '.'
	case r == '٬': // Arabic thousands separator
		return ','
	case r == '\u00A0' || r == '\u2007' || r == '\u202F':
		return ' '
	}
	if r < 0x0600 || r > 0x06FF {
		return unicode.ToLower(r)
	}
	return r
}

// Token is one word of normalised text.
type Token struct {
	Text  string
	Pos   int // word position, 0-based
	Start int // byte offsets in the normalised text
	End   int
}

func isWordRune(r rune) bool {
	switch {
	case r < 0x80:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	case r >= 0x0621 && r <= 0x064A: // Arabic letters
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Tokenize splits normalised text into words: runs of letters and digits,
// with a number's inner "." or "," (3.5, 2,000) kept inside it.
func Tokenize(s string) []Token {
	return AppendTokens(make([]Token, 0, len(s)/6), s, 0, 0)
}

// AppendTokens appends the tokens of s to toks, their positions counted
// from pos and their offsets from off (s follows other text).
func AppendTokens(toks []Token, s string, pos, off int) []Token {
	for i := 0; ; {
		start, end := NextWord(s, i)
		if start < 0 {
			return toks
		}
		toks = append(toks, Token{Text: s[start:end], Pos: pos, Start: off + start, End: off + end})
		pos++
		i = end
	}
}

// NextWord returns the bounds of the first word of normalised text s at or
// after byte i, or start -1 when there is none: for callers that take the
// words one by one, with no token list.
func NextWord(s string, i int) (start, end int) {
	start = -1
	for i < len(s) {
		c := s[i]
		var word bool
		n := 1
		if c < 0x80 {
			word = asciiWord[c]
		} else if k, ok := arabicAt(s, i); ok {
			word, n = arabicWord[k], 2
		} else {
			var r rune
			r, n = utf8.DecodeRuneInString(s[i:])
			word = isWordRune(r)
		}
		switch {
		case word:
			if start < 0 {
				start = i
			}
		case start >= 0 && (c == '.' || c == ',') && isDigitByte(s[i-1]) && i+1 < len(s) && isDigitByte(s[i+1]):
			// inside a number
		case start >= 0:
			return start, i
		}
		i += n
	}
	return start, len(s)
}

// asciiWord marks the ASCII letters and digits.
var asciiWord = func() (t [0x80]bool) {
	for c := 0; c < 0x80; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// Words is Tokenize without positions.
func Words(s string) []string {
	toks := Tokenize(s)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Text
	}
	return out
}

// IsArabic reports whether a word is written in Arabic script.
func IsArabic(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return r >= 0x0600 && r <= 0x06FF
}

// ArabicShare is the share of letters in s that are Arabic, for language
// detection, over its first 2,000 letters.
func ArabicShare(s string) float64 {
	all, ar := Letters(s, 2000)
	if all == 0 {
		return 0
	}
	return float64(ar) / float64(all)
}

// Letters counts the letters of s, and of those the Arabic ones, up to
// limit letters (0: all of them). It reads runes as unicode.IsLetter does,
// with the two scripts of the news looked up in tables: this runs on every
// item.
func Letters(s string, limit int) (all, arabic int) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if asciiLetter[c] {
				all++
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			switch {
			case r >= 0x0600 && r <= 0x06FF:
				if arabicLetter[r-0x0600] {
					all++
					arabic++
				}
			case unicode.IsLetter(r):
				all++
				if r >= 0xFB50 && r <= 0xFEFF {
					arabic++
				}
			}
		}
		if limit > 0 && all >= limit {
			break
		}
	}
	return all, arabic
}

// asciiLetter and arabicLetter are unicode.IsLetter over ASCII and the
// Arabic block.
var asciiLetter, arabicLetter = func() (a [utf8.RuneSelf]bool, ar [0x100]bool) {
	for r := range a {
		a[r] = unicode.IsLetter(rune(r))
	}
	for r := range ar {
		ar[r] = unicode.IsLetter(rune(0x0600 + r))
	}
	return a, ar
}()
