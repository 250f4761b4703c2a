package feeds

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
	Category string        `xml:"category,attr,omitempty"`
	Outlines []opmlOutline `xml:"outline"`
}

var unsafeName = regexp.MustCompile(`[^\p{L}\p{N}_.]+`)

// OPMLProblem is an outline that was skipped, and why.
type OPMLProblem struct {
	Line int
	Text string
	Why  string
}

func (p OPMLProblem) String() string {
	return fmt.Sprintf("line %d: outline %q: %s; skipped", p.Line, p.Text, p.Why)
}

// ReadOPML returns the feeds of an OPML file (any version, as Miniflux,
// FreshRSS, Feedly, Inoreader and others export it): each folder an
// outline is in, and its category attribute, become tags; names are made
// tidy and unique from titles. An outline that cannot be a feed is
// reported and skipped, not fatal.
func ReadOPML(r io.Reader) ([]config.Feed, []OPMLProblem, error) {
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charsetReader
	dec.Strict = false
	var (
		out      []config.Feed
		problems []OPMLProblem
		folders  []string // one per open outline ("" for a feed's own)
		inBody   bool
		opml     bool
	)
	used := map[string]bool{}
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !opml {
				return nil, nil, fmt.Errorf("not an OPML file: %w", err)
			}
			problems = append(problems, OPMLProblem{Line: line, Why: "the file breaks off here: " + err.Error()})
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch strings.ToLower(t.Name.Local) {
			case "opml":
				opml = true
			case "body":
				inBody = true
			case "outline":
				if !inBody {
					folders = append(folders, "")
					continue
				}
				a := attrs(t.Attr)
				text := strings.TrimSpace(firstNonEmpty(a["title"], a["text"]))
				raw := strings.TrimSpace(firstNonEmpty(a["xmlurl"], a["url"]))
				if raw == "" {
					folders = append(folders, text) // a folder
					continue
				}
				folders = append(folders, "")
				u, why := feedURL(raw)
				if why != "" {
					problems = append(problems, OPMLProblem{Line: line, Text: text, Why: why})
					continue
				}
				name := tidyName(text)
				if name == "" {
					name = tidyName(hostOf(u))
				}
				base := name
				for i := 2; used[name]; i++ {
					name = fmt.Sprintf("%s-%d", base, i)
				}
				used[name] = true
				f := config.Feed{Name: name, URL: u, Language: strings.TrimSpace(a["language"])}
				if site, why := feedURL(a["htmlurl"]); why == "" {
					f.SiteURL = site
				}
				for _, dir := range folders {
					if dir != "" {
						f.Tags = addTag(f.Tags, dir)
					}
				}
				for _, c := range strings.Split(a["category"], ",") {
					for _, part := range strings.Split(c, "/") {
						f.Tags = addTag(f.Tags, part)
					}
				}
				out = append(out, f)
			}
		case xml.EndElement:
			switch strings.ToLower(t.Name.Local) {
			case "outline":
				if len(folders) > 0 {
					folders = folders[:len(folders)-1]
				}
			case "body":
				inBody = false
			}
		}
	}
	if !opml {
		return nil, nil, fmt.Errorf("not an OPML file: no <opml> element")
	}
	if len(out) == 0 {
		return nil, problems, fmt.Errorf("the OPML file lists no feeds (outlines with xmlUrl)")
	}
	return out, problems, nil
}

func attrs(as []xml.Attr) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[strings.ToLower(a.Name.Local)] = a.Value
	}
	return m
}

// feedURL maps the feed: scheme readers use (feed://host/x,
// feed:https://host/x) to http(s), and refuses what is not a web address.
func feedURL(raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "no address"
	}
	if rest, ok := strings.CutPrefix(raw, "feed:"); ok {
		switch {
		case strings.HasPrefix(rest, "//"):
			raw = "http:" + rest
		default:
			raw = rest
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := raw
		if err == nil && (u.User != nil || u.RawQuery != "") {
			shown = config.RedactURL(raw)
		}
		return "", fmt.Sprintf("%q is not an http(s) address", shown)
	}
	return u.String(), ""
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return strings.TrimPrefix(p.Hostname(), "www.")
	}
	return ""
}

// tidyName makes a feed name of a title: lower case, words joined by one
// dash ("BBC News - World" is bbc-news-world), Arabic kept as it is.
func tidyName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = unsafeName.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-._")
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func addTag(tags []string, t string) []string {
	t = strings.TrimSpace(t)
	if t == "" || slices.Contains(tags, t) {
		return tags
	}
	return append(tags, t)
}

// WriteOPML writes feeds as an OPML 2.0 document.
func WriteOPML(w io.Writer, feeds []config.Feed, now time.Time) error {
	var doc opmlDoc
	doc.Version = "2.0"
	doc.Head.Title = "raqib feeds"
	doc.Head.DateCreated = now.UTC().Format(time.RFC1123Z)
	for _, f := range feeds {
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutline{Type: "rss", Text: f.Name, Title: f.Name, XMLURL: f.URL, HTMLURL: f.SiteURL,
			Language: f.Language, Category: strings.Join(f.Tags, ",")})
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
