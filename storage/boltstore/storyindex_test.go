package boltstore

import (
	"context"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

// A schema 7 file has no story or feed-day index; Open builds them, in
// several transactions, to what commits would have kept. A file that
// somehow held entries already is counted afresh, not twice.
func TestMigrateStoryIndex(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "buckets gone", true: "buckets left"}[keep], func(t *testing.T) {
			ctx := context.Background()
			s, path := listingStore(t)
			cs, err := s.Clusters(ctx, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			read := func(s *Bolt) (map[string][]*storage.Item, map[string][]string, []storage.FeedDay) {
				items, err := s.StoryItems(ctx, time.Time{}, ids)
				if err != nil {
					t.Fatal(err)
				}
				rules, err := s.StoryRules(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				days, err := s.FeedDays(ctx, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				return items, rules, days
			}
			wantItems, wantRules, wantDays := read(s)
			if len(wantRules) < 5 || len(wantDays) < 2 {
				t.Fatalf("the test store should hold stories with rules and several feed days: %v, %v", wantRules, wantDays)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error {
				if !keep {
					for _, b := range [][]byte{bByStory, bFeedDays} {
						if err := tx.DeleteBucket(b); err != nil {
							return err
						}
					}
				}
				return tx.Bucket(bMeta).Put([]byte("schema"), u64(7))
			}); err != nil {
				t.Fatal(err)
			}
			s = reopenMigrating(t, s, path, 7)
			s.db.View(func(tx *bolt.Tx) error {
				if v := binary.BigEndian.Uint64(tx.Bucket(bMeta).Get([]byte("schema"))); v != SchemaVersion {
					t.Errorf("schema %d after the migration", v)
				}
				if n, want := tx.Bucket(bByStory).Stats().KeyN, tx.Bucket(bItems).Stats().KeyN; n != want {
					t.Errorf("%d story index entries for %d items", n, want)
				}
				return nil
			})
			gotItems, gotRules, gotDays := read(s)
			if !reflect.DeepEqual(gotRules, wantRules) || !reflect.DeepEqual(gotDays, wantDays) {
				t.Errorf("after the migration:\nrules %v\n want %v\ndays %v\n want %v", gotRules, wantRules, gotDays, wantDays)
			}
			for id, its := range wantItems {
				if !reflect.DeepEqual(itemIDs(gotItems[id]), itemIDs(its)) {
					t.Errorf("story %s after the migration: %v, want %v", id, itemIDs(gotItems[id]), itemIDs(its))
				}
			}
		})
	}
}

// A schema 8 file has no size index; Open builds it from the storytime
// index, and the largest stories list as before.
func TestMigrateSizeIndex(t *testing.T) {
	ctx := context.Background()
	s, path := listingStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	list := func(s *Bolt) [][]string {
		var out [][]string
		for _, since := range []time.Time{{}, base.Add(20 * time.Hour)} {
			for _, limit := range []int{0, 2, 5} {
				cs, err := s.Clusters(ctx, since, limit)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, clusterIDs(cs))
			}
		}
		return out
	}
	want := list(s)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bStorySize); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("schema"), u64(8))
	}); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrating(t, s, path, 3)
	if got := list(s); !reflect.DeepEqual(got, want) {
		t.Errorf("the largest stories after the migration:\n got %v\nwant %v", got, want)
	}
	checkListings(t, s)
}
