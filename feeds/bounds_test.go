package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileSize is the default poll.max_body: the largest body a poll hands
// to Parse.
const hostileSize = 10 << 20

const (
	rssHead  = `<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title><link>http://x.example/</link><description>d</description>` + "\n"
	rssTail  = `</channel></rss>`
	atomHead = `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>tag:x.example,2025:feed</id><updated>2025-05-11T10:00:00Z</updated>`
	jsonHead = `{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[`
)

// fill writes head, then open (and, if close is set, as many close after
// them) as many times as fit in size with tail, then tail.
func fill(size int, head, open, close, tail string) []byte {
	n := (size - len(head) - len(tail)) / (len(open) + len(close))
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head)
	for range n {
		b.WriteString(open)
	}
	for i := 0; i < n && close != ""; i++ {
		b.WriteString(close)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// The bodies of the issue: 10 MiB each, about a million elements or more.
// The names in them ("SEC...") are what an error must never repeat.
func nestedBody() []byte {
	return fill(hostileSize, rssHead+"<item><title>x</title>", "<SEC>", "</SEC>", "</item>"+rssTail)
}

func siblingsBody() []byte {
	return fill(hostileSize, rssHead+"<item><title>x</title>", "<SEC></SEC>", "", "</item>"+rssTail)
}

func deepJSONBody() []byte {
	return fill(hostileSize, jsonHead+`{"id":"1","title":"x","_SECRET":`, "[", "]", "}]}")
}

func wideJSONBody() []byte {
	return fill(hostileSize, jsonHead+`{"id":"1","title":"x","tags":[`, `"SECRET",`, "", `"x"]}]}`)
}

// manyItemsBody is 10 MiB of real-shaped items, well over 100,000.
func manyItemsBody() []byte {
	var b bytes.Buffer
	b.WriteString(rssHead)
	for i := 0; b.Len() < hostileSize-200; i++ {
		fmt.Fprintf(&b, "<item><title>خبر %d</title><link>http://x.example/%d</link></item>\n", i, i)
	}
	b.WriteString(rssTail)
	return b.Bytes()
}

// Bodies shaped to cost gofeed memory are refused before it reads them,
// with an error that names the bound and the line, not the body's bytes.
func TestBoundsRefuseHostileBodies(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"10 MiB of nested closed elements", nestedBody(), "elements nested deeper than 256 (line 3)"},
		{"10 MiB of sibling elements in an item", siblingsBody(), "more than 50000 elements (line 3)"},
		{"deep JSON", deepJSONBody(), "JSON nested deeper than 64 arrays and objects (line 1)"},
		{"wide JSON", wideJSONBody(), "more than 100000 JSON values (line 1)"},
		{"nesting on a later line", []byte(rssHead + "<item>\n<title>x</title>\n" + strings.Repeat("<SECRET>", 300) + strings.Repeat("</SECRET>", 300) + "</item>" + rssTail), "elements nested deeper than 256 (line 5)"},
		{"nested Atom content", fill(1<<20, atomHead+`<entry><title>x</title><id>1</id><content type="xhtml">`, "<SECRET>", "</SECRET>", "</content></entry></feed>"), "elements nested deeper than 256"},
		{"unclosed <br> without end", []byte(rssHead + "<item><description>" + strings.Repeat("a<br>", maxOpen+1) + "</description></item>" + rssTail), "more than 4096 elements open at once"},
		{"attributes", []byte(rssHead + "<item><SECRET" + strings.Repeat(` SECRET="1"`, maxAttributes+1) + "/></item>" + rssTail), "more than 50000 attributes"},
		{"valueless attributes", []byte(rssHead + "<item><SECRET" + strings.Repeat(" SECRET", maxAttributes+1) + "/></item>" + rssTail), "more than 50000 attributes"},
		{"namespace declarations", []byte(rssHead + "<item" + nsDecls(maxNamespaces) + "><title>x</title></item>" + rssTail), "more than 64 XML namespace declarations in scope"},
		{"JSON objects", fill(hostileSize, jsonHead+`{"id":"1","_SECRET":[`, `{},`, "", `{}]}]}`), "more than 100000 JSON values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.body, "", "")
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a ParseError with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SEC") {
				t.Errorf("the error repeats the body: %v", err)
			}
		})
	}
}

func nsDecls(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` xmlns:p%d="http://ns.example/%d"`, i, i)
	}
	return b.String()
}

// Shapes real feeds have pass the bounds and parse as before.
func TestBoundsAdmitRealFeeds(t *testing.T) {
	for _, name := range []string{"rss-utf8.xml", "rss-cp1256.xml", "rss-cp1256-undeclared.xml", "rss-iso8859-6.xml", "atom.xml", "feed.json", "malformed.xml", "page.html"} {
		body := readTestdata(t, name)
		head, tail, err := bound(body)
		if err != nil || !bytes.Equal(head, body) || tail != nil {
			t.Errorf("%s: bound cut or refused it: %d of %d bytes, tail %q, %v", name, len(head), len(body), tail, err)
		}
	}

	// Atom xhtml content a few dozen levels deep (an article's HTML).
	xhtml := atomHead + `<entry><title>x</title><id>tag:x.example,2025:1</id><updated>2025-05-11T10:00:00Z</updated><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">` +
		strings.Repeat(`<div class="a/b" title='x > y'><span>`, 20) + "النص في العمق" + strings.Repeat("</span></div>", 20) + `</div></content></entry></feed>`
	f, err := Parse([]byte(xhtml), "", "")
	if err != nil {
		t.Fatalf("xhtml 42 deep: %v", err)
	}
	if len(f.Items) != 1 || !strings.Contains(f.Items[0].Content, "النص في العمق") {
		t.Errorf("xhtml 42 deep: %d items, content %.80q", len(f.Items), f.Items[0].Content)
	}

	// Raw HTML left unclosed in a description, as careless feeds send it:
	// the parser closes the <br>s with the description.
	sloppy := rssHead + `<item><title>a</title><description>` + strings.Repeat("سطر<br>", 600) + `</description><link>http://x.example/1</link></item><item><title>b</title></item>` + rssTail
	f, err = Parse([]byte(sloppy), "", "")
	if err != nil {
		t.Fatalf("600 unclosed <br>: %v", err)
	}
	if len(f.Items) != 2 || f.Items[0].Link != "http://x.example/1" || f.Items[1].Title != "b" {
		t.Errorf("600 unclosed <br>: %d items", len(f.Items))
	}

	// A podcast's couple of dozen namespaces, and an xhtml namespace
	// declared in each of 900 entries (out of scope after each).
	ns := `<?xml version="1.0"?><rss version="2.0"` + nsDecls(30) + `><channel><title>t</title>` + strings.Repeat(`<item><title>x</title><p3:e p4:a="1"/></item>`, 50) + rssTail
	if _, err := Parse([]byte(ns), "", ""); err != nil {
		t.Errorf("30 namespaces: %v", err)
	}
	var entries strings.Builder
	entries.WriteString(atomHead)
	for i := range 900 {
		fmt.Fprintf(&entries, `<entry><title>e%d</title><id>tag:x.example,2025:%d</id><updated>2025-05-11T10:00:00Z</updated><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>نص</p></div></content></entry>`, i, i)
	}
	entries.WriteString("</feed>")
	if f, err := Parse([]byte(entries.String()), "", ""); err != nil || len(f.Items) != 900 {
		t.Errorf("900 xhtml entries: %v", err)
	}

	// A large, real-shaped feed: 1,000 items of a dozen elements.
	var big strings.Builder
	big.WriteString(rssHead)
	for i := range MaxItems {
		fmt.Fprintf(&big, `<item><title>خبر %d</title><link>http://x.example/%d</link><guid isPermaLink="false">%d</guid><pubDate>Mon, 11 May 2025 09:00:00 GMT</pubDate><dc:creator>الوكالة</dc:creator><category>سياسة</category><category>ليبيا</category><category>عاجل</category><enclosure url="http://x.example/%d.jpg" length="1" type="image/jpeg"/><description>نص الخبر</description></item>`, i, i, i, i)
	}
	big.WriteString(rssTail)
	if f, err := Parse([]byte(big.String()), "", ""); err != nil || len(f.Items) != MaxItems {
		t.Errorf("1,000 real items: %v", err)
	}
}

// The scan sees elements where the parser does: not in comments, CDATA,
// processing instructions, directives or quoted attribute values; a tag
// closes itself only with "/>" outside quotes; an end tag closes what the
// parser closes. Each body holds 300 of something that would nest 300
// deep if taken for elements.
func TestBoundsScanXML(t *testing.T) {
	deep := strings.Repeat("<a>", 300)
	cases := []struct {
		name   string
		body   string
		refuse bool
	}{
		{"nested", "<rss><channel>" + deep + "</channel></rss>", true},
		{"in a comment", "<rss><channel><!-- " + deep + " --></channel></rss>", false},
		{"in CDATA", "<rss><channel><description><![CDATA[" + deep + "]]></description></channel></rss>", false},
		{"in a processing instruction", "<?xml version=\"1.0\"?><?x " + deep + " ?><rss><channel></channel></rss>", false},
		{"in a DOCTYPE", `<!DOCTYPE rss [<!ENTITY e "` + deep + `"><!-- > ] > --><!ENTITY f '>'>]><rss><channel></channel></rss>`, false},
		{"in quoted attributes", "<rss><channel>" + strings.Repeat(`<a href="x/>" title='<a>'/>`, 300) + "</channel></rss>", false},
		{"'/' ending a quoted value", "<rss><channel>" + strings.Repeat(`<a href="x/">`, 300) + "</channel></rss>", true},
		{"unquoted values", "<rss><channel>" + strings.Repeat(`<a b=c d/>`, 300) + "</channel></rss>", false},
		{"self-closing", "<rss><channel>" + strings.Repeat("<a/><b />", 300) + "</channel></rss>", false},
		{"closed by an outer end tag", "<rss><channel>" + strings.Repeat("<div>"+strings.Repeat("<p>x", 200)+"</div>", 10) + "</channel></rss>", false},
		{"unclosed <br> and <IMG>", "<rss><channel><description>" + strings.Repeat(`a<br><IMG src="x">`, 300) + "</description></channel></rss>", false},
		{"255 deep", "<rss>" + strings.Repeat("<a>", 255) + strings.Repeat("</a>", 255) + "</rss>", false},
		{"257 deep", "<rss>" + strings.Repeat("<a>", 256) + strings.Repeat("</a>", 256) + "</rss>", true},
	}
	for _, c := range cases {
		_, _, err := bound([]byte(c.body))
		if (err != nil) != c.refuse {
			t.Errorf("%s: err = %v, want refused: %v", c.name, err, c.refuse)
		}
	}
	exactly := func(n int) []byte {
		return []byte("<rss><channel>" + strings.Repeat("<a/>", n-2) + "</channel></rss>")
	}
	if _, _, err := bound(exactly(maxElements)); err != nil {
		t.Errorf("%d elements: %v", maxElements, err)
	}
	if _, _, err := bound(exactly(maxElements + 1)); err == nil {
		t.Errorf("%d elements admitted", maxElements+1)
	}
}

func TestBoundsScanJSON(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		refuse bool
	}{
		{"64 deep", `{"items":[{"_x":` + strings.Repeat("[", 61) + strings.Repeat("]", 61) + `}]}`, false},
		{"65 deep", `{"items":[{"_x":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}]}`, true},
		{"brackets in a string", `{"items":[{"title":"` + strings.Repeat("[{", 100) + `"}]}`, false},
		{"escaped quotes", `{"items":[{"title":"\"` + strings.Repeat("[", 100) + `\\\"x"}]}`, false},
		{"an escaped backslash ends the string", `{"items":[{"title":"\\"` + `,"_x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]}`, true},
	}
	for _, c := range cases {
		_, _, err := bound([]byte(c.body))
		if (err != nil) != c.refuse {
			t.Errorf("%s: err = %v, want refused: %v", c.name, err, c.refuse)
		}
	}
	values := func(n int) []byte { // an object, an array and n-2 numbers
		return []byte(`{"_x":[` + strings.Repeat("0,", n-3) + "0]}")
	}
	if _, _, err := bound(values(maxJSONValues)); err != nil {
		t.Errorf("%d values: %v", maxJSONValues, err)
	}
	if _, _, err := bound(values(maxJSONValues + 1)); err == nil {
		t.Errorf("%d values admitted", maxJSONValues+1)
	}
}

// Only the first MaxItems items are ever taken: a feed of more is parsed
// up to its MaxItems-th item, closed there, and what follows is not
// counted against the bounds.
func TestBoundsCutAfterMaxItems(t *testing.T) {
	n := MaxItems + 500
	var rss, rdf, atom, js strings.Builder
	rss.WriteString(rssHead)
	rdf.WriteString(`<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://x.example/"><title>t</title><link>http://x.example/</link><description>d</description></channel>`)
	atom.WriteString(atomHead)
	js.WriteString(jsonHead)
	for i := range n {
		// Each item also holds an element named like an item, and the
		// JSON ones an "items" key of their own, which are not items.
		fmt.Fprintf(&rss, `<item><title>item %d</title><link>http://x.example/%d</link><x:item xmlns:x="http://ns.example/"/></item>`, i, i)
		fmt.Fprintf(&rdf, `<item rdf:about="http://x.example/%d"><title>item %d</title><link>http://x.example/%d</link></item>`, i, i, i)
		fmt.Fprintf(&atom, `<entry><title>item %d</title><id>tag:x.example,2025:%d</id><updated>2025-05-11T10:00:00Z</updated></entry>`, i, i)
		if i > 0 {
			js.WriteString(",")
		}
		fmt.Fprintf(&js, `{"id":"%d","title":"item %d","_x":{"items":[1,2,"]}"]}}`, i, i)
	}
	// After the items, enough elements to break the bound if counted.
	rss.WriteString(strings.Repeat("<a/>", maxElements) + rssTail)
	rdf.WriteString(strings.Repeat("<a/>", maxElements) + "</rdf:RDF>")
	atom.WriteString(strings.Repeat("<a/>", maxElements) + "</feed>")
	js.WriteString(`],"_x":[` + strings.Repeat("0,", maxJSONValues) + "0]}")
	for name, body := range map[string]string{"RSS": rss.String(), "RSS 1.0": rdf.String(), "Atom": atom.String(), "JSON Feed": js.String()} {
		f, err := Parse([]byte(body), "", "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(f.Items) != MaxItems || f.Items[0].Title != "item 0" || f.Items[MaxItems-1].Title != fmt.Sprintf("item %d", MaxItems-1) || f.Title != "t" {
			t.Errorf("%s: %d items, title %q", name, len(f.Items), f.Title)
		}
	}
}

// Parsing a 10 MiB hostile body allocates a small multiple of its size
// (before the bounds, each took tens of times it). TotalAlloc counts every
// allocation, collected or not, so it is the stricter figure.
func TestParseMemoryIsBounded(t *testing.T) {
	for name, gen := range map[string]func() []byte{
		"nested":     nestedBody,
		"siblings":   siblingsBody,
		"wide JSON":  wideJSONBody,
		"many items": manyItemsBody,
	} {
		body := gen()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		Parse(body, "application/rss+xml", "ar")
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %.1f MiB allocated", name, float64(alloc)/(1<<20))
		if alloc > 4*uint64(len(body)) {
			t.Errorf("%s: parsing %.1f MiB allocated %.1f MiB, more than 4 times the body", name, float64(len(body))/(1<<20), float64(alloc)/(1<<20))
		}
	}
}

// A body at the element bound, of the costliest elements measured, still
// parses within a bounded allocation: raising the bounds shows here.
func TestParseMemoryAtTheBounds(t *testing.T) {
	body := admittedBody()
	text := bytes.Index(body, []byte("ع"))
	body = append(body[:text:text], body[bytes.LastIndex(body, []byte("ع"))+len("ع"):]...)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := Parse(body, "", "")
	runtime.ReadMemStats(&after)
	if err != nil || len(f.Items) != MaxItems {
		t.Fatalf("the admitted body: %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%.1f MiB allocated for %.1f MiB", float64(alloc)/(1<<20), float64(len(body))/(1<<20))
	if alloc > 8*hostileSize {
		t.Errorf("parsing a body at the element bound allocated %d MiB, more than 8 times poll.max_body", alloc>>20)
	}
}

// BenchmarkBoundsScan is the scan of a real-shaped feed (the parse's
// input in the common case), with its cost as a percentage of the parse.
func BenchmarkBoundsScan(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(rssHead)
	for i := range 200 {
		fmt.Fprintf(&body, `<item><title>عنوان الخبر %d</title><link>http://x.example/%d</link><guid>%d</guid><pubDate>Mon, 11 May 2025 09:00:00 GMT</pubDate><category>سياسة</category><description>&lt;p&gt;%s&lt;/p&gt;</description></item>`,
			i, i, i, strings.Repeat("قال المتحدث باسم الحكومة إن المحادثات ستستأنف الأسبوع المقبل في العاصمة. ", 10))
	}
	body.WriteString(rssTail)
	// The parse is timed here, not by a nested testing.Benchmark, which
	// would wait on the lock this benchmark holds.
	const parses = 20
	start := time.Now()
	for range parses {
		if _, err := Parse(body.Bytes(), "", ""); err != nil {
			b.Fatal(err)
		}
	}
	parse := time.Since(start) / parses
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		if _, _, err := bound(body.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100*float64(b.Elapsed())/float64(b.N)/float64(parse), "%parse")
}

// BenchmarkParse16Hostile parses 16 hostile 10 MiB bodies at once, as a
// poll of 16 such feeds does, and reports the peak of the heap in use
// (the bodies' 160 MiB included), sampled every millisecond. Run it alone
// under /usr/bin/time -v for the process's peak RSS:
//
//	go test -c -o /tmp/feeds.test ./feeds
//	/usr/bin/time -v /tmp/feeds.test -test.run XXX -test.bench 'Parse16Hostile/nested' -test.benchtime 1x
func BenchmarkParse16Hostile(b *testing.B) {
	for _, c := range []struct {
		name string
		gen  func() []byte
	}{
		{"nested", nestedBody},
		{"siblings", siblingsBody},
		{"many-items", manyItemsBody},
		{"admitted", admittedBody},
		{"text", textBody},
	} {
		b.Run(c.name, func(b *testing.B) {
			bodies := make([][]byte, 16)
			for i := range bodies {
				bodies[i] = c.gen()
			}
			if c.name == "admitted" {
				if _, err := Parse(bodies[0], "", ""); err != nil {
					b.Fatalf("the admitted body is refused: %v", err)
				}
			}
			var peak uint64
			for b.Loop() {
				runtime.GC()
				peak = max(peak, peakHeapDuring(func() {
					var wg sync.WaitGroup
					for _, body := range bodies {
						wg.Go(func() { Parse(body, "application/rss+xml", "ar") })
					}
					wg.Wait()
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// admittedBody is the costliest 10 MiB body the bounds let through, as
// far as measured: MaxItems items, each holding a chain of nested
// namespaced extension elements with an attribute each (gofeed keeps
// every one in a map of its parent's, with a map of its attributes), up
// to the element bound, and the rest of the body one text node (which
// gofeed copies several times).
func admittedBody() []byte {
	const open, close = `<media:g u="1">`, `</media:g>`
	chain := (maxElements-3)/MaxItems - 2 // less the item and its description
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>`)
	room := hostileSize - MaxItems*(len("<item><description></description></item>")+chain*(len(open)+len(close))) - 200
	for i := range MaxItems {
		b.WriteString("<item>" + strings.Repeat(open, chain) + strings.Repeat(close, chain) + "<description>")
		if i == 0 {
			b.WriteString(strings.Repeat("ع", room/2))
		}
		b.WriteString("</description></item>")
	}
	b.WriteString(rssTail)
	return b.Bytes()
}

// textBody is a feed of one item whose description is the whole body:
// within every bound, and as costly to parse as text gets.
func textBody() []byte {
	return fill(hostileSize, rssHead+"<item><title>x</title><description>", "ع", "", "</description></item>"+rssTail)
}

// peakHeapDuring runs f and returns the largest heap in use seen while it
// ran. Benchmarks only: the figure depends on when the sampler runs.
func peakHeapDuring(f func()) uint64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			p = max(p, read())
			select {
			case <-done:
				peak <- max(p, read())
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	return <-peak
}

// FuzzBound: the scan never panics, what it hands on is a prefix of the
// body, and a refusal is a ParseError.
func FuzzBound(f *testing.F) {
	for _, s := range []string{
		rssHead + "<item><title>x</title><a:b xmlns:a='u'><c/></a:b><!-- <x> --><![CDATA[<y>]]></item>" + rssTail,
		`<!DOCTYPE x [<!ENTITY e "<a>"><!-- > -->]><x a=b c d="/>">` + "<br><p>text</x>",
		`{"items":[{"title":"\"[{","tags":["a",1,true,null]}],"_x":{"items":[[]]}}`,
		"<a:x xmlns:a='u' xmlns:b='u'></b:x><rss>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		head, tail, err := bound(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || head != nil || tail != nil {
				t.Fatalf("refusal %v with %d bytes handed on", err, len(head))
			}
			return
		}
		if !bytes.HasPrefix(b, head) {
			t.Fatalf("handed on %q, not a prefix of the body", head)
		}
	})
}
