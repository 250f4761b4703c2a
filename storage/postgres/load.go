package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

var _ storage.Loader = (*Store)(nil)

// Load stores records copied from another engine as they are: items keep
// their sequence numbers, keys their items or tombstones. One transaction
// per call.
func (s *Store) Load(ctx context.Context, recs []storage.Record) error {
	var (
		feeds  []*storage.FeedState
		items  []*storage.Item
		alerts []*storage.Alert
		b      = &pgx.Batch{}
	)
	for _, r := range recs {
		switch {
		case r.Feed != nil:
			feeds = append(feeds, r.Feed)
		case r.Seed != nil:
			raw, err := encodeJSON(r.Seed)
			if err != nil {
				return fmt.Errorf("seed %s: %w", r.Seed.Name, err)
			}
			b.Queue(`INSERT INTO seeds (name, doc, fingerprint, samples) VALUES ($1, $2, $3, $4)`, r.Seed.Name, raw, r.Seed.Fingerprint, r.Seed.Samples)
		case r.Story != nil:
			if err := queueStory(b, r.Story); err != nil {
				return err
			}
		case r.Item != nil:
			items = append(items, r.Item)
			for _, rule := range dedupe(r.Item.Rules) {
				b.Queue(`INSERT INTO item_rules (rule, date_ns, seq, story) VALUES ($1, $2, $3, $4)`, rule, r.Item.Date().UnixNano(), int64(r.Item.Seq), r.Item.Cluster)
			}
		case r.Key != nil:
			var item, pruned any
			if r.Key.Pruned.IsZero() {
				item = r.Key.Item
			} else {
				pruned = r.Key.Pruned
			}
			b.Queue(`INSERT INTO keys (key, item, pruned) VALUES ($1, $2, $3)`, r.Key.Key, item, pruned)
		case r.Alert != nil:
			alerts = append(alerts, r.Alert)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer tx.Rollback(ctx)
	if len(items) > 0 {
		// Items first: the rule rows refer to them.
		cols, err := itemColumns(items)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO items (seq, id, feed, story, duplicate, date_ns, fetched_ns, doc, fingerprint, samples)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[], $8::bytea[], $9::bytea[], $10::bytea[])`, cols...); err != nil {
			return fmt.Errorf("load %d items: %w", len(items), err)
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := s.PutFeeds(ctx, feeds); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if len(alerts) > 0 {
		if err := s.saveAlerts(ctx, alerts); err != nil {
			return fmt.Errorf("load %d alerts: %w", len(alerts), err)
		}
	}
	return nil
}

// Loaded moves the item sequence past the copied items.
func (s *Store) Loaded(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `SELECT setval('item_seq', greatest((SELECT max(seq) FROM items), 1), (SELECT count(*) > 0 FROM items))`); err != nil {
		return fmt.Errorf("load: continue the item sequence: %w", err)
	}
	return nil
}
