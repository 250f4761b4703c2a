package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/raqib/raqib/storage"
)

func entries() []Entry {
	pub := time.Date(2025, 5, 11, 9, 30, 0, 0, time.UTC)
	c := &storage.Cluster{ID: "c1", Size: 3, Feeds: []string{"bbc-arabic", "france24-ar", "rt-arabic"}}
	return []Entry{
		{Item: &storage.Item{ID: "c1", Feed: "bbc-arabic", URL: "https://news.example.org/ar/haftar-putin", Title: "حفتر يلتقي بوتين في الكرملين",
			Summary:   `<p dir="rtl">التقى قائد قوات الشرق الليبي <b>خليفة حفتر</b> الرئيس الروسي.</p><script>alert(1)</script><a href="javascript:alert(2)" onclick="steal()">رابط</a><iframe src="https://evil.example/"></iframe><p style="color:red">نص</p>`,
			Published: pub, Language: "ar", Cluster: "c1", Rules: []string{"libya", "kremlin"}, Authors: []string{"مراسلنا"},
			Media: []storage.Media{{URL: "https://news.example.org/img/haftar.jpg?w=640&h=360", Image: true}, {URL: "https://news.example.org/audio/report.mp3", Type: "audio/mpeg", Length: 1048576}}}, Cluster: c},
		{Item: &storage.Item{ID: "i2", Feed: "wire", URL: "https://wire.example.org/news/78", Title: "Emergency Arab summit in Cairo & more",
			Summary: "Egypt called an emergency Arab summit <in Cairo> next week.", Published: pub.Add(-time.Hour), Cluster: "i2"},
			Cluster: &storage.Cluster{ID: "i2", Size: 1, Feeds: []string{"wire"}}},
	}
}

var meta = Meta{ID: "all", Title: "raqib: all stories", HomePageURL: "http://127.0.0.1:8080/", FeedURL: "http://127.0.0.1:8080/feeds/all.atom",
	FeedURLs: map[string]string{"bbc-arabic": "https://feeds.bbci.co.uk/arabic/rss.xml"}}

func render(t *testing.T, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The Atom output validates against the RFC 4287 RELAX NG schema, with
// xmllint (Debian's libxml2-utils; .ci/run installs it).
func TestAtomValidatesAgainstRFC4287Schema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is missing: .ci/run must install libxml2-utils")
		}
		t.Skip("xmllint not installed (apt-get install libxml2-utils) — CI runs this test")
	}
	dir := t.TempDir()
	for name, es := range map[string][]Entry{"full": entries(), "empty": nil} {
		out := render(t, func(b *bytes.Buffer) error { return WriteAtom(b, meta, es) })
		path := filepath.Join(dir, name+".atom")
		os.WriteFile(path, out, 0o644)
		if res, err := exec.Command(xmllint, "--noout", "--relaxng", "testdata/atom.rng", path).CombinedOutput(); err != nil {
			t.Errorf("%s feed does not validate: %v\n%s\n%s", name, err, res, out)
		}
	}
	// The schema check is real: a feed without its title fails.
	bad := bytes.Replace(render(t, func(b *bytes.Buffer) error { return WriteAtom(b, meta, entries()) }), []byte(`<title type="text">raqib: all stories</title>`), nil, 1)
	os.WriteFile(filepath.Join(dir, "bad.atom"), bad, 0o644)
	if err := exec.Command(xmllint, "--noout", "--relaxng", "testdata/atom.rng", filepath.Join(dir, "bad.atom")).Run(); err == nil {
		t.Error("a feed without a title validated: the schema check proves nothing")
	}
}

// RSS, Atom and JSON Feed round-trip through gofeed with titles, links,
// dates and Arabic text unchanged.
func TestRoundTripThroughGofeed(t *testing.T) {
	writers := map[string]func(*bytes.Buffer) error{
		"rss":  func(b *bytes.Buffer) error { return WriteRSS(b, meta, entries()) },
		"atom": func(b *bytes.Buffer) error { return WriteAtom(b, meta, entries()) },
		"json": func(b *bytes.Buffer) error { return WriteJSON(b, meta, entries()) },
	}
	for name, write := range writers {
		out := render(t, write)
		f, err := gofeed.NewParser().Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: gofeed: %v\n%s", name, err, out)
		}
		if len(f.Items) != 2 {
			t.Fatalf("%s: %d items", name, len(f.Items))
		}
		for i, e := range entries() {
			got := f.Items[i]
			if got.Title != e.Item.Title || got.Link != e.Item.URL {
				t.Errorf("%s item %d: title %q link %q", name, i, got.Title, got.Link)
			}
			if got.PublishedParsed == nil || !got.PublishedParsed.Equal(e.Item.Published) {
				t.Errorf("%s item %d: published %v", name, i, got.PublishedParsed)
			}
		}
		text := f.Items[0].Description + f.Items[0].Content
		if !strings.Contains(text, "خليفة حفتر") || !strings.Contains(text, "3 outlets ran this story") {
			t.Errorf("%s: content lost Arabic text or the outlets: %q", name, text)
		}
		for _, bad := range []string{"<script", "javascript:", "onclick", "<iframe", "style="} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: unsanitised %q in %q", name, bad, text)
			}
		}
		if !strings.Contains(text, `dir="rtl"`) {
			t.Errorf("%s: dir=rtl dropped: %q", name, text)
		}
		if strings.Contains(f.Items[1].Description+f.Items[1].Content, "<in Cairo>") && name != "json" {
			t.Errorf("%s: plain text not escaped", name)
		}
	}
}

func TestLanguageAndExtensions(t *testing.T) {
	atom := string(render(t, func(b *bytes.Buffer) error { return WriteAtom(b, meta, entries()) }))
	for _, want := range []string{`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:raqib=`, `xml:lang="ar"`, `<raqib:cluster_size>3</raqib:cluster_size>`, `<raqib:rule>kremlin</raqib:rule>`, `<source>`, `tag:raqib,2025:item/c1`} {
		if !strings.Contains(atom, want) {
			t.Errorf("atom lacks %q", want)
		}
	}
	rss := string(render(t, func(b *bytes.Buffer) error { return WriteRSS(b, meta, entries()) }))
	for _, want := range []string{`<language>ar</language>`, `<source url="https://feeds.bbci.co.uk/arabic/rss.xml">bbc-arabic</source>`, `<guid isPermaLink="false">tag:raqib,2025:item/c1</guid>`} {
		if !strings.Contains(rss, want) {
			t.Errorf("rss lacks %q", want)
		}
	}
}

// JSON Feed 1.1 requires "items" even when there are none.
func TestEmptyJSONFeedHasItems(t *testing.T) {
	var m map[string]any
	json.Unmarshal(render(t, func(b *bytes.Buffer) error { return WriteJSON(b, meta, nil) }), &m)
	if items, ok := m["items"].([]any); !ok || len(items) != 0 {
		t.Errorf("items = %v", m["items"])
	}
}

// A feed streamed a page at a time, its entries moved to a temporary file
// as they come, is the feed written in one piece.
func TestStreamByPagesThroughATemporaryFile(t *testing.T) {
	es := entries()
	for i := 0; i < 5; i++ {
		it := *es[i%2].Item
		it.ID, it.Language = fmt.Sprintf("more%d", i), []string{"ar", "en"}[i%2]
		it.Published = it.Published.Add(time.Duration(i) * time.Hour)
		es = append(es, Entry{Item: &it, Cluster: es[i%2].Cluster})
	}
	defer func(n int) { spillAt = n }(spillAt)
	for _, name := range []string{"json", "rss", "atom"} {
		var whole bytes.Buffer
		if err := Writers[name](&whole, meta, es); err != nil {
			t.Fatal(err)
		}
		for _, spill := range []int{1, 1 << 20} {
			spillAt = spill
			rest := es
			var paged bytes.Buffer
			if err := Stream(&paged, name, meta, func() ([]Entry, error) {
				page := rest[:min(len(rest), 2)]
				rest = rest[len(page):]
				return page, nil
			}); err != nil {
				t.Fatal(err)
			}
			if paged.String() != whole.String() {
				t.Errorf("%s by pages of 2, spilling past %d bytes:\n%s\nin one piece:\n%s", name, spill, paged.String(), whole.String())
			}
		}
		if !strings.Contains(whole.String(), "more4") || strings.Count(whole.String(), "tag:raqib,2025:item/")+strings.Count(whole.String(), `"id": "`) < len(es) {
			t.Errorf("%s: not every entry is in the feed:\n%s", name, whole.String())
		}
	}
}

// A story's photo and attachments reach every format, as a real parser
// reads them back: RSS's one enclosure, Atom's enclosure links, JSON
// Feed's image and attachments.
func TestMediaInEveryFormat(t *testing.T) {
	const photo, audio = "https://news.example.org/img/haftar.jpg?w=640&h=360", "https://news.example.org/audio/report.mp3"
	for name, write := range map[string]func(*bytes.Buffer) error{
		"rss":  func(b *bytes.Buffer) error { return WriteRSS(b, meta, entries()) },
		"atom": func(b *bytes.Buffer) error { return WriteAtom(b, meta, entries()) },
		"json": func(b *bytes.Buffer) error { return WriteJSON(b, meta, entries()) },
	} {
		f, err := gofeed.NewParser().Parse(bytes.NewReader(render(t, write)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		it := f.Items[0]
		var urls []string
		for _, e := range it.Enclosures {
			urls = append(urls, e.URL+" "+e.Type+" "+e.Length)
		}
		got := strings.Join(urls, ", ")
		if !strings.Contains(got, audio+" audio/mpeg 1048576") {
			t.Errorf("%s: enclosures %q lack the audio", name, got)
		}
		switch name {
		case "atom":
			if !strings.Contains(got, photo+" image/jpeg") {
				t.Errorf("atom: enclosures %q lack the photo", got)
			}
		case "json":
			if it.Image == nil || it.Image.URL != photo {
				t.Errorf("json: image %+v", it.Image)
			}
		}
		if len(f.Items[1].Enclosures) != 0 {
			t.Errorf("%s: an item without media got %d enclosures", name, len(f.Items[1].Enclosures))
		}
	}
}

// HTML content carries its item's direction, so that Arabic with Latin
// names and figures in it is laid out right to left, and English left to
// right, whatever the feed's language.
func TestContentDirection(t *testing.T) {
	for _, c := range []struct{ lang, want string }{{"ar", "rtl"}, {"ar-LY", "rtl"}, {"en", "ltr"}, {"fr", "ltr"}, {"", "auto"}} {
		it := &storage.Item{ID: "x", Title: "t", Summary: "<p>نص مع Kremlin و 2026</p>", Language: c.lang}
		if c.lang == "" {
			it.Summary = "<p>mixed نص</p>"
		}
		got := content(Entry{Item: it}).HTML
		if !strings.HasPrefix(got, `<div dir="`+c.want+`">`) || !strings.HasSuffix(got, "</div>") {
			t.Errorf("%q: %s", c.lang, got)
		}
	}
}

// TestFeedparserReads: Python's feedparser, what many integrators' scripts
// read feeds with, reads the RSS and Atom well-formed (not "bozo"), with
// the Arabic titles and the story's attachments.
func TestFeedparserReads(t *testing.T) {
	python := "/usr/bin/python3" // Debian's, where python3-feedparser installs
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	if err := exec.Command(python, "-c", "import feedparser").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-feedparser is missing: .ci/run must install it")
		}
		t.Skip("python3-feedparser not installed (apt-get install python3-feedparser) — CI runs this test")
	}
	dir := t.TempDir()
	files := map[string]string{}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"rss":  func(b *bytes.Buffer) error { return WriteRSS(b, meta, entries()) },
		"atom": func(b *bytes.Buffer) error { return WriteAtom(b, meta, entries()) },
	} {
		files[name] = filepath.Join(dir, name+".xml")
		os.WriteFile(files[name], render(t, write), 0o644)
	}
	out, err := exec.Command(python, "testdata/feedparser_read.py", files["rss"], files["atom"]).Output()
	if err != nil {
		t.Fatalf("feedparser: %v", err)
	}
	var got map[string]struct {
		Bozo    int    `json:"bozo"`
		Version string `json:"version"`
		Error   string `json:"error"`
		Entries []struct {
			Title      string     `json:"title"`
			Enclosures [][]string `json:"enclosures"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, path := range files {
		f := got[path]
		if f.Bozo != 0 || len(f.Entries) != 2 || f.Entries[0].Title != "حفتر يلتقي بوتين في الكرملين" {
			t.Errorf("%s: feedparser saw %+v", name, f)
			continue
		}
		if !slices.ContainsFunc(f.Entries[0].Enclosures, func(e []string) bool {
			return e[0] == "https://news.example.org/audio/report.mp3" && e[1] == "audio/mpeg" && e[2] == "1048576"
		}) {
			t.Errorf("%s: enclosures %v", name, f.Entries[0].Enclosures)
		}
	}
}
