// Command prune times one prune of a store, as the daemon runs it every
// hour: how long it took, how long it held the writer at most in one
// transaction, and what a writer beside it (a poll saving a feed's state,
// every few milliseconds) waited, against the same writer with no prune.
//
//	go run ./bench/prune -db /tmp/m1.db -retention 480h
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

func main() {
	path := flag.String("db", "raqib.db", "database file")
	retention := flag.Duration("retention", 30*24*time.Hour, "prune items first seen longer ago than this")
	baseline := flag.Duration("baseline", 10*time.Second, "how long the writer runs alone first")
	flag.Parse()
	ctx := context.Background()
	start := time.Now()
	st, err := boltstore.Open(*path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Printf("open (and migrate): %s\n", time.Since(start).Round(time.Millisecond))

	alone := write(ctx, st, func() bool { return time.Since(start) < *baseline }, &start)
	fmt.Printf("writer alone:        %s\n", alone)

	var done sync.WaitGroup
	var pruning = true
	var mu sync.Mutex
	var beside string
	done.Go(func() {
		s := write(ctx, st, func() bool { mu.Lock(); defer mu.Unlock(); return pruning }, nil)
		beside = s
	})
	start = time.Now()
	n, err := st.Prune(ctx, time.Now().Add(-*retention))
	took := time.Since(start)
	mu.Lock()
	pruning = false
	mu.Unlock()
	done.Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pruned %d items in %s, longest write transaction %s\n", n, took.Round(time.Millisecond), st.LongestPruneHold().Round(time.Millisecond))
	fmt.Printf("writer beside prune: %s\n", beside)
}

// write saves a feed's state every 5 ms while more says so, and describes
// how long each save took.
func write(ctx context.Context, st *boltstore.Bolt, more func() bool, reset *time.Time) string {
	if reset != nil {
		*reset = time.Now()
	}
	var took []time.Duration
	for i := 0; more(); i++ {
		t := time.Now()
		if err := st.PutFeed(ctx, &storage.FeedState{Name: "bench-prune-writer", URL: "http://bench.example/feed", Polls: i}); err != nil {
			log.Fatal(err)
		}
		took = append(took, time.Since(t))
		time.Sleep(5 * time.Millisecond)
	}
	if len(took) == 0 {
		return "no writes"
	}
	slices.Sort(took)
	q := func(p float64) time.Duration { return took[int(p*float64(len(took)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("%d writes, p50 %s, p99 %s, max %s", len(took), q(0.5), q(0.99), q(1))
}
