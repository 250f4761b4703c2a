package feeds

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestScanUTF8 holds the one-pass scan to utf8.Valid and to stripControl's
// own test for control characters, on edge cases and on every prefix of a
// mixed text (so that each multi-byte character is also seen cut off).
func TestScanUTF8(t *testing.T) {
	mixed := "<a>خبر\u00a0عاجل \t\r\n€😀\x00é\x1f</a>"
	cases := []string{"", "abc", "\x00", "\x7f", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc2", "\xd8\xa7\xd8", "\xff", mixed}
	for i := range mixed {
		cases = append(cases, mixed[:i], mixed[i:])
	}
	for _, c := range cases {
		valid, clean := scanUTF8([]byte(c))
		wantClean := bytes.Equal(stripControl([]byte(c)), []byte(c))
		if valid != utf8.ValidString(c) || (valid && clean != wantClean) {
			t.Errorf("scanUTF8(%q) = %v, %v; want %v, %v", c, valid, clean, utf8.ValidString(c), wantClean)
		}
	}
}

// BenchmarkToUTF8 is the charset step on a UTF-8 Arabic feed, the common
// case: it must cost little beside the parse.
func BenchmarkToUTF8(b *testing.B) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>` +
		strings.Repeat("<item><title>عنوان الخبر</title><description>&lt;p&gt;"+strings.Repeat("قال المتحدث باسم الحكومة إن المحادثات ستستأنف الأسبوع المقبل في العاصمة. ", 60)+"&lt;/p&gt;</description></item>", 20) +
		`</channel></rss>`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ToUTF8(body, "application/rss+xml; charset=utf-8", "ar"); err != nil {
			b.Fatal(err)
		}
	}
}
