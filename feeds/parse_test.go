package feeds

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every encoding of the same feed must give the same Arabic titles.
func TestParseCharsets(t *testing.T) {
	want := []string{"حفتر يلتقي بوتين في الكرملين", "ارتفاع أسعار النفط مع تراجع المخزونات الأمريكية", "افتتاح معرض الرياض الدولي للكتاب"}
	cases := []struct {
		name, file, contentType, language string
	}{
		{"utf-8", "rss-utf8.xml", "application/rss+xml", ""},
		{"windows-1256 in the prolog", "rss-cp1256.xml", "text/xml", ""},
		{"windows-1256 only in Content-Type", "rss-cp1256-undeclared.xml", "application/rss+xml; charset=windows-1256", ""},
		{"windows-1256 declared nowhere", "rss-cp1256-undeclared.xml", "application/rss+xml", ""},
		{"windows-1256 declared nowhere, language hint", "rss-cp1256-undeclared.xml", "", "ar"},
		{"header overrides a wrong prolog", "rss-cp1256.xml", "text/xml; charset=windows-1256", ""},
		{"iso-8859-6 in the prolog", "rss-iso8859-6.xml", "", ""},
		{"iso-8859-6 only in Content-Type", "rss-iso8859-6.xml", "text/xml; charset=ISO-8859-6", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(readTestdata(t, c.file), c.contentType, c.language)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Items) != 3 {
				t.Fatalf("%d items, want 3", len(f.Items))
			}
			for i, it := range f.Items {
				got := strings.ReplaceAll(strings.ReplaceAll(it.Title, "الامريكية", "الأمريكية"), "اكثر", "أكثر")
				if got != want[i] {
					t.Errorf("item %d title %q, want %q", i, it.Title, want[i])
				}
			}
			if !strings.Contains(f.Items[0].Description, "خليفة حفتر") {
				t.Errorf("description lost its Arabic: %q", f.Items[0].Description)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	for _, c := range []struct{ file, firstTitle string }{
		{"atom.xml", "مجلس الأمن يناقش الوضع في ليبيا"},
		{"feed.json", "الأمم المتحدة تحذر من أزمة غذاء في السودان"},
	} {
		f, err := Parse(readTestdata(t, c.file), "", "")
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if f.Items[0].Title != c.firstTitle {
			t.Errorf("%s: title %q", c.file, f.Items[0].Title)
		}
	}
}

func TestParseBadBodies(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"html page", readTestdata(t, "page.html"), "HTML page, not a feed"},
		{"empty", nil, "empty body"},
		{"blank", []byte("  \n\t"), "empty body"},
		{"malformed", readTestdata(t, "malformed.xml"), "malformed feed"},
		{"not a feed", []byte("hello, world SECRET"), "not an RSS, Atom or JSON feed (the body is plain text)"},
		{"internal json", []byte(`["db_password", "SECRET"]`), "is JSON but not a JSON Feed"},
		{"internal xml", []byte(`<config><password>SECRET</password></config>`), "no RSS, Atom or RDF root"},
		{"broken rss", []byte("<rss><channel>\n<item><title>SECRET</title></item>\n<titel SECRET=1 = ></channel></rss>"), "malformed feed: XML syntax error on line 3"},
		{"broken json feed", []byte(`{"version":"https://jsonfeed.org/version/1.1","items":[SECRET]}`), "malformed feed"},
	}
	for _, c := range cases {
		_, err := Parse(c.body, "text/xml", "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		// An answer may be an internal service's: its bytes are not
		// repeated in the error the log and the API show.
		if err != nil && (strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "titel")) {
			t.Errorf("%s: the error echoes the body: %v", c.name, err)
		}
	}
}

// NUL and other control bytes are dropped, not fatal.
func TestParseControlBytes(t *testing.T) {
	body := strings.Replace(string(readTestdata(t, "rss-utf8.xml")), "حفتر يلتقي", "حفتر\x00 يلتقي\x07", 1)
	f, err := Parse([]byte(body), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Items[0].Title != "حفتر يلتقي بوتين في الكرملين" {
		t.Errorf("title %q", f.Items[0].Title)
	}
}

func TestCanonicalURL(t *testing.T) {
	cases := map[string]string{
		"HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=3&fbclid=y#top": "https://news.example.org/a/b?id=3",
		"http://example.org:80":                     "http://example.org/",
		"http://example.org:8080/x?b=2&a=1":         "http://example.org:8080/x?a=1&b=2",
		"https://example.org/p?gclid=1&utm_medium=": "https://example.org/p",
		"mailto:a@b.c":                              "",
		"/relative/path":                            "",
	}
	for in, want := range cases {
		if got := CanonicalURL(in); got != want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	date := time.Date(2025, 5, 11, 0, 0, 0, 0, time.UTC)
	// A bare GUID is scoped to its feed; a link names the item everywhere.
	k := Keys("a", "123", "https://x.org/n/1?utm_source=rss", "t", date)
	if len(k) != 2 || k[0] != "guid:a:123" || k[1] != "url:https://x.org/n/1" {
		t.Errorf("keys %v", k)
	}
	// A front-page link identifies nothing.
	if k := Keys("a", "", "https://x.org/", "title", date); len(k) != 1 || !strings.HasPrefix(k[0], "hash:a:") {
		t.Errorf("keys %v", k)
	}
	// Spelling variants of the title hash alike.
	if Keys("a", "", "", "أخبار", date)[0] != Keys("a", "", "", "اخبار", date)[0] {
		t.Error("title hash should use normalised text")
	}
}

// An item with no GUID, no link and no date is known by its text: polled
// again later, it is the same item, not a new one.
func TestDatelessItemKeepsItsIdentity(t *testing.T) {
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>
<item><title>بيان الوزارة</title><description>نص البيان كاملا</description></item>
<item><title>خبر آخر</title><description>نص آخر</description></item></channel></rss>`)
	ids := func(now time.Time) []string {
		f, err := Parse(body, "application/rss+xml", "ar")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range ToItems("f", "", f, now) {
			out = append(out, it.ID)
		}
		return out
	}
	first, later := ids(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)), ids(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC))
	if len(first) != 2 || first[0] != later[0] || first[1] != later[1] || first[0] == first[1] {
		t.Errorf("identities an hour and a half apart: %v, %v", first, later)
	}
}
