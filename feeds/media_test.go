package feeds

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// The places feeds put an item's photo and attachments, in the shapes
// publishers write them (BBC and Al Jazeera use media:thumbnail and
// media:content, podcasts <enclosure>, Atom link rel="enclosure", JSON
// Feed image and attachments).
func TestMediaFromEveryForm(t *testing.T) {
	many := ""
	for i := range 20 {
		many += fmt.Sprintf(`<enclosure url="https://cdn.example/%d.jpg" type="image/jpeg" length="1"/>`, i)
	}
	cases := []struct {
		name, body string
		want       []storage.Media
	}{
		{"rss enclosure", `<rss version="2.0"><channel><title>t</title><item><title>حلقة</title><link>https://a.example/1</link>
			<enclosure url="https://a.example/ep1.mp3" length="2048000" type="audio/mpeg"/></item></channel></rss>`,
			[]storage.Media{{URL: "https://a.example/ep1.mp3", Type: "audio/mpeg", Length: 2048000}}},
		{"media rss", `<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title><item><title>خبر</title><link>https://a.example/2</link>
			<media:thumbnail width="976" height="549" url="https://ichef.example/976/photo.jpg"/>
			<media:content url="https://a.example/video.mp4" type="video/mp4" fileSize="99000" medium="video"/>
			<media:group><media:content url="https://a.example/big.jpg" medium="image"/></media:group></item></channel></rss>`,
			[]storage.Media{{URL: "https://ichef.example/976/photo.jpg", Image: true}, {URL: "https://a.example/video.mp4", Type: "video/mp4", Length: 99000},
				{URL: "https://a.example/big.jpg", Image: true}}},
		{"atom enclosure", `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id><updated>2026-12-01T00:00:00Z</updated>
			<entry><title>خبر</title><id>e1</id><updated>2026-12-01T00:00:00Z</updated><link rel="alternate" href="https://a.example/3"/>
			<link rel="enclosure" href="https://a.example/photo.png" type="image/png" length="5000"/></entry></feed>`,
			[]storage.Media{{URL: "https://a.example/photo.png", Type: "image/png", Length: 5000}}},
		{"json feed", `{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","url":"https://a.example/4","title":"خبر",
			"image":"https://a.example/main.jpg","attachments":[{"url":"https://a.example/doc.pdf","mime_type":"application/pdf","size_in_bytes":777}]}]}`,
			[]storage.Media{{URL: "https://a.example/main.jpg", Image: true}, {URL: "https://a.example/doc.pdf", Type: "application/pdf", Length: 777}}},
		{"hostile", `<rss version="2.0"><channel><title>t</title><item><title>خبر</title><link>https://a.example/5</link>
			<enclosure url="javascript:alert(1)" type="image/jpeg"/><enclosure url="data:image/png;base64,AAAA" type="image/png"/>
			<enclosure url="https://a.example/x.jpg" type="image/jpeg&quot; onload=&quot;x" length="-5"/>` + many + `</item></channel></rss>`,
			nil},
	}
	for _, c := range cases {
		f, err := Parse([]byte(c.body), "", "ar")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		items := ToItems("f", "ar", f, time.Now())
		if len(items) != 1 {
			t.Fatalf("%s: %d items", c.name, len(items))
		}
		got := items[0].Media
		if c.name == "hostile" {
			if len(got) != maxMedia || got[0].URL != "https://a.example/x.jpg" || got[0].Type != "" || got[0].Length != 0 {
				t.Errorf("hostile: %+v", got)
			}
			for _, m := range got {
				if !strings.HasPrefix(m.URL, "https://") {
					t.Errorf("hostile: kept %q", m.URL)
				}
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: media %+v, want %+v", c.name, got, c.want)
		}
	}
}

// An item is tagged with its own language when its feed's hint disagrees:
// English wire copy in an Arabic outlet's feed was tagged Arabic.
func TestItemLanguageFromItsText(t *testing.T) {
	for _, c := range []struct{ hint, title, body, want string }{
		{"ar", "Libya talks resume in Geneva", "The UN envoy said on Monday that the talks between the two sides would resume in Geneva next week.", "en"},
		{"ar", "Reprise des pourparlers", "Les pourparlers entre les deux parties reprendront la semaine prochaine à Genève, a déclaré l'envoyé de l'ONU.", "fr"},
		{"ar", "استئناف المحادثات في جنيف", "قال المبعوث الأممي إن المحادثات بين الطرفين ستستأنف في جنيف الأسبوع المقبل.", "ar"},
		{"en", "استئناف المحادثات في جنيف", "قال المبعوث الأممي إن المحادثات بين الطرفين ستستأنف في جنيف الأسبوع المقبل.", "ar"},
		{"ar", "UN", "OK", "ar"}, // too little to tell
		{"", "Oil prices rise", "Oil rose on Monday after a fall in US stocks of crude oil.", "en"},
		{"ar", "مؤتمر صحفي لوزير الخارجية", "قال وزير الخارجية في مؤتمر صحفي مع نظيره الفرنسي Jean-Noël Barrot إن العلاقات متينة.", "ar"},
	} {
		it := &storage.Item{Title: c.title, Summary: c.body}
		if got := itemLanguage(c.hint, it); got != c.want {
			t.Errorf("%q (hint %q): %q, want %q", c.title, c.hint, got, c.want)
		}
	}
}
