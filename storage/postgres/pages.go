package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raqib/raqib/storage"
)

// dayOf is storage.DayOf as feed_days's integer column holds it.
func dayOf(t time.Time) int32 { return int32(storage.DayOf(t)) }

// feedDays tallies stored items by feed and day, as the columns of an
// upsert, in the order of their keys so that commits lock rows alike.
func feedDays(items []*storage.Item) (feeds []string, days []int32, counts []int64) {
	type key struct {
		feed string
		day  int32
	}
	n := map[key]int64{}
	for _, it := range items {
		n[key{it.Feed, dayOf(it.Fetched)}]++
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(strings.Compare(a.feed, b.feed), cmp.Compare(a.day, b.day)) })
	for _, k := range keys {
		feeds, days, counts = append(feeds, k.feed), append(days, k.day), append(counts, n[k])
	}
	return feeds, days, counts
}

func (s *Store) FeedDays(ctx context.Context, since time.Time) ([]storage.FeedDay, error) {
	rows, err := s.pool.Query(ctx, `SELECT feed, day, items FROM feed_days WHERE day >= $1 ORDER BY feed, day`, dayOf(since))
	if err != nil {
		return nil, fmt.Errorf("list feed days: %w", err)
	}
	defer rows.Close()
	var out []storage.FeedDay
	for rows.Next() {
		var (
			d   storage.FeedDay
			day int32
			n   int64
		)
		if err := rows.Scan(&d.Feed, &day, &n); err != nil {
			return nil, fmt.Errorf("list feed days: %w", err)
		}
		d.Day, d.Items = storage.DayStart(uint32(day)), int(n)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list feed days: %w", err)
	}
	return out, nil
}

func (s *Store) StoryRules(ctx context.Context, stories []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(stories) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT story, array_agg(DISTINCT rule ORDER BY rule) FROM item_rules WHERE story = ANY($1) GROUP BY story`, dedupe(stories))
	if err != nil {
		return nil, fmt.Errorf("list the rules of %d stories: %w", len(stories), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			story string
			rules []string
		)
		if err := rows.Scan(&story, &rules); err != nil {
			return nil, fmt.Errorf("list the rules of %d stories: %w", len(stories), err)
		}
		out[story] = rules
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the rules of %d stories: %w", len(stories), err)
	}
	return out, nil
}
