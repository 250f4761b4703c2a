package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

func (s *Store) Feed(ctx context.Context, name string) (*storage.FeedState, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT state FROM feeds WHERE name = $1`, name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("feed %s: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load feed %s: %w", name, err)
	}
	f, err := decodeJSON[storage.FeedState](raw)
	if err != nil {
		return nil, fmt.Errorf("load feed %s: %w", name, err)
	}
	return f, nil
}

func (s *Store) Feeds(ctx context.Context) ([]*storage.FeedState, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, state FROM feeds ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list feeds: %w", err)
	}
	defer rows.Close()
	var out []*storage.FeedState
	for rows.Next() {
		var (
			name string
			raw  []byte
		)
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, fmt.Errorf("list feeds: %w", err)
		}
		f, err := decodeJSON[storage.FeedState](raw)
		if err != nil {
			return nil, fmt.Errorf("list feeds: feed %s: %w", name, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list feeds: %w", err)
	}
	return out, nil
}

const putFeedSQL = `INSERT INTO feeds (name, state) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state`

func (s *Store) PutFeed(ctx context.Context, f *storage.FeedState) error {
	raw, err := encodeJSON(f)
	if err != nil {
		return fmt.Errorf("save feed %s: %w", f.Name, err)
	}
	if _, err := s.pool.Exec(ctx, putFeedSQL, f.Name, raw); err != nil {
		return fmt.Errorf("save feed %s: %w", f.Name, err)
	}
	return nil
}

// PutFeeds saves the states in one statement. A feed named twice is saved
// as it is the last time; the rows are written in the order of their
// names, so that two daemons saving the same feeds do not deadlock.
func (s *Store) PutFeeds(ctx context.Context, fs []*storage.FeedState) error {
	if len(fs) == 0 {
		return nil
	}
	last := make(map[string]*storage.FeedState, len(fs))
	for _, f := range fs {
		last[f.Name] = f
	}
	names := make([]string, 0, len(last))
	for name := range last {
		names = append(names, name)
	}
	slices.SortFunc(names, strings.Compare)
	states := make([][]byte, len(names))
	for i, name := range names {
		raw, err := encodeJSON(last[name])
		if err != nil {
			return fmt.Errorf("save %d feeds: feed %s: %w", len(fs), name, err)
		}
		states[i] = raw
	}
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO feeds (name, state) SELECT * FROM unnest($1::text[], $2::bytea[])
			ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state`, names, states)
		return err
	})
	if err != nil {
		return fmt.Errorf("save %d feeds: %w", len(fs), err)
	}
	return nil
}
