package feeds_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/storage"
)

func rssOf(items string) string {
	return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description>` + items + `</channel></rss>`
}

func rssHeadOf() *bytes.Buffer {
	return bytes.NewBufferString(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>`)
}

// Each hostile feed ends as its own clear error or a bounded, correct parse;
// a good feed polled beside them is unaffected.
func TestHostileFeeds(t *testing.T) {
	var deep bytes.Buffer
	deep.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>deep</title><description>`)
	for i := 0; i < 100000; i++ {
		deep.WriteString("<a>")
	}
	// A million elements each, under the test's 8 MiB cap: closed and
	// nested, and side by side in one item.
	nested, wide := rssHeadOf(), rssHeadOf()
	nested.WriteString("<item><title>n</title>")
	wide.WriteString("<item><title>w</title>")
	for i := 0; i < 1000000; i++ {
		nested.WriteString("<a>")
		wide.WriteString("<a></a>")
	}
	for i := 0; i < 1000000; i++ {
		nested.WriteString("</a>")
	}
	nested.WriteString("</item></channel></rss>")
	wide.WriteString("</item></channel></rss>")
	var many bytes.Buffer
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&many, "<item><title>خبر %d</title><link>http://many.example/%d</link></item>", i, i)
	}
	bigTitle := strings.Repeat("ع", 500000) // 1 MB of Arabic
	good := testdata(t, "rss-utf8.xml")
	bodies := map[string]string{
		"billion-laughs": `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>` +
			`<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title><link>http://x/1</link></item></channel></rss>`,
		"external-entity": `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>t</title><item><title>&xxe;</title><link>http://x/1</link></item></channel></rss>`,
		"deep":            deep.String(),
		"nested-closed":   nested.String(),
		"wide":            wide.String(),
		"many":            rssOf(many.String()),
		"invalid-utf8":    rssOf("<item><title>ليبيا \xff\xfe تونس</title><link>http://x/u</link><description>نص\x00 مع \x01 بايتات</description></item>"),
		"big-title":       rssOf("<item><title>" + bigTitle + "</title><link>http://x/big</link></item>"),
		"dates":           rssOf(`<item><title>a</title><link>http://x/d1</link><pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate></item><item><title>b</title><link>http://x/d2</link><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item><item><title>c</title><link>http://x/d3</link><pubDate>the day after tomorrow</pubDate></item>`),
		"html":            "<!DOCTYPE html><html><body>not a feed</body></html>",
		"empty":           "",
	}
	mux := http.NewServeMux()
	for name, b := range bodies {
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(b)) })
	}
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>`))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/redirect-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://x.example/feed", http.StatusFound)
	})
	mux.HandleFunc("/redirect-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	e := newEnv(t, feeds.FetchOptions{MaxBody: 8 << 20})
	e.poller.Timeout = 20 * time.Second
	want := map[string]string{ // feed -> error text, or "" for a good parse
		"billion-laughs":    "",
		"external-entity":   "",
		"deep":              "nested deeper than 256",
		"nested-closed":     "nested deeper than 256",
		"wide":              "more than 50000 elements",
		"many":              "",
		"invalid-utf8":      "",
		"big-title":         "",
		"dates":             "",
		"html":              "HTML page",
		"empty":             "empty body",
		"endless":           "too large",
		"redirect-ftp":      "not http or https",
		"redirect-metadata": "link-local",
		"good":              "",
	}
	var fs []config.Feed
	for name := range want {
		fs = append(fs, config.Feed{Name: name, URL: srv.URL + "/" + name})
	}
	results := e.poller.PollAll(context.Background(), fs, 4, true)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, r := range results {
		w := want[r.Feed]
		switch {
		case w == "" && r.Err != nil:
			t.Errorf("%s: %v", r.Feed, r.Err)
		case w != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w)):
			t.Errorf("%s: err = %v, want %q", r.Feed, r.Err, w)
		}
	}
	ctx := context.Background()
	items, _ := e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: "good"})
	if len(items) != 3 {
		t.Errorf("good feed: %d items", len(items))
	}
	items, _ = e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: "many"})
	if len(items) != feeds.MaxItems {
		t.Errorf("100,000-item feed: %d stored, want the first %d", len(items), feeds.MaxItems)
	}
	for _, name := range []string{"billion-laughs", "external-entity"} {
		items, _ = e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: name})
		for _, it := range items {
			if len(it.Title) > 100 || strings.Contains(it.Title, "root:") {
				t.Errorf("%s: entity expanded into %d bytes: %.60q", name, len(it.Title), it.Title)
			}
		}
	}
	items, _ = e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: "invalid-utf8"})
	if len(items) != 1 || !strings.Contains(items[0].Title, "ليبيا") || !strings.Contains(items[0].Title, "تونس") {
		t.Errorf("invalid UTF-8 feed lost its Arabic: %+v", items)
	}
	items, _ = e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: "big-title"})
	if len(items) != 1 || len(items[0].Title) > 4096 {
		t.Errorf("1 MB title stored whole: %d bytes", len(items[0].Title))
	}
	items, _ = e.store.Items(ctx, storage.ListOptions{WithDuplicates: true, Feed: "dates"})
	for _, it := range items {
		if !it.Published.IsZero() && (it.Published.Year() < 1990 || it.Published.Year() > 3000) {
			t.Errorf("absurd date kept: %v", it.Published)
		}
	}
	if ms.HeapInuse > 1<<30 {
		t.Errorf("heap in use %d MiB after hostile feeds", ms.HeapInuse>>20)
	}
}

// A server's headers are bounded, and a validator longer than any server
// means is not kept to be sent back on every poll.
func TestHeadersAndValidatorsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fat":
			for i := range 200 {
				w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("x", 1000))
			}
		case "/etag":
			w.Header().Set("ETag", `"`+strings.Repeat("e", 5000)+`"`)
			w.Header().Set("Last-Modified", "Wed, 02 Dec 2026 10:00:00 GMT")
		}
		w.Write([]byte("<rss/>"))
	}))
	defer srv.Close()
	f := feeds.NewFetcher(feeds.FetchOptions{})
	if _, err := f.Fetch(context.Background(), feeds.Request{URL: srv.URL + "/fat", Timeout: 5 * time.Second}); err == nil {
		t.Error("200 KB of response headers were taken")
	}
	resp, err := f.Fetch(context.Background(), feeds.Request{URL: srv.URL + "/etag", Timeout: 5 * time.Second})
	if err != nil || resp.ETag != "" || resp.LastModified != "Wed, 02 Dec 2026 10:00:00 GMT" {
		t.Errorf("a 5 KB ETag: %v, kept %d bytes, Last-Modified %q", err, len(resp.ETag), resp.LastModified)
	}
}
