package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

// trackingParams are query parameters that say where a reader came from, not
// what they read.
var trackingParams = map[string]bool{"fbclid": true, "gclid": true, "dclid": true, "msclkid": true, "mc_cid": true, "mc_eid": true, "igshid": true, "yclid": true}

// CanonicalURL normalises a link for identity: lower-case scheme and host, no
// default port, no fragment, no tracking parameters, sorted query. It
// returns "" for what is not an absolute http(s) URL.
func CanonicalURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if strings.HasPrefix(strings.ToLower(k), "utm_") || trackingParams[strings.ToLower(k)] {
				delete(q, k)
			}
		}
		u.RawQuery = encodeSorted(q)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

func encodeSorted(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// Keys are an item's exact-identity keys, most specific first: its GUID, its
// canonical link, else a hash of title and date. A GUID that is a URL or URI
// names the item everywhere; a bare GUID ("12345") only within its feed.
func Keys(feed, guid, link, title string, date time.Time) []string {
	var keys []string
	if g := strings.TrimSpace(guid); g != "" {
		if c := CanonicalURL(g); c != "" {
			keys = append(keys, "url:"+c)
		} else if strings.HasPrefix(g, "tag:") || strings.HasPrefix(g, "urn:") {
			keys = append(keys, "guid:"+g)
		} else {
			keys = append(keys, "guid:"+feed+":"+g)
		}
	}
	// A link to a site's front page names no item: some feeds give it to all.
	if c := CanonicalURL(link); c != "" {
		if u, _ := url.Parse(c); u != nil && (u.Path != "/" || u.RawQuery != "") {
			k := "url:" + c
			if len(keys) == 0 || keys[0] != k {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		h := sha256.Sum256([]byte(textnorm.Normalize(title) + "\x00" + date.UTC().Format(time.RFC3339)))
		keys = append(keys, "hash:"+feed+":"+hex.EncodeToString(h[:12]))
	}
	for i, k := range keys {
		keys[i] = boundKey(k)
	}
	return keys
}

// maxKey bounds an identity key: a store indexes its keys (PostgreSQL's
// index takes at most about 2.7 KB a row, BoltDB 32 KB a key), and one
// feed's 3 KB GUID failed every commit of its feed.
const maxKey = 1024

// boundKey keeps a key within maxKey and free of control characters (a
// NUL cannot be stored in PostgreSQL's text): such a key becomes its kind
// and the SHA-256 of the rest, still one key per item.
func boundKey(k string) string {
	if len(k) <= maxKey && !hasControl(k) {
		return k
	}
	kind, rest, _ := strings.Cut(k, ":")
	h := sha256.Sum256([]byte(rest))
	return kind + ":sha256:" + hex.EncodeToString(h[:])
}

// ItemID is the stable public id derived from an item's first key.
func ItemID(firstKey string) string {
	h := sha256.Sum256([]byte(firstKey))
	return hex.EncodeToString(h[:10])
}

// maxTitle and maxContent bound what one item can hold: a long article is
// tens of kilobytes of HTML, and a feed's hundred 1 MB items made every
// export that listed them hundreds of megabytes. maxAuthors and
// maxAuthor bound its bylines.
const (
	maxTitle   = 2000
	maxContent = 256 << 10
	maxAuthors = 10
	maxAuthor  = 200
)

// MaxItems is how many items of one fetch are taken, in the feed's order
// (newest first in practice). Real feeds list 10 to 200; a feed of 100,000
// is broken or hostile, and its first items are what a reader would see.
const MaxItems = 1000

// ToItems converts a parsed feed into items ready for the pipeline.
// itemLanguage is an item's language: the feed's (configured, else
// declared), unless the item's own text says otherwise. An Arabic outlet's
// feed carries English wire copy, and an English feed Arabic; tagged as the
// feed, a reader laid them out the wrong way and hyphenated them wrongly.
func itemLanguage(hint string, it *storage.Item) string {
	// The start of the text tells: the whole of it is worked out only for
	// the items that turn out new.
	text := it.Title + " " + storage.PlainText(truncate(it.Content, 4000), truncate(it.Summary, 4000))
	if all, _ := textnorm.Letters(text, 20); all < 20 {
		return hint // too little to tell
	}
	share := textnorm.ArabicShare(text)
	arabicHint := strings.HasPrefix(strings.ToLower(hint), "ar")
	switch {
	case share >= 0.6 && !arabicHint:
		return "ar"
	case share <= 0.2 && (arabicHint || hint == ""):
		return latinLanguage(text)
	}
	return hint
}

// latinLanguage tells English from French, the Latin-script languages of
// Arabic outlets' foreign desks, by their commonest short words.
func latinLanguage(text string) string {
	en, fr := 0, 0
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch strings.Trim(w, ".,;:!?\"'()«»") {
		case "the", "of", "and", "to", "in", "is", "on", "for", "with", "was":
			en++
		case "le", "la", "les", "des", "et", "du", "une", "est", "dans", "pour":
			fr++
		}
	}
	if fr > en {
		return "fr"
	}
	return "en"
}

// firstNonEmpty is the first of v that is not blank.
func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func ToItems(feedName, language string, f *gofeed.Feed, now time.Time) []*storage.Item {
	lang := language
	if lang == "" {
		lang = f.Language
	}
	out := make([]*storage.Item, 0, len(f.Items))
	seen := map[string]bool{}
	for _, gi := range f.Items {
		if len(out) >= MaxItems {
			break
		}
		if gi == nil {
			continue
		}
		// A feed's text reaches terminals, logs, PostgreSQL and other
		// programs: control characters (a NUL, a terminal's escapes) that
		// entities or JSON escapes let through the body's own cleaning go.
		it := &storage.Item{
			Feed:     feedName,
			GUID:     stripControls(strings.TrimSpace(gi.GUID)),
			URL:      stripControls(strings.TrimSpace(gi.Link)),
			Title:    stripControls(truncate(strings.TrimSpace(textnorm.HTMLToText(gi.Title)), maxTitle)),
			Content:  stripControls(truncate(gi.Content, maxContent)),
			Summary:  stripControls(truncate(gi.Description, maxContent)),
			Language: lang,
			Fetched:  now,
		}
		if it.URL == "" && len(gi.Links) > 0 {
			it.URL = stripControls(strings.TrimSpace(gi.Links[0]))
		}
		if gi.PublishedParsed != nil {
			it.Published = sane(*gi.PublishedParsed, now)
		}
		if gi.UpdatedParsed != nil {
			it.Updated = sane(*gi.UpdatedParsed, now)
		}
		for _, a := range gi.Authors {
			if a != nil && a.Name != "" && len(it.Authors) < maxAuthors {
				it.Authors = append(it.Authors, stripControls(truncate(a.Name, maxAuthor)))
			}
		}
		it.Media = mediaOf(gi)
		it.Language = itemLanguage(lang, it)
		if it.Title == "" && it.Content == "" && it.Summary == "" && it.URL == "" {
			continue // nothing to identify or show
		}
		// An item with no GUID and no link is known by its text and its
		// own date: not the fetch's time, or it would be new on every poll.
		own := it.Published
		if own.IsZero() {
			own = it.Updated
		}
		it.Keys = Keys(feedName, it.GUID, it.URL, it.Title+"\n"+it.Summary, own)
		it.ID = ItemID(it.Keys[0])
		// After the keys, which name the item by what the feed gave: a
		// date ahead of now (a wrong time zone, or a feed that wants the
		// top of every list) is now, and the link is one a reader can
		// follow safely or none.
		if it.Published.After(now) {
			it.Published = now
		}
		if it.Updated.After(now) {
			it.Updated = now
		}
		it.URL = readableLink(it.URL, f.Link)
		if seen[it.ID] {
			continue // the feed lists the same item twice
		}
		seen[it.ID] = true
		out = append(out, it)
	}
	return out
}

// sane drops dates that cannot be meant: far future or before feeds existed.
func sane(t time.Time, now time.Time) time.Time {
	if t.Year() < 1990 || t.After(now.Add(48*time.Hour)) {
		return time.Time{}
	}
	return t.UTC()
}

// readableLink is an item's link as a reader may follow it: an absolute
// http(s) URL, a relative one resolved against the feed's site, else none
// (a javascript: or data: link would run in the browser of whoever opens
// it from raqib's feeds, API, alerts or pages).
func readableLink(link, site string) string {
	if l := strings.ToLower(link); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		return link // as published
	}
	u, err := url.Parse(link)
	if link == "" || err != nil || u.IsAbs() {
		return ""
	}
	base, err := url.Parse(strings.TrimSpace(site))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return ""
	}
	return base.ResolveReference(u).String()
}

// hasControl reports whether s holds a C0 control other than tab, line
// feed and carriage return, DEL, or a C1 control.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isC0(c) || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f) {
			return true
		}
	}
	return false
}

// stripControls drops what hasControl finds.
func stripControls(s string) string {
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && isC0(byte(r))) || (r >= 0x7f && r <= 0x9f) {
			return -1
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
