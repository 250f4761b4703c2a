// Package export renders the stored stream as feeds for readers and tools.
package export

import (
	"bytes"
	"encoding/json"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

// Meta describes the exported feed itself.
type Meta struct {
	ID          string // stable name of the stream: "all", "rule/NAME"
	Title       string
	HomePageURL string
	FeedURL     string
	Description string
	// FeedURLs maps source feed names to their URLs (RSS and Atom <source>).
	FeedURLs map[string]string
}

// Raqib is the "_raqib" extension object on every exported item.
type Raqib struct {
	Feed        string   `json:"feed"`
	DuplicateOf string   `json:"duplicate_of,omitempty"`
	Similarity  *float64 `json:"similarity,omitempty"`
	Follows     string   `json:"follows,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Cluster     string   `json:"cluster"`
	ClusterSize int      `json:"cluster_size"`
	Outlets     []string `json:"outlets,omitempty"`
	Rules       []string `json:"rules"`
	Language    string   `json:"language,omitempty"`
}

type jsonItem struct {
	ID            string       `json:"id"`
	URL           string       `json:"url,omitempty"`
	Title         string       `json:"title,omitempty"`
	ContentHTML   string       `json:"content_html,omitempty"`
	ContentText   string       `json:"content_text,omitempty"`
	Summary       string       `json:"summary,omitempty"`
	DatePublished string       `json:"date_published,omitempty"`
	DateModified  string       `json:"date_modified,omitempty"`
	Image         string       `json:"image,omitempty"`
	Authors       []author     `json:"authors,omitempty"`
	Language      string       `json:"language,omitempty"`
	Attachments   []attachment `json:"attachments,omitempty"`
	Raqib         Raqib        `json:"_raqib"`
}

type attachment struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	Size     int64  `json:"size_in_bytes,omitempty"`
}

type author struct {
	Name string `json:"name"`
}

type jsonFeed struct {
	Version     string     `json:"version"`
	Title       string     `json:"title"`
	HomePageURL string     `json:"home_page_url,omitempty"`
	FeedURL     string     `json:"feed_url,omitempty"`
	Description string     `json:"description,omitempty"`
	Language    string     `json:"language,omitempty"`
	Items       []jsonItem `json:"items"` // always present, even when empty
}

// media splits an item's media into its picture (the one marked so, else
// the first image attachment) and its attachments, each with a type
// (JSON Feed and RSS require one).
func media(it *storage.Item) (picture string, attached []storage.Media) {
	for _, m := range it.Media {
		if m.Image {
			if picture == "" {
				picture = m.URL
			}
			continue
		}
		if m.Type == "" {
			m.Type = guessType(m.URL)
		}
		attached = append(attached, m)
	}
	if picture == "" {
		for _, m := range attached {
			if strings.HasPrefix(m.Type, "image/") {
				picture = m.URL
				break
			}
		}
	}
	return picture, attached
}

// guessType names an attachment's type from its address's extension, as
// readers do when a feed gives none.
func guessType(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if t := mime.TypeByExtension(path.Ext(u)); t != "" {
		return strings.TrimSpace(strings.SplitN(t, ";", 2)[0])
	}
	return "application/octet-stream"
}

// Entry is an item with its story's cluster, ready to render.
type Entry struct {
	Item    *storage.Item
	Cluster *storage.Cluster
}

// jsonFormat renders JSON Feed 1.1.
var jsonFormat = format{
	sep: ",",
	frame: func(m Meta, h *header) (head, tail []byte, err error) {
		f := jsonFeed{Version: "https://jsonfeed.org/version/1.1", Title: m.Title, HomePageURL: m.HomePageURL, FeedURL: m.FeedURL, Description: m.Description, Language: h.language, Items: []jsonItem{}}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			return nil, nil, err
		}
		if h.entries == 0 {
			return b.Bytes(), nil, nil
		}
		// "items" is the last member: its entries go between its brackets.
		doc := b.Bytes()
		i := bytes.LastIndex(doc, []byte("[]"))
		return doc[:i+1], []byte("\n  ]\n}\n"), nil
	},
	entry: func(b *bytes.Buffer, m Meta, e Entry) error {
		it := e.Item
		ji := jsonItem{ID: it.ID, URL: it.URL, Title: it.Title, Language: Language(it)}
		if it.Content != "" && it.Summary != "" {
			ji.Summary = textnorm.HTMLToText(it.Summary)
		}
		body := content(e)
		ji.ContentHTML, ji.ContentText = body.HTML, body.Text
		if !it.Published.IsZero() {
			ji.DatePublished = it.Published.UTC().Format(time.RFC3339)
		}
		if modified(e) {
			ji.DateModified = updated(e).UTC().Format(time.RFC3339)
		}
		for _, a := range it.Authors {
			ji.Authors = append(ji.Authors, author{Name: a})
		}
		picture, attached := media(it)
		ji.Image = picture
		for _, m := range attached {
			ji.Attachments = append(ji.Attachments, attachment{URL: m.URL, MimeType: m.Type, Size: m.Length})
		}
		ji.Raqib = Raqib{Feed: it.Feed, DuplicateOf: it.DuplicateOf, Follows: it.Follows, Reason: it.Reason, Cluster: it.Cluster, ClusterSize: 1, Rules: it.Rules, Language: Language(it)}
		if ji.Raqib.Rules == nil {
			ji.Raqib.Rules = []string{}
		}
		if it.DuplicateOf != "" {
			s := it.Similarity
			ji.Raqib.Similarity = &s
		}
		if e.Cluster != nil {
			ji.Raqib.ClusterSize = e.Cluster.Size
			ji.Raqib.Outlets = e.Cluster.Feeds
		}
		// As it sits in the document: an element of "items", two levels in.
		b.WriteString("\n    ")
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("    ", "  ")
		if err := enc.Encode(ji); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		return nil
	},
}
