package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

func (s *Store) Cluster(ctx context.Context, id string) (*storage.Cluster, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM stories WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("story %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load story %s: %w", id, err)
	}
	c, err := decodeJSON[storage.Cluster](raw)
	if err != nil {
		return nil, fmt.Errorf("load story %s: %w", id, err)
	}
	return c, nil
}

// Clusters lists the stories updated since, the largest first and, of one
// size, the latest (then the greatest id, as the embedded engine lists
// them), from the stories_by_size index.
func (s *Store) Clusters(ctx context.Context, since time.Time, limit int) ([]*storage.Cluster, error) {
	return s.clusters(ctx, `SELECT id, doc FROM stories WHERE updated_ns >= $1 ORDER BY size DESC, updated_ns DESC, id DESC`, since, limit)
}

func (s *Store) LatestClusters(ctx context.Context, since time.Time, limit int) ([]*storage.Cluster, error) {
	return s.clusters(ctx, `SELECT id, doc FROM stories WHERE updated_ns >= $1 ORDER BY updated_ns DESC, id DESC`, since, limit)
}

func (s *Store) clusters(ctx context.Context, sql string, since time.Time, limit int) ([]*storage.Cluster, error) {
	args := []any{orderNanos(since)}
	if limit > 0 {
		sql += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	defer rows.Close()
	var out []*storage.Cluster
	for rows.Next() {
		var (
			id  string
			raw []byte
		)
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("list stories: %w", err)
		}
		c, err := decodeJSON[storage.Cluster](raw)
		if err != nil {
			return nil, fmt.Errorf("list stories: story %s: %w", id, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	return out, nil
}

// StoryItems lists, newest first, the items dated since of the stories,
// from the items_by_story index.
func (s *Store) StoryItems(ctx context.Context, since time.Time, stories []string) (map[string][]*storage.Item, error) {
	if len(stories) == 0 {
		return nil, nil
	}
	floor := int64(math.MinInt64)
	if !since.IsZero() {
		floor = since.UnixNano()
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, doc FROM items WHERE story = ANY($1) AND date_ns >= $2 ORDER BY date_ns DESC, seq DESC`,
		dedupe(stories), floor)
	if err != nil {
		return nil, fmt.Errorf("list the items of %d stories: %w", len(stories), err)
	}
	defer rows.Close()
	out := map[string][]*storage.Item{}
	for rows.Next() {
		var (
			seq int64
			raw []byte
		)
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, fmt.Errorf("list the items of %d stories: %w", len(stories), err)
		}
		it, err := decodeJSON[storage.Item](raw)
		if err != nil {
			return nil, fmt.Errorf("list the items of %d stories: item %d: %w", len(stories), seq, err)
		}
		out[it.Cluster] = append(out[it.Cluster], it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the items of %d stories: %w", len(stories), err)
	}
	return out, nil
}

// SplitItem saves the item as given in its place (its seq, date and feed
// as stored), takes it out of the story it was in and makes it one of its
// own, and queues the alerts whose ids are new: in one transaction that
// locks the item, then both stories in the order of their ids.
func (s *Store) SplitItem(ctx context.Context, it *storage.Item, alerts []*storage.Alert) error {
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return split(ctx, tx, it, alerts) })
	})
	if err != nil {
		return fmt.Errorf("split item %s: %w", it.ID, err)
	}
	return nil
}

func split(ctx context.Context, tx pgx.Tx, it *storage.Item, alerts []*storage.Alert) error {
	var (
		seq int64
		raw []byte
	)
	err := tx.QueryRow(ctx, `SELECT seq, doc FROM items WHERE id = $1 FOR UPDATE`, it.ID).Scan(&seq, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("item %s: %w", it.ID, storage.ErrNotFound)
	}
	if err != nil {
		return err
	}
	old, err := decodeJSON[storage.Item](raw)
	if err != nil {
		return fmt.Errorf("item %s: %w", it.ID, err)
	}
	moved := old.Cluster != it.Cluster
	stories := map[string]*storage.Cluster{}
	if moved {
		rows, err := tx.Query(ctx, `SELECT id, doc FROM stories WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []string{old.Cluster, it.Cluster})
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id, &raw); err != nil {
				rows.Close()
				return err
			}
			c, err := decodeJSON[storage.Cluster](raw)
			if err != nil {
				rows.Close()
				return fmt.Errorf("story %s: %w", id, err)
			}
			stories[id] = c
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	it.Seq = uint64(seq)
	doc, err := encodeJSON(it)
	if err != nil {
		return fmt.Errorf("item %s: %w", it.ID, err)
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE items SET story = $2, duplicate = $3, doc = $4 WHERE seq = $1`, seq, it.Cluster, it.DuplicateOf != "", doc)
	b.Queue(`DELETE FROM item_rules WHERE seq = $1`, seq) // the rules as they are now, below
	for _, r := range dedupe(it.Rules) {
		b.Queue(`INSERT INTO item_rules (rule, date_ns, seq, story) VALUES ($1, $2, $3, $4)
			ON CONFLICT (rule, date_ns, seq) DO UPDATE SET story = EXCLUDED.story`, r, it.Date().UnixNano(), seq, it.Cluster)
	}
	if moved {
		if c := stories[old.Cluster]; c != nil {
			if err := leaveStory(ctx, tx, c, it.ID); err != nil {
				return err
			}
			if err := queueStory(b, c); err != nil {
				return err
			}
		}
		c := &storage.Cluster{ID: it.Cluster, Title: it.Title, First: it.Date(), Size: 1, Feeds: []string{it.Feed}, Updated: it.Fetched}
		if err := queueStory(b, c); err != nil {
			return err
		}
	}
	if len(alerts) > 0 {
		cols, err := alertColumns(alerts)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO alerts (id, state, created_ns, item, story, doc)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[]) ON CONFLICT (id) DO NOTHING`, cols...)
	}
	return tx.SendBatch(ctx, b).Close()
}

// leaveStory takes an item out of its story c: its size drops, and its
// outlets are those of the items left (and a seed's).
func leaveStory(ctx context.Context, tx pgx.Tx, c *storage.Cluster, item string) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT feed FROM items WHERE story = $1 AND id <> $2`, c.ID, item)
	if err != nil {
		return err
	}
	feeds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if storage.IsSeedStory(c.ID) {
		feeds = append(feeds, "seeds")
	}
	c.Size = max(0, c.Size-1)
	c.Feeds = slices.DeleteFunc(c.Feeds, func(f string) bool { return !slices.Contains(feeds, f) })
	return nil
}

// queueStory queues the saving of a story, new or not.
func queueStory(b *pgx.Batch, c *storage.Cluster) error {
	raw, err := encodeJSON(c)
	if err != nil {
		return fmt.Errorf("story %s: %w", c.ID, err)
	}
	b.Queue(`INSERT INTO stories (id, size, updated_ns, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, updated_ns = EXCLUDED.updated_ns, doc = EXCLUDED.doc`,
		c.ID, c.Size, orderNanos(c.Updated), raw)
	return nil
}

// RuleStories lists a rule's stream: for each story but a seed's, its
// first item to match the rule (of opt.Feed, dated since opt.Since),
// newest first. SQL finds each story's first entry in the rule's index
// (DISTINCT ON) and their places after the cursor; the items are read a
// page at a time, as far as opt.Query and opt.Limit need.
func (s *Store) RuleStories(ctx context.Context, opt storage.ListOptions) ([]*storage.Item, error) {
	from, err := parseCursor(opt.Before)
	if err != nil {
		return nil, err
	}
	floor := int64(math.MinInt64)
	if !opt.Since.IsZero() {
		floor = opt.Since.UnixNano()
	}
	sql := `SELECT date_ns, seq FROM (
		SELECT DISTINCT ON (r.story) r.date_ns, r.seq FROM item_rules r
		WHERE r.rule = $1 AND r.date_ns >= $2 AND NOT starts_with(r.story, 'seed:') %s
		ORDER BY r.story, r.date_ns, r.seq) f
		WHERE (date_ns, seq) < ($3, $4) ORDER BY date_ns DESC, seq DESC`
	args := []any{opt.Rule, floor, from.date, from.seq}
	if opt.Feed != "" {
		sql = fmt.Sprintf(sql, "AND EXISTS (SELECT 1 FROM items i WHERE i.seq = r.seq AND i.feed = $5)")
		args = append(args, opt.Feed)
	} else {
		sql = fmt.Sprintf(sql, "")
	}
	what := "list rule " + opt.Rule
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	firsts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cursor, error) {
		var c cursor
		err := r.Scan(&c.date, &c.seq)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// Each is its story's first match, duplicate or not, of the feed and
	// date asked for.
	shown := storage.ListOptions{Rule: opt.Rule, WithDuplicates: true, Query: opt.Query, Limit: opt.Limit}
	size := pageSize(shown)
	var out []*storage.Item
	for len(firsts) > 0 {
		n := min(size, len(firsts))
		page, err := s.readSeqs(ctx, firsts[:n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		firsts = firsts[n:]
		if more, err := keepNewest(page, shown, &out); err != nil || !more {
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			break
		}
	}
	return out, nil
}

// readSeqs reads the records of the items at these places, in their
// order; an item pruned since it was listed is left out.
func (s *Store) readSeqs(ctx context.Context, at []cursor) ([]listed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seqs := make([]int64, len(at))
	for i, c := range at {
		seqs[i] = c.seq
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, doc FROM items WHERE seq = ANY($1)`, seqs)
	if err != nil {
		return nil, err
	}
	docs := map[int64][]byte{}
	for rows.Next() {
		var (
			seq int64
			raw []byte
		)
		if err := rows.Scan(&seq, &raw); err != nil {
			rows.Close()
			return nil, err
		}
		docs[seq] = raw
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]listed, 0, len(at))
	for _, c := range at {
		if doc, ok := docs[c.seq]; ok {
			out = append(out, listed{doc: doc, at: c})
		}
	}
	return out, nil
}
