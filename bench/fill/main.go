// Command fill puts N generated items into a raqib database, with the
// fingerprints the near-duplicate index loads at start, to measure raqib
// with a large history (memory, start-up, database size). Items are feed
// summaries of 60 to 200 words, spread over the last days. With -alerts,
// the first items each raised a delivered alert of rule r.
//
//	go run ./bench/fill -db raqib.db -items 1000000
//	go run ./bench/fill -db raqib.db -items 200000 -alerts 200000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/raqib/raqib/bench/textgen"
	"github.com/raqib/raqib/dedup"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

func main() {
	path := flag.String("db", "raqib.db", "database file")
	n := flag.Int("items", 1000000, "items to add")
	days := flag.Int("days", 20, "spread the items over this many days back (inside dedup.window)")
	alerts := flag.Int("alerts", 0, "the first this many items raised an alert each")
	flag.Parse()
	st, err := boltstore.Open(*path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now()
	start := time.Now()
	const batch = 5000
	// Index keys as the pipeline makes them: shingle samples and the rarest
	// title and lead words, by the frequencies of the items before.
	keys := &dedup.Detector{DocFreq: dedup.NewDocFreq(0)}
	for i := 0; i < *n; i += batch {
		b := &storage.Batch{}
		for j := i; j < i+batch && j < *n; j++ {
			g := textgen.New(uint64(j) + 1<<40)
			text := g.Article(60 + j%140)
			title := g.Title()
			doc := dedup.Prepare(title, text)
			when := now.Add(-time.Duration(j%(*days*24)) * time.Hour)
			id := fmt.Sprintf("fill%08d", j)
			b.Items = append(b.Items, &storage.Item{ID: id, Feed: fmt.Sprintf("f%d", j%10000), URL: "http://fill.example/" + id,
				Title: title, Summary: text, Language: "ar", Published: when, Fetched: when, Cluster: id,
				Keys: []string{"url:http://fill.example/" + id}, Fingerprint: doc.Print.Encode(), Samples: dedup.EncodeSamples(keys.IndexKeys(doc))})
			keys.DocFreq.Add(doc.Print.Words)
			if j < *alerts {
				b.Items[len(b.Items)-1].Rules = []string{"r"}
				b.Alerts = append(b.Alerts, &storage.Alert{ID: "alert-" + id, Rule: "r", Channel: "log", ItemID: id, Cluster: id,
					State: storage.AlertDelivered, Attempts: 1, Created: when, Delivered: when})
			}
		}
		if _, err := st.Commit(ctx, b); err != nil {
			log.Fatal(err)
		}
		if (i/batch)%20 == 0 {
			log.Printf("%d items, %s", i+batch, time.Since(start).Round(time.Second))
		}
	}
	log.Printf("done: %d items in %s", *n, time.Since(start).Round(time.Second))
}
