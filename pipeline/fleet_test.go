package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/postgres"
	"github.com/raqib/raqib/storage/postgres/pgtest"
)

// Three daemons on one PostgreSQL database ingest copies of one report at
// the same moment, each from feeds of its own: one story, one alert, and
// each daemon's index knows the others' items.
func TestDaemonsSharingADatabaseMakeOneStory(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.FreshDB(t)
	eng, err := alerts.NewEngine([]config.Rule{{Name: "libya", Query: "ليبيا", Channels: []string{"log"}}})
	if err != nil {
		t.Fatal(err)
	}
	var daemons []*Pipeline
	var stores []*postgres.Store
	for d := range 3 {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Join(ctx, storage.Daemon{ID: fmt.Sprint("d", d), Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		p, err := New(ctx, st, 30*24*time.Hour, eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		daemons, stores = append(daemons, p), append(stores, st)
	}
	for round := range 4 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 6)
		for f := range 6 {
			p := daemons[f%3]
			wg.Go(func() {
				<-start
				name := fmt.Sprintf("r%d-f%d", round, f)
				body := strings.Join(story, "\n")
				if round%2 == 1 {
					body = other + "\n" + fmt.Sprint(round) // a report of its own each odd round
				}
				// Each outlet's copy ends its own way: not the same text,
				// so only the dedup index, not the text's key, finds it.
				body += fmt.Sprintf("\nنقلا عن المراسل %d", f)
				_, err := p.Ingest(ctx, &storage.FeedState{Name: name}, []*storage.Item{item(name, name+"-story", "فيضانات درنة في ليبيا", body)})
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	items, err := stores[0].Items(ctx, storage.ListOptions{WithDuplicates: true})
	if err != nil || len(items) != 24 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	stories := map[string]bool{}
	for _, it := range items {
		stories[it.Cluster] = true
	}
	// The flood report (rounds 0 and 2), and the book-fair report (rounds
	// 1 and 3, the same text but for its round number).
	if len(stories) != 2 {
		t.Errorf("24 copies of two reports made %d stories: %v", len(stories), stories)
	}
	as, err := stores[1].Alerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	perStory := map[string]int{}
	for _, a := range as {
		perStory[a.Cluster]++
	}
	for s, n := range perStory {
		if n != 1 {
			t.Errorf("story %s raised %d alerts, want one", s, n)
		}
	}
	if len(perStory) != len(stories) {
		t.Errorf("%d stories alerted of %d", len(perStory), len(stories))
	}
}
