package dedup

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/raqib/raqib/textnorm"
)

// arabicText is the shipped seed article repeated to a news item's size.
func arabicText(b *testing.B) string {
	data, err := os.ReadFile("../seeds/000_a42b1f5e1f85cc83.txt")
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// BenchmarkPrepare: HTML to text, normalisation and fingerprinting of one
// item, in bytes of Arabic text per second.
func BenchmarkPrepare(b *testing.B) {
	text := arabicText(b)
	body := "<p>" + strings.ReplaceAll(text, "\n\n", "</p><p>") + "</p>"
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		Prepare("حفتر يلتقي بوتين", textnorm.HTMLToText(body))
	}
}

// BenchmarkGofeedParse: gofeed parsing a 20-item RSS feed of the same text,
// in bytes of feed per second, to set beside BenchmarkPrepare.
func BenchmarkGofeedParse(b *testing.B) {
	text := arabicText(b)
	var feed bytes.Buffer
	feed.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description>`)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&feed, "<item><title>حفتر يلتقي بوتين %d</title><link>http://x/%d</link><guid>%d</guid><pubDate>Sun, 11 May 2025 09:30:00 GMT</pubDate><description>%s</description></item>",
			i, i, i, html.EscapeString("<p>"+strings.ReplaceAll(text, "\n\n", "</p><p>")+"</p>"))
	}
	feed.WriteString("</channel></rss>")
	data := feed.Bytes()
	b.SetBytes(int64(len(data)))
	p := gofeed.NewParser()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
