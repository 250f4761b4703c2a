package feeds

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"

	"github.com/raqib/raqib/storage"
)

// maxMedia bounds the pictures and attachments kept of an item: a desk's
// reader shows the story's photo, not a gallery of a hundred.
const maxMedia = 8

// mediaOf gathers an item's picture and attachments from every place feeds
// put them: RSS <enclosure>, Media RSS (media:content, media:thumbnail,
// inside media:group or not), Atom link rel="enclosure", JSON Feed image
// and attachments (gofeed gives the last two as Image and Enclosures).
// Only http(s) addresses are kept, each once.
func mediaOf(gi *gofeed.Item) []storage.Media {
	var out []storage.Media
	seen := map[string]bool{}
	add := func(m storage.Media) {
		m.URL = strings.TrimSpace(m.URL)
		u, err := url.Parse(m.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || seen[m.URL] || len(out) >= maxMedia {
			return
		}
		seen[m.URL] = true
		m.Type = strings.TrimSpace(strings.ToLower(m.Type))
		if len(m.Type) > 100 || strings.ContainsAny(m.Type, "<>\"' ") {
			m.Type = ""
		}
		out = append(out, m)
	}
	if gi.Image != nil {
		add(storage.Media{URL: gi.Image.URL, Image: true})
	}
	media := gi.Extensions["media"]
	var thumbs, contents []ext.Extension
	thumbs = append(thumbs, media["thumbnail"]...)
	contents = append(contents, media["content"]...)
	for _, g := range media["group"] {
		thumbs = append(thumbs, g.Children["thumbnail"]...)
		contents = append(contents, g.Children["content"]...)
	}
	for _, t := range thumbs {
		add(storage.Media{URL: t.Attrs["url"], Image: true})
	}
	for _, c := range contents {
		// A media:content image is the item's picture, as gofeed takes
		// the first one for it.
		m := storage.Media{URL: c.Attrs["url"], Type: c.Attrs["type"], Length: length(c.Attrs["fileSize"])}
		m.Image = c.Attrs["medium"] == "image" || strings.HasPrefix(m.Type, "image/")
		add(m)
	}
	for _, e := range gi.Enclosures {
		if e != nil {
			add(storage.Media{URL: e.URL, Type: e.Type, Length: length(e.Length)})
		}
	}
	return out
}

func length(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
