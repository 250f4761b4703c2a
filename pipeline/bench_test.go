package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/bench/textgen"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/dedup"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

const (
	perFeed   = 20
	maxBodies = 256
)

// feedBodies are RSS feeds of generated Arabic articles (100 to 3,000
// words); "ITER" in links and GUIDs is replaced per operation so that
// every item is new to the store. There is a body per operation, up to
// maxBodies: with fewer, most items would repeat an earlier text exactly
// and take the exact-copy path, cheaper than the near-duplicate search a
// new text needs.
func feedBodies(n int) [][]byte {
	n = max(1, min(n, maxBodies))
	var out [][]byte
	for f := 0; f < n; f++ {
		g := textgen.New(uint64(f))
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://bench/</link><description>d</description><language>ar</language>`)
		for i := 0; i < perFeed; i++ {
			fmt.Fprintf(&b, "<item><title>%s</title><link>http://bench/%d/ITER/%d</link><guid>bench-%d-ITER-%d</guid><pubDate>Sun, 11 May 2025 09:30:00 GMT</pubDate><description>%s</description></item>",
				html.EscapeString(g.Title()), f, i, f, i, html.EscapeString("<p>"+g.Article(g.Words())+"</p>"))
		}
		b.WriteString("</channel></rss>")
		out = append(out, b.Bytes())
	}
	return out
}

func body(bodies [][]byte, i int) []byte {
	return bytes.ReplaceAll(bodies[i%len(bodies)], []byte("ITER"), []byte(strconv.Itoa(i)))
}

// BenchmarkParseOnly is gofeed parsing the bodies: the yardstick.
func BenchmarkParseOnly(b *testing.B) {
	bodies := feedBodies(b.N)
	p := gofeed.NewParser()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(bytes.NewReader(body(bodies, i))); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkIngest is everything after the body is in hand: charset, parse,
// items, normalise, exact and near dedup, 1,000 rules, commit to BoltDB.
func BenchmarkIngest(b *testing.B) {
	p := newBenchPipeline(b)
	bodies := feedBodies(b.N)
	stored := 0
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		stored += ingest(b, p, bodies, i)
	}
	b.StopTimer()
	reportCPU(b, cpu)
	if stored != b.N*perFeed {
		b.Fatalf("stored %d of %d", stored, b.N*perFeed)
	}
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
	if fi, err := os.Stat(p.Store.(*boltstore.Bolt).Path()); err == nil {
		b.ReportMetric(float64(fi.Size())/float64(stored), "db-bytes/item")
	}
}

// BenchmarkParseOnlyParallel and BenchmarkIngestParallel are the same on
// every core at once, as the daemon's fetch workers run: preparing and
// matching items runs concurrently, deciding duplicates and committing
// one fetch at a time.
func BenchmarkParseOnlyParallel(b *testing.B) {
	bodies := feedBodies(b.N)
	var next atomic.Int64
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		p := gofeed.NewParser()
		for pb.Next() {
			if _, err := p.Parse(bytes.NewReader(body(bodies, int(next.Add(1))))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkIngestParallel(b *testing.B) {
	p := newBenchPipeline(b)
	bodies := feedBodies(b.N)
	var next, stored atomic.Int64
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			stored.Add(int64(ingest(b, p, bodies, int(next.Add(1)))))
		}
	})
	b.StopTimer()
	reportCPU(b, cpu)
	if int(stored.Load()) != b.N*perFeed {
		b.Fatalf("stored %d of %d", stored.Load(), b.N*perFeed)
	}
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
}

// reportCPU reports the CPU time an operation used since start, in ms.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func newBenchPipeline(b *testing.B) *pipeline.Pipeline {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "raqib.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	p, err := pipeline.New(context.Background(), st, 30*24*time.Hour, benchEngine(b), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchEngine holds 1,000 rules like a desk's.
func benchEngine(b *testing.B) *alerts.Engine {
	var rs []config.Rule
	for i, q := range textgen.Rules(1000, 1) {
		rs = append(rs, config.Rule{Name: fmt.Sprint("r", i), Query: q, Channels: []string{"log"}})
	}
	eng, err := alerts.NewEngine(rs)
	if err != nil {
		b.Fatal(err)
	}
	return eng
}

// ingest parses feed body i and ingests its items; it returns how many
// were stored.
func ingest(b *testing.B, p *pipeline.Pipeline, bodies [][]byte, i int) int {
	return ingestBody(b, p, body(bodies, i), fmt.Sprint("feed", i%len(bodies)))
}

// ingestBody is one fetch's body through feeds.Parse and Ingest, fetched
// now: the store's time-ordered keys (a story's last update) see time go on
// as the daemon's do.
func ingestBody(b *testing.B, p *pipeline.Pipeline, body []byte, feed string) int {
	f, err := feeds.Parse(body, "application/rss+xml", "ar")
	if err != nil {
		b.Error(err)
		return 0
	}
	items := feeds.ToItems(feed, "ar", f, time.Now())
	res, err := p.Ingest(context.Background(), &storage.FeedState{Name: feed}, items)
	if err != nil {
		b.Error(err)
		return 0
	}
	return len(res.Stored)
}

// BenchmarkPolled is a feed as the daemon polls it: of its 20 items, 3
// are new since the last poll (the changed feeds of a poll cycle carry 1
// to 5) and 17 are stored already, which Ingest finds by their identity
// keys before any text work. parse and ingest take the same bodies;
// Ingest's figure above is the other end, every item new. Before the
// timer each feed's first poll is ingested, all 20 items new.
func BenchmarkPolled(b *testing.B) {
	const feedCount, fresh = 16, 3
	// polls builds the bodies: warm[f] is feed f's first poll, polls[i]
	// the i-th timed one (feed i%feedCount).
	polls := func(n int) (warm, timed [][]byte) {
		stream := make([][]string, feedCount) // each feed's items, oldest first
		for f := range stream {
			g := textgen.New(uint64(1000 + f))
			for k := 0; k < perFeed+fresh*(n/feedCount+1); k++ {
				stream[f] = append(stream[f], fmt.Sprintf("<item><title>%s</title><link>http://polled/%d/%d</link><guid>polled-%d-%d</guid><pubDate>Sun, 11 May 2025 09:30:00 GMT</pubDate><description>%s</description></item>",
					html.EscapeString(g.Title()), f, k, f, k, html.EscapeString("<p>"+g.Article(g.Words())+"</p>")))
			}
		}
		feedBody := func(f, poll int) []byte {
			var b bytes.Buffer
			b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://polled/</link><description>d</description><language>ar</language>`)
			first := fresh * poll
			for k := first + perFeed - 1; k >= first; k-- { // newest first
				b.WriteString(stream[f][k])
			}
			b.WriteString("</channel></rss>")
			return b.Bytes()
		}
		for f := 0; f < feedCount; f++ {
			warm = append(warm, feedBody(f, 0))
		}
		for i := 0; i < n; i++ {
			timed = append(timed, feedBody(i%feedCount, i/feedCount+1))
		}
		return warm, timed
	}
	b.Run("parse", func(b *testing.B) {
		_, timed := polls(b.N)
		p := gofeed.NewParser()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := p.Parse(bytes.NewReader(timed[i])); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
		b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
	})
	b.Run("ingest", func(b *testing.B) {
		warm, timed := polls(b.N)
		p := newBenchPipeline(b)
		for f, body := range warm {
			if n := ingestBody(b, p, body, fmt.Sprint("polled", f)); n != perFeed {
				b.Fatalf("first poll stored %d of %d", n, perFeed)
			}
		}
		stored := 0
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			stored += ingestBody(b, p, timed[i], fmt.Sprint("polled", i%feedCount))
		}
		b.StopTimer()
		reportCPU(b, cpu)
		if stored != b.N*fresh {
			b.Fatalf("stored %d of %d new items", stored, b.N*fresh)
		}
		b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
		b.ReportMetric(float64(stored)/b.Elapsed().Seconds(), "new-items/s")
	})
}

// BenchmarkStages times each step after parsing on the same feed's items,
// one feed per operation, to show where Ingest's time goes.
func BenchmarkStages(b *testing.B) {
	bodies := feedBodies(maxBodies / 4)
	var feedsItems [][]*storage.Item
	for i := range bodies {
		f, err := feeds.Parse(body(bodies, i), "application/rss+xml", "ar")
		if err != nil {
			b.Fatal(err)
		}
		feedsItems = append(feedsItems, feeds.ToItems("feed", "ar", f, time.Now()))
	}
	var texts [][]string // each item's plain text, for the stages after
	for _, items := range feedsItems {
		var ts []string
		for _, it := range items {
			ts = append(ts, it.PlainText())
		}
		texts = append(texts, ts)
	}
	each := func(b *testing.B, fn func(it *storage.Item, text string)) {
		b.Helper()
		for i := 0; i < b.N; i++ {
			f := i % len(feedsItems)
			for j, it := range feedsItems[f] {
				fn(it, texts[f][j])
			}
		}
	}
	b.Run("html", func(b *testing.B) {
		each(b, func(it *storage.Item, _ string) { storage.PlainText(it.Content, it.Summary) })
	})
	b.Run("words", func(b *testing.B) { each(b, func(it *storage.Item, s string) { rules.NewText(it.Title, s) }) })
	b.Run("dedup", func(b *testing.B) {
		each(b, func(it *storage.Item, s string) { dedup.PrepareVocab(rules.NewText(it.Title, s).Words()) })
	})
	eng := benchEngine(b)
	b.Run("rules", func(b *testing.B) {
		each(b, func(it *storage.Item, s string) { eng.Rules(it, rules.NewText(it.Title, s)) })
	})
}
