// Command prune times one prune of a store, as the daemon runs it every
// hour: how long it took and how long it held the writer at most in one
// transaction (what a poll waiting to commit waits for).
//
//	go run ./bench/prune -db /tmp/m1.db -retention 480h
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/raqib/raqib/storage"
)

func main() {
	path := flag.String("db", "raqib.db", "database file")
	retention := flag.Duration("retention", 30*24*time.Hour, "prune items first seen longer ago than this")
	flag.Parse()
	start := time.Now()
	st, err := storage.OpenBolt(*path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Printf("open (and migrate): %s\n", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	n, err := st.Prune(context.Background(), time.Now().Add(-*retention))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pruned %d items in %s, longest write transaction %s\n", n, time.Since(start).Round(time.Millisecond), st.LongestPruneHold().Round(time.Millisecond))
}
