package export

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

// Namespace of raqib's extension elements in RSS and Atom.
const Namespace = "https://github.com/raqib/raqib/ns/1.0"

var (
	policyOnce sync.Once
	policy     *bluemonday.Policy
)

// Sanitize keeps the HTML a reader can safely show: no scripts, event
// handlers, javascript: URLs, iframes, forms or styles; links get
// rel="nofollow noopener"; dir and lang survive for right-to-left text.
func Sanitize(s string) string {
	policyOnce.Do(func() {
		policy = bluemonday.UGCPolicy()
		policy.AllowAttrs("dir", "lang").Globally()
		policy.RequireNoFollowOnLinks(true)
		policy.AddTargetBlankToFullyQualifiedLinks(false)
	})
	return policy.Sanitize(s)
}

// body is an item's content for readers: sanitised HTML, or plain text,
// with a line naming the outlets that ran the story.
type body struct {
	HTML string // set when the content is HTML
	Text string // set when it is plain text
}

func content(e Entry) body {
	it := e.Item
	c := it.Content
	if strings.TrimSpace(c) == "" {
		c = it.Summary
	}
	var b body
	if textnorm.LooksLikeHTML(c) {
		// The direction is the item's, marked, so that a reader lays out
		// Arabic with Latin names and figures in it right to left, and
		// English with Arabic quotes in it left to right.
		b.HTML = `<div dir="` + direction(Language(it)) + `">` + Sanitize(c) + "</div>"
	} else {
		b.Text = strings.TrimSpace(c)
	}
	if e.Cluster != nil && e.Cluster.Size > 1 {
		note := fmt.Sprintf("%d outlets ran this story: %s", e.Cluster.Size, strings.Join(e.Cluster.Feeds, ", "))
		if b.HTML != "" {
			b.HTML += `<p class="raqib-outlets">` + html.EscapeString(note) + "</p>"
		} else {
			b.Text += "\n\n" + note
		}
	}
	return b
}

// direction is a language's writing direction, for HTML's dir.
func direction(lang string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	switch base {
	case "ar", "fa", "ur", "he", "ps", "ku", "ckb", "yi", "dv", "sd", "ug":
		return "rtl"
	case "":
		return "auto"
	}
	return "ltr"
}

// Language is an entry's language: the item's (from its feed or the
// configuration), else "ar" when the text is mostly Arabic.
func Language(it *storage.Item) string {
	if it.Language != "" {
		return it.Language
	}
	if textnorm.ArabicShare(it.Title+" "+it.Summary) > 0.5 {
		return "ar"
	}
	return ""
}

// itemID is the stable id of an item in RSS and Atom: a tag URI.
func itemID(it *storage.Item) string { return "tag:raqib,2025:item/" + it.ID }

// Updated is when an entry last changed: see updated.
func Updated(e Entry) time.Time { return updated(e) }

// updated is when an entry last changed: the item's own update, or the
// time another outlet joined its story, so that a reader that reads the
// entry again sees the story grow.
func updated(e Entry) time.Time {
	u := e.Item.Updated
	if u.IsZero() {
		u = e.Item.Date()
	}
	if c := e.Cluster; c != nil && c.Size > 1 && c.Updated.After(u) {
		u = c.Updated
	}
	return u
}

// modified reports whether an entry changed after it was published.
func modified(e Entry) bool { return !e.Item.Updated.IsZero() || !updated(e).Equal(e.Item.Date()) }

// raqibExt is raqib's extension elements on an RSS or Atom entry.
type raqibExt struct {
	Feed        string   `xml:"raqib:feed"`
	Cluster     string   `xml:"raqib:cluster"`
	ClusterSize int      `xml:"raqib:cluster_size"`
	DuplicateOf string   `xml:"raqib:duplicate_of,omitempty"`
	Follows     string   `xml:"raqib:follows,omitempty"`
	Reason      string   `xml:"raqib:reason,omitempty"`
	Rules       []string `xml:"raqib:rule,omitempty"`
}

func extOf(e Entry) raqibExt {
	x := raqibExt{Feed: e.Item.Feed, Cluster: e.Item.Cluster, ClusterSize: 1, DuplicateOf: e.Item.DuplicateOf, Follows: e.Item.Follows, Reason: e.Item.Reason, Rules: e.Item.Rules}
	if e.Cluster != nil {
		x.ClusterSize = e.Cluster.Size
	}
	return x
}

// RSS 2.0

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	DC      string     `xml:"xmlns:dc,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	Raqib   string     `xml:"xmlns:raqib,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Language    string    `xml:"language,omitempty"`
	Generator   string    `xml:"generator"`
	LastBuild   string    `xml:"lastBuildDate"`
	Self        *atomLink `xml:"atom:link,omitempty"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string        `xml:"title"`
	Link        string        `xml:"link,omitempty"`
	GUID        rssGUID       `xml:"guid"`
	PubDate     string        `xml:"pubDate,omitempty"`
	Description string        `xml:"description"`
	Creator     []string      `xml:"dc:creator,omitempty"`
	Language    string        `xml:"dc:language,omitempty"`
	Source      *rssSource    `xml:"source,omitempty"`
	Enclosure   *rssEnclosure `xml:"enclosure,omitempty"`
	raqibExt
}

type rssEnclosure struct {
	URL    string `xml:"url,attr"`
	Length int64  `xml:"length,attr"`
	Type   string `xml:"type,attr"`
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssSource struct {
	URL  string `xml:"url,attr"`
	Name string `xml:",chardata"`
}

type atomLink struct {
	Href   string `xml:"href,attr"`
	Rel    string `xml:"rel,attr,omitempty"`
	Type   string `xml:"type,attr,omitempty"`
	Length int64  `xml:"length,attr,omitempty"`
}

// guessImageType is a picture's type from its address, image/jpeg when
// the address does not say (most news photos are).
func guessImageType(u string) string {
	if t := guessType(u); strings.HasPrefix(t, "image/") {
		return t
	}
	return "image/jpeg"
}

// rssFormat renders RSS 2.0.
var rssFormat = format{
	frame: func(m Meta, h *header) (head, tail []byte, err error) {
		doc := rssDoc{Version: "2.0", DC: "http://purl.org/dc/elements/1.1/", Atom: "http://www.w3.org/2005/Atom", Raqib: Namespace}
		ch := &doc.Channel
		ch.Title, ch.Link, ch.Description = m.Title, m.HomePageURL, m.Description
		if ch.Link == "" {
			ch.Link = "http://127.0.0.1/"
		}
		if ch.Description == "" {
			ch.Description = m.Title
		}
		ch.Language = h.language
		ch.Generator = "raqib"
		ch.LastBuild = h.newestTime().Format(time.RFC1123Z)
		if m.FeedURL != "" {
			ch.Self = &atomLink{Href: m.FeedURL, Rel: "self", Type: "application/rss+xml"}
		}
		return splitXML(doc, "\n  </channel>")
	},
	entry: func(b *bytes.Buffer, m Meta, e Entry) error {
		it := e.Item
		body := content(e)
		ri := rssItem{Title: it.Title, Link: it.URL, GUID: rssGUID{"false", itemID(it)}, Creator: it.Authors,
			Language: Language(it), raqibExt: extOf(e)}
		if body.HTML != "" {
			ri.Description = body.HTML
		} else {
			ri.Description = html.EscapeString(body.Text)
		}
		if !it.Published.IsZero() {
			ri.PubDate = it.Published.UTC().Format(time.RFC1123Z)
		}
		if u := m.FeedURLs[it.Feed]; u != "" {
			ri.Source = &rssSource{URL: u, Name: it.Feed}
		}
		// RSS has one enclosure an item: the first attachment, else the
		// picture (readers show an image enclosure as the item's photo).
		picture, attached := media(it)
		switch {
		case len(attached) > 0:
			ri.Enclosure = &rssEnclosure{URL: attached[0].URL, Length: attached[0].Length, Type: attached[0].Type}
		case picture != "":
			ri.Enclosure = &rssEnclosure{URL: picture, Type: guessImageType(picture)}
		}
		return xmlElement(b, "item", ri, 2)
	},
}

// Atom 1.0 (RFC 4287)

type atomFeed struct {
	XMLName  xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Raqib    string      `xml:"xmlns:raqib,attr"`
	Lang     string      `xml:"xml:lang,attr,omitempty"`
	Title    atomText    `xml:"title"`
	Subtitle *atomText   `xml:"subtitle,omitempty"`
	ID       string      `xml:"id"`
	Updated  string      `xml:"updated"`
	Links    []atomLink  `xml:"link"`
	Gen      string      `xml:"generator"`
	Entries  []atomEntry `xml:"entry"`
}

type atomText struct {
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:",chardata"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Lang      string       `xml:"xml:lang,attr,omitempty"`
	Title     atomText     `xml:"title"`
	ID        string       `xml:"id"`
	Updated   string       `xml:"updated"`
	Published string       `xml:"published,omitempty"`
	Links     []atomLink   `xml:"link"`
	Authors   []atomPerson `xml:"author"`
	Content   atomText     `xml:"content"`
	Source    *atomSource  `xml:"source,omitempty"`
	raqibExt
}

type atomSource struct {
	ID      string     `xml:"id"`
	Title   atomText   `xml:"title"`
	Updated string     `xml:"updated"`
	Links   []atomLink `xml:"link,omitempty"`
}

// atomFormat renders Atom 1.0.
var atomFormat = format{
	frame: func(m Meta, h *header) (head, tail []byte, err error) {
		f := atomFeed{Raqib: Namespace, Lang: h.language, Title: atomText{"text", m.Title}, Gen: "raqib",
			ID: "tag:raqib,2025:feed/" + m.ID, Updated: h.newestTime().Format(time.RFC3339)}
		if m.Description != "" {
			f.Subtitle = &atomText{"text", m.Description}
		}
		if m.FeedURL != "" {
			f.Links = append(f.Links, atomLink{Href: m.FeedURL, Rel: "self", Type: "application/atom+xml"})
		}
		if m.HomePageURL != "" {
			f.Links = append(f.Links, atomLink{Href: m.HomePageURL, Rel: "alternate", Type: "text/html"})
		}
		return splitXML(f, "\n</feed>")
	},
	entry: func(b *bytes.Buffer, m Meta, e Entry) error {
		it := e.Item
		body := content(e)
		ae := atomEntry{Lang: Language(it), Title: atomText{"text", it.Title}, ID: itemID(it), Updated: updated(e).UTC().Format(time.RFC3339),
			raqibExt: extOf(e)}
		if !it.Published.IsZero() {
			ae.Published = it.Published.UTC().Format(time.RFC3339)
		}
		if it.URL != "" {
			ae.Links = append(ae.Links, atomLink{Href: it.URL, Rel: "alternate"})
		}
		picture, attached := media(it)
		if picture != "" && !slices.ContainsFunc(attached, func(m storage.Media) bool { return m.URL == picture }) {
			attached = append([]storage.Media{{URL: picture, Type: guessImageType(picture)}}, attached...)
		}
		for _, a := range attached {
			ae.Links = append(ae.Links, atomLink{Href: a.URL, Rel: "enclosure", Type: a.Type, Length: a.Length})
		}
		for _, a := range it.Authors {
			ae.Authors = append(ae.Authors, atomPerson{a})
		}
		if len(ae.Authors) == 0 {
			// RFC 4287: an entry without a feed-level author needs its own.
			ae.Authors = []atomPerson{{it.Feed}}
		}
		if body.HTML != "" {
			ae.Content = atomText{"html", body.HTML}
		} else {
			ae.Content = atomText{"text", body.Text}
		}
		// The W3C validator asks a source for its id and updated: the
		// feed's name in raqib's tag space, and when raqib read the item.
		ae.Source = &atomSource{ID: "tag:raqib,2025:source/" + url.PathEscape(it.Feed), Title: atomText{"text", it.Feed}, Updated: it.Fetched.UTC().Format(time.RFC3339)}
		if u := m.FeedURLs[it.Feed]; u != "" {
			ae.Source.Links = []atomLink{{Href: u, Rel: "self"}}
		}
		return xmlElement(b, "entry", ae, 1)
	},
}

// splitXML encodes a document without its entries, and splits it where
// they go: before end, the closing of the element that holds them.
func splitXML(doc any, end string) (head, tail []byte, err error) {
	var b bytes.Buffer
	if err := writeXML(&b, doc); err != nil {
		return nil, nil, err
	}
	i := bytes.LastIndex(b.Bytes(), []byte(end))
	return b.Bytes()[:i], b.Bytes()[i:], nil
}

// xmlElement writes v as element name as it sits in the document, depth
// levels in: on a line of its own, indented as the document's encoder
// indents it.
func xmlElement(b *bytes.Buffer, name string, v any, depth int) error {
	indent := strings.Repeat("  ", depth)
	b.WriteByte('\n') // the encoder starts with the indent
	enc := xml.NewEncoder(b)
	enc.Indent(indent, "  ")
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return enc.Close()
}

func writeXML(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode feed: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
