package feeds

import (
	"os"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse drives bytes through the charset handling, gofeed and the
// project's item conversion.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rss-utf8.xml", "rss-cp1256.xml", "rss-cp1256-undeclared.xml", "rss-iso8859-6.xml", "atom.xml", "feed.json", "malformed.xml", "page.html"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "application/rss+xml; charset=utf-8")
	}
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"\u0000"}]}`), "application/json")
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"x-unknown\"?><rss/>"), "text/xml; charset=bogus")
	now := time.Date(2025, 5, 11, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		if len(body) > 16<<10 {
			return // size limits are tested in TestHostileFeeds; here, shapes
		}
		feed, err := Parse(body, ctype, "ar")
		if err != nil {
			return
		}
		items := ToItems("fuzz", "", feed, now)
		if len(items) > MaxItems {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if !utf8.ValidString(it.Title) || len(it.Title) > maxTitle || len(it.Keys) == 0 || it.ID == "" {
				t.Fatalf("bad item %+v", it)
			}
			if it.Published.After(now.Add(49 * time.Hour)) {
				t.Fatalf("future date kept: %v", it.Published)
			}
		}
	})
}
