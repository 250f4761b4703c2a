package feeds

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/raqib/raqib/config"
)

type opmlDoc struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    struct {
		Title       string `xml:"title"`
		DateCreated string `xml:"dateCreated,omitempty"`
	} `xml:"head"`
	Body struct {
		Outlines []opmlOutline `xml:"outline"`
	} `xml:"body"`
}

type opmlOutline struct {
	Type     string        `xml:"type,attr,omitempty"`
	Text     string        `xml:"text,attr"`
	Title    string        `xml:"title,attr,omitempty"`
	XMLURL   string        `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string        `xml:"htmlUrl,attr,omitempty"`
	Language string        `xml:"language,attr,omitempty"`
	Outlines []opmlOutline `xml:"outline"`
}

var unsafeName = regexp.MustCompile(`[^\p{L}\p{N}_.-]+`)

// ReadOPML returns the feeds of an OPML file (any version), folders
// flattened, with names made from their titles and unique.
func ReadOPML(r io.Reader) ([]config.Feed, error) {
	var doc opmlDoc
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charsetReader
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not an OPML file: %w", err)
	}
	var out []config.Feed
	used := map[string]bool{}
	var walk func([]opmlOutline)
	walk = func(os []opmlOutline) {
		for _, o := range os {
			if o.XMLURL != "" {
				name := o.Title
				if name == "" {
					name = o.Text
				}
				name = strings.Trim(unsafeName.ReplaceAllString(strings.TrimSpace(name), "-"), "-.")
				if name == "" {
					name = "feed"
				}
				base := name
				for i := 2; used[name]; i++ {
					name = fmt.Sprintf("%s-%d", base, i)
				}
				used[name] = true
				out = append(out, config.Feed{Name: name, URL: strings.TrimSpace(o.XMLURL), Language: o.Language})
			}
			walk(o.Outlines)
		}
	}
	walk(doc.Body.Outlines)
	if len(out) == 0 {
		return nil, fmt.Errorf("the OPML file lists no feeds (outlines with xmlUrl)")
	}
	return out, nil
}

// WriteOPML writes feeds as an OPML 2.0 document.
func WriteOPML(w io.Writer, feeds []config.Feed, now time.Time) error {
	var doc opmlDoc
	doc.Version = "2.0"
	doc.Head.Title = "raqib feeds"
	doc.Head.DateCreated = now.UTC().Format(time.RFC1123Z)
	for _, f := range feeds {
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutline{Type: "rss", Text: f.Name, Title: f.Name, XMLURL: f.URL, Language: f.Language})
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// charsetReader lets OPML files in legacy charsets be read.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	out, err := ToUTF8(b, "text/xml; charset="+label, "")
	if err != nil {
		return nil, err
	}
	return strings.NewReader(string(out)), nil
}
