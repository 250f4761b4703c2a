package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/bench/textgen"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
)

const perFeed = 20

// feedBodies are RSS feeds of generated Arabic articles (100 to 3,000
// words); "ITER" in links and GUIDs is replaced per operation so that
// every item is new to the store.
func feedBodies(n int) [][]byte {
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
	bodies := feedBodies(16)
	p := gofeed.NewParser()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(bytes.NewReader(body(bodies, i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkIngest is everything after the body is in hand: charset, parse,
// items, normalise, exact and near dedup, 1,000 rules, commit to BoltDB.
func BenchmarkIngest(b *testing.B) {
	bodies := feedBodies(16)
	st, err := storage.OpenBolt(filepath.Join(b.TempDir(), "raqib.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var rs []config.Rule
	for i, q := range textgen.Rules(1000, 1) {
		rs = append(rs, config.Rule{Name: fmt.Sprint("r", i), Query: q, Channels: []string{"log"}})
	}
	eng, err := alerts.NewEngine(rs)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(context.Background(), st, 30*24*time.Hour, eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	stored := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := feeds.Parse(body(bodies, i), "application/rss+xml", "ar")
		if err != nil {
			b.Fatal(err)
		}
		items := feeds.ToItems(fmt.Sprint("feed", i%len(bodies)), "ar", f, now)
		res, err := p.Ingest(context.Background(), &storage.FeedState{Name: "feed"}, items)
		if err != nil {
			b.Fatal(err)
		}
		stored += len(res.Stored)
	}
	b.StopTimer()
	if stored != b.N*perFeed {
		b.Fatalf("stored %d of %d", stored, b.N*perFeed)
	}
	b.ReportMetric(float64(b.N*perFeed)/b.Elapsed().Seconds(), "items/s")
}
