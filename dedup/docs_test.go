package dedup

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestDocTable(t *testing.T) {
	tab := newDocTable()
	now := time.Unix(1_750_000_000, 0)
	for i := 0; i < 1000; i++ {
		date := now
		if i%100 == 0 {
			date = time.Time{} // a seed
		}
		if o := tab.add([]byte(fmt.Sprint("item-", i)), date); o != uint32(i) {
			t.Fatalf("ordinal %d for document %d", o, i)
		}
	}
	for _, i := range []int{0, 1, 517, 999} {
		id := fmt.Sprint("item-", i)
		o, ok := tab.find([]byte(id))
		if !ok || o != uint32(i) || string(tab.id(o)) != id {
			t.Errorf("find(%s) = %d %v", id, o, ok)
		}
	}
	if tab.dates[100] != 0 || tab.dates[101] != uint32(now.Unix()) {
		t.Errorf("dates %d %d", tab.dates[100], tab.dates[101])
	}
	if _, ok := tab.find([]byte("item-1000")); ok {
		t.Error("found a document never added")
	}
	tab.kill(517)
	tab.kill(517)
	if _, ok := tab.find([]byte("item-517")); ok || tab.live != 999 {
		t.Errorf("after kill: found %v, live %d", ok, tab.live)
	}

	// Two ids with one hash: the second is kept apart and still found
	// exactly. A clash is forced by giving the new id's hash to another.
	clash := []byte("clashing-id")
	tab.byHash[maphash.Bytes(idSeed, clash)] = 3
	o := tab.add(clash, now)
	if got, ok := tab.find(clash); !ok || got != o {
		t.Errorf("clashing id: %d %v, want %d", got, ok, o)
	}
	if got, ok := tab.find([]byte("item-3")); !ok || got != 3 {
		t.Errorf("the id it clashed with: %d %v", got, ok)
	}
	tab.kill(o)
	if _, ok := tab.find(clash); ok || len(tab.clash) != 0 {
		t.Errorf("clashing id after kill: found %v, %d kept apart", ok, len(tab.clash))
	}
	if got, ok := tab.find([]byte("item-3")); !ok || got != 3 {
		t.Errorf("killing the clashing id lost the other: %d %v", got, ok)
	}
}

func TestSortHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 127, 128, 129, 1000, 5000} {
		xs := make([]uint32, n)
		for i := range xs {
			xs[i] = rng.Uint32()
			if i%7 == 0 && i > 0 {
				xs[i] = xs[i-1] // repeats
			}
		}
		want := slices.Clone(xs)
		slices.Sort(want)
		if got := sortHashes(xs); !slices.Equal(got, want) {
			t.Errorf("n=%d: not sorted", n)
		}
	}
}
