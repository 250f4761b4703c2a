package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

// pruneBatch is the most items, stories, alerts or tombstones one
// transaction of pruning deletes: a big prune holds its locks no longer
// than that takes, and a commit waiting for a story it deletes goes on
// soon.
const pruneBatch = 2000

// Prune deletes, as the embedded engine does: the items first seen before
// cutoff (with their fingerprints and rule rows), but those pending alerts
// need, their identity keys left as tombstones and their text keys taken
// out; then the stories last updated before cutoff, but seeds' and those
// pending alerts need; then the alerts not pending of stories no longer
// stored; then the tombstones laid before cutoff. Each is read from its
// index a batch at a time, from where the last batch ended, and deleted
// in a transaction of its own.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	keepItems, keepStories := map[string]bool{}, map[string]bool{}
	rows, err := s.pool.Query(ctx, `SELECT item, story FROM alerts WHERE state = $1`, storage.AlertPending)
	if err != nil {
		return 0, fmt.Errorf("prune: pending alerts: %w", err)
	}
	for rows.Next() {
		var item, story string
		if err := rows.Scan(&item, &story); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune: pending alerts: %w", err)
		}
		keepItems[item], keepStories[story] = true, true
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune: pending alerts: %w", err)
	}
	n, err := s.pruneItems(ctx, cutoff, keepItems)
	if err != nil {
		return n, fmt.Errorf("prune items: %w", err)
	}
	if err := s.pruneStories(ctx, cutoff, keepStories); err != nil {
		return n, fmt.Errorf("prune stories: %w", err)
	}
	if err := s.pruneAlerts(ctx, cutoff); err != nil {
		return n, fmt.Errorf("prune alerts: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM feed_days WHERE day < $1`, dayOf(cutoff)); err != nil {
		return n, fmt.Errorf("prune feed days: %w", err)
	}
	// The keys' tombstones stay one retention period more.
	if err := s.sweepTombs(ctx, cutoff); err != nil {
		return n, fmt.Errorf("prune identity keys: %w", err)
	}
	return n, nil
}

// pruneItems deletes the items first seen before cutoff but those kept,
// read from items_by_fetched.
func (s *Store) pruneItems(ctx context.Context, cutoff time.Time, keep map[string]bool) (int, error) {
	total := 0
	at := cursor{math.MinInt64, math.MinInt64} // (fetched_ns, seq) read up to
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		rows, err := s.pool.Query(ctx, `SELECT fetched_ns, seq, id FROM items WHERE fetched_ns < $1 AND (fetched_ns, seq) > ($2, $3)
			ORDER BY fetched_ns, seq LIMIT $4`, cutoff.UnixNano(), at.date, at.seq, pruneBatch)
		if err != nil {
			return total, err
		}
		var dead []int64
		read := 0
		for rows.Next() {
			var id string
			if err := rows.Scan(&at.date, &at.seq, &id); err != nil {
				rows.Close()
				return total, err
			}
			read++
			if !keep[id] {
				dead = append(dead, at.seq)
			}
		}
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(dead) > 0 {
			// One statement, one transaction: the keys of the items that
			// go (those they hold: their text keys go, the others are
			// buried), then the items (their rule rows with them).
			var n int
			err := s.pool.QueryRow(ctx, `WITH dead AS (SELECT seq, id FROM items WHERE seq = ANY($1) AND fetched_ns < $2),
				texts AS (DELETE FROM keys k USING dead WHERE k.item = dead.id AND starts_with(k.key, 'text:')),
				buried AS (UPDATE keys k SET item = NULL, pruned = $3 FROM dead WHERE k.item = dead.id AND NOT starts_with(k.key, 'text:')),
				gone AS (DELETE FROM items i USING dead WHERE i.seq = dead.seq RETURNING 1)
				SELECT count(*) FROM gone`, dead, cutoff.UnixNano(), time.Now()).Scan(&n)
			if err != nil {
				return total, err
			}
			total += n
		}
		if read < pruneBatch {
			return total, nil
		}
	}
}

// pruneStories deletes the stories last updated before cutoff, but seeds'
// and those kept, read from stories_by_updated. A story a commit adds to
// meanwhile is not deleted: the delete reads its update again.
func (s *Store) pruneStories(ctx context.Context, cutoff time.Time, keep map[string]bool) error {
	floor := orderNanos(cutoff)
	at, atID := int64(math.MinInt64), ""
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rows pgx.Rows
		var err error
		if first {
			rows, err = s.pool.Query(ctx, `SELECT updated_ns, id FROM stories WHERE updated_ns < $1 AND NOT starts_with(id, 'seed:')
				ORDER BY updated_ns, id LIMIT $2`, floor, pruneBatch)
		} else {
			rows, err = s.pool.Query(ctx, `SELECT updated_ns, id FROM stories WHERE updated_ns < $1 AND NOT starts_with(id, 'seed:')
				AND (updated_ns, id) > ($3, $4) ORDER BY updated_ns, id LIMIT $2`, floor, pruneBatch, at, atID)
		}
		if err != nil {
			return err
		}
		var dead []string
		read := 0
		for rows.Next() {
			if err := rows.Scan(&at, &atID); err != nil {
				rows.Close()
				return err
			}
			read++
			if !keep[atID] {
				dead = append(dead, atID)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(dead) > 0 {
			if _, err := s.pool.Exec(ctx, `DELETE FROM stories WHERE id = ANY($1) AND updated_ns < $2`, dead, floor); err != nil {
				return err
			}
		}
		if read < pruneBatch {
			return nil
		}
	}
}

// pruneAlerts deletes the alerts created before cutoff that are not
// pending and whose story is no longer stored. An alert of a story still
// told stays, however old, so that the story does not alert again.
func (s *Store) pruneAlerts(ctx context.Context, cutoff time.Time) error {
	floor := orderNanos(cutoff)
	at, atID := int64(math.MinInt64), ""
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Read from alerts_by_created, from where the last batch ended:
		// the alerts passed over (of stories still told) are read once.
		sql, args := `SELECT a.created_ns, a.id FROM alerts a WHERE a.created_ns < $1 AND a.state <> $2
			AND NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = a.story) %s ORDER BY a.created_ns, a.id LIMIT $3`,
			[]any{floor, storage.AlertPending, pruneBatch}
		if first {
			sql = fmt.Sprintf(sql, "")
		} else {
			sql, args = fmt.Sprintf(sql, "AND (a.created_ns, a.id) > ($4, $5)"), append(args, at, atID)
		}
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var dead []string
		for rows.Next() {
			if err := rows.Scan(&at, &atID); err != nil {
				rows.Close()
				return err
			}
			dead = append(dead, atID)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(dead) > 0 {
			if _, err := s.pool.Exec(ctx, `DELETE FROM alerts a WHERE a.id = ANY($1) AND a.state <> $2
				AND NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = a.story)`, dead, storage.AlertPending); err != nil {
				return err
			}
		}
		if len(dead) < pruneBatch {
			return nil
		}
	}
}

// sweepTombs takes out the tombstones laid before cutoff, one retention
// period after their items went.
func (s *Store) sweepTombs(ctx context.Context, cutoff time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tag, err := s.pool.Exec(ctx, `DELETE FROM keys WHERE key IN (
			SELECT key FROM keys WHERE pruned < $1 AND item IS NULL LIMIT $2)`, cutoff, pruneBatch)
		if err != nil {
			return err
		}
		if tag.RowsAffected() < pruneBatch {
			return nil
		}
	}
}
