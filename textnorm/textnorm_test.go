package textnorm

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"diacritics", "مُحَمَّدٌ", "محمد"},
		{"tatweel", "الكـــرملين", "الكرملين"},
		{"alef variants", "أحمد إبراهيم آمنة ٱلله", "احمد ابراهيم امنه الله"},
		{"taa marbuta", "القاهرة مدرسة", "القاهره مدرسه"},
		{"alef maqsura", "مصطفى على", "مصطفي علي"},
		{"arabic-indic digits", "عام ٢٠٢٥ في ١١ مايو", "عام 2025 في 11 مايو"},
		{"persian digits", "۱۲۳", "123"},
		{"latin case", "Libya KREMLIN Putin", "libya kremlin putin"},
		{"presentation forms (NFKC)", "\uFE8D\uFEDF\uFEB4\uFEFC\uFEE1", "السلام"},
		{"mixed", "قال Putin إنّ الـ١٠٠ يوم", "قال putin ان ال100 يوم"},
		{"zero-width and rtl marks", "لي\u200cبيا\u200f", "ليبيا"},
		{"invalid utf-8 kept apart", "ليبيا\xffمصر", "ليبيا مصر"},
		{"persian yeh and keheh", "کتابی", "كتابي"},
	}
	for _, c := range cases {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("%s: Normalize(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	toks := Tokenize(Normalize("قُتل ٣٫٥ ألف شخص، و2,000 جريح (Reuters) في ليبيا."))
	var words []string
	for i, tk := range toks {
		if tk.Pos != i {
			t.Errorf("token %d has position %d", i, tk.Pos)
		}
		words = append(words, tk.Text)
	}
	want := []string{"قتل", "3.5", "الف", "شخص", "و2,000", "جريح", "reuters", "في", "ليبيا"}
	if !reflect.DeepEqual(words, want) {
		t.Errorf("tokens %q, want %q", words, want)
	}
	n := Normalize("ليبيا و Libya")
	for _, tk := range Tokenize(n) {
		if n[tk.Start:tk.End] != tk.Text {
			t.Errorf("offsets of %q wrong", tk.Text)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<div class="post"><script>var x = "<p>not text</p>";</script><style>p{color:red}</style>
<p>وصل الرئيس&nbsp;إلى <b>موسكو</b> &amp; التقى بوتين.</p><p>فقرة&#32;ثانية</p><br>سطر<iframe src="x">إطار</iframe></div>`
	got := HTMLToText(in)
	want := "وصل الرئيس إلى موسكو & التقى بوتين.\nفقرة ثانية\nسطر"
	if got != want {
		t.Errorf("HTMLToText = %q, want %q", got, want)
	}
	if HTMLToText("نص عادي   بلا وسوم") != "نص عادي بلا وسوم" {
		t.Error("plain text should only be collapsed")
	}
	if strings.Contains(HTMLToText("<p>a</p><noscript>b</noscript>"), "b") {
		t.Error("noscript content leaked")
	}
}

func TestArabicShare(t *testing.T) {
	if s := ArabicShare("هذا خبر عن Libya"); s < 0.6 || s > 0.8 {
		t.Errorf("share %v", s)
	}
	if ArabicShare("English only") != 0 {
		t.Error("english text has no arabic")
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"مُحَمَّدٌ", "Libya ليبيا", "\xff\xfe", "ﻻ", "٣٫٥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Errorf("not idempotent: %q -> %q -> %q", s, n, Normalize(n))
		}
		for _, tk := range Tokenize(n) {
			if n[tk.Start:tk.End] != tk.Text || tk.Text == "" {
				t.Fatalf("bad token %+v in %q", tk, n)
			}
		}
		HTMLToText(s)
	})
}

// foldByRune and collapseByRune are the plain rune-at-a-time forms of
// fold and collapse, which copy bytes in runs: the two must agree.
func foldByRune(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r = Fold(r); r >= 0 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func collapseByRune(s string) string {
	var b strings.Builder
	space, newline := false, 0
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u2028', '\u2029':
			newline++
			space = false
			continue
		case ' ', '\t', '\f', '\v', '\u00A0':
			space = true
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
		b.WriteRune(r)
	}
	return b.String()
}

// tokenizeByRune is Tokenize rune at a time, as it was first written.
func tokenizeByRune(s string) []Token {
	var toks []Token
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && (r == '.' || r == ',') && i > 0 && isDigitByte(s[i-1]) && i+1 < len(s) && isDigitByte(s[i+1]) {
			continue
		}
		if start >= 0 {
			toks = append(toks, Token{Text: s[start:i], Pos: len(toks), Start: start, End: i})
			start = -1
		}
	}
	if start >= 0 {
		toks = append(toks, Token{Text: s[start:], Pos: len(toks), Start: start, End: len(s)})
	}
	return toks
}

// FuzzFoldAndCollapse checks the byte-wise fold, collapse and Tokenize
// against their rune-at-a-time forms.
func FuzzFoldAndCollapse(f *testing.F) {
	for _, s := range []string{"مُحَمَّدٌ Putin", "أ\u00a0ب\u2028ج  \r\n د", "ÀÉ ﻻ", "\xd8", "\xe2\x80", "٣٫٥ ۱۲", "ȺȺȺȺ ȾȾ Привет \xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _, bad := fold(s)
		if bad != !utf8.ValidString(s) {
			t.Errorf("fold(%q) says bad %v", s, bad)
		}
		s = strings.ToValidUTF8(s, " ") // as Normalize and the HTML tokenizer hand them over
		got, other, _ := fold(s)
		if want := foldByRune(s); got != want {
			t.Errorf("fold(%q) = %q, want %q", s, got, want)
		}
		beyond := strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && (r < 0x0600 || r > 0x06FF) })
		if other != beyond {
			t.Errorf("fold(%q) says other %v", s, other)
		}
		if got, want := collapse(s), collapseByRune(s); got != want {
			t.Errorf("collapse(%q) = %q, want %q", s, got, want)
		}
		if got, want := Tokenize(s), tokenizeByRune(s); len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("Tokenize(%q) = %v, want %v", s, got, want)
		}
	})
}

// feedHTML is HTML as feeds carry it, which the scan of plainHTMLToText
// must take without handing over to the tokenizer.
var feedHTML = []string{
	`<p>أعلنت وزارة الصحة في <a href="https://example.com/a?b=1&amp;c=2" target=_blank>طرابلس</a> &laquo;ارتفاع&raquo; عدد الضحايا.</p><p><img src='x.jpg' alt="صورة" /><br/>سطر&nbsp;ثان</p>`,
	"<div class=\"body\">\r\n<h2>عنوان</h2>\r\n<P STYLE=\"x\">Text &#8211; more &amp;c</P>\n<ul><li>one<li>two</ul></div>",
	`<figure><figcaption>صورة</figcaption></figure><blockquote cite=x>قال: <strong>نعم</strong>, <em>لا</em></blockquote>`,
}

func TestPlainHTMLToTextTakesFeedHTML(t *testing.T) {
	for _, s := range feedHTML {
		got, ok := plainHTMLToText(s)
		if !ok {
			t.Errorf("handed over: %q", s)
			continue
		}
		if want := tokenHTMLToText(s); got != want {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	}
	for _, s := range []string{"a <!-- c --> b", "<script>x</script>", "1 < 2", "<p", `<a href="x>`, "<svg><g/></svg>", "</>"} {
		if _, ok := plainHTMLToText(s); ok {
			t.Errorf("took %q: the tokenizer should", s)
		}
	}
}

// FuzzHTMLToText holds the scan of plainHTMLToText to the tokenizer's
// output on whatever it takes.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range feedHTML {
		f.Add(s)
	}
	for _, s := range []string{`<a =x>y</a>`, `<p a=/>t`, `<b a="1"c=2 / d>`, "<p\x00>\x00&amp", `<em/ >x</em >`, "x\r\ny\rz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := plainHTMLToText(s)
		if !ok {
			return
		}
		if want := tokenHTMLToText(s); got != want {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	})
}

// TestLettersIsUnicodeIsLetter holds Letters' tables to unicode.IsLetter
// over every rune of the planes news is written in, and over mixed text,
// with and without a limit.
func TestLettersIsUnicodeIsLetter(t *testing.T) {
	naive := func(s string, limit int) (all, ar int) {
		for _, r := range s {
			if unicode.IsLetter(r) {
				all++
				if r >= 0x0600 && r <= 0x06FF || r >= 0xFB50 && r <= 0xFEFF {
					ar++
				}
			}
			if limit > 0 && all >= limit {
				break
			}
		}
		return all, ar
	}
	for r := rune(0); r < 0x10000; r++ {
		s := string(r)
		a, b := Letters(s, 0)
		if na, nb := naive(s, 0); a != na || b != nb {
			t.Fatalf("U+%04X: Letters %d/%d, unicode.IsLetter %d/%d", r, a, b, na, nb)
		}
	}
	for _, tc := range []struct {
		s     string
		limit int
	}{
		{"هذا خبر عن Libya، ١٢٣ والكرملين", 0},
		{"هذا خبر عن Libya، ١٢٣ والكرملين", 5},
		{"ﻻ ﷲ — Ελλάδα, Москва 2026 \xff\xfe bad bytes", 0},
		{"", 0},
		{"1234 !!! ،؟", 0},
	} {
		a, b := Letters(tc.s, tc.limit)
		if na, nb := naive(tc.s, tc.limit); a != na || b != nb {
			t.Errorf("%q (limit %d): %d/%d, want %d/%d", tc.s, tc.limit, a, b, na, nb)
		}
	}
}
