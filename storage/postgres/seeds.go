package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

// seedLock is the transaction advisory lock under which seeds are
// imported: two daemons importing one corpus at once count each seed
// once.
const seedLock = 0x72617169_62000002

// PutSeeds stores the seeds whose name or text (hash) are new, in one
// transaction: a seed's fingerprint when it has one, its story the first
// time it is stored.
func (s *Store) PutSeeds(ctx context.Context, seeds []*storage.Seed) (int, error) {
	if len(seeds) == 0 {
		return 0, nil
	}
	added := 0
	err := retry(ctx, func() error {
		added = 0
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(seedLock)); err != nil {
				return err
			}
			names := make([]string, len(seeds))
			for i, sd := range seeds {
				names[i] = sd.Name
			}
			rows, err := tx.Query(ctx, `SELECT name, doc FROM seeds WHERE name = ANY($1)`, names)
			if err != nil {
				return err
			}
			hashes := map[string]string{} // the stored seeds' hashes
			for rows.Next() {
				var (
					name string
					raw  []byte
				)
				if err := rows.Scan(&name, &raw); err != nil {
					rows.Close()
					return err
				}
				old, err := decodeJSON[storage.Seed](raw)
				if err != nil {
					rows.Close()
					return fmt.Errorf("seed %s: %w", name, err)
				}
				hashes[name] = old.Hash
			}
			if err := rows.Err(); err != nil {
				return err
			}
			b := &pgx.Batch{}
			for _, sd := range seeds {
				hash, known := hashes[sd.Name]
				if known && hash == sd.Hash {
					continue
				}
				raw, err := encodeJSON(sd)
				if err != nil {
					return fmt.Errorf("seed %s: %w", sd.Name, err)
				}
				var samples []byte
				if sd.Fingerprint != nil {
					samples = sd.Samples
					if samples == nil {
						samples = []byte{}
					}
				}
				// A seed given no fingerprint keeps the one it had.
				b.Queue(`INSERT INTO seeds (name, doc, fingerprint, samples) VALUES ($1, $2, $3, $4)
					ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc,
						fingerprint = coalesce(EXCLUDED.fingerprint, seeds.fingerprint),
						samples = CASE WHEN EXCLUDED.fingerprint IS NULL THEN seeds.samples ELSE EXCLUDED.samples END`,
					sd.Name, raw, sd.Fingerprint, samples)
				if !known && sd.Story != nil {
					if err := queueStory(b, sd.Story); err != nil {
						return err
					}
				}
				hashes[sd.Name] = sd.Hash
				added++
			}
			return tx.SendBatch(ctx, b).Close()
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store %d seeds: %w", len(seeds), err)
	}
	return added, nil
}

func (s *Store) Seeds(ctx context.Context) ([]*storage.Seed, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, doc FROM seeds ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list seeds: %w", err)
	}
	defer rows.Close()
	var out []*storage.Seed
	for rows.Next() {
		var (
			name string
			raw  []byte
		)
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, fmt.Errorf("list seeds: %w", err)
		}
		sd, err := decodeJSON[storage.Seed](raw)
		if err != nil {
			return nil, fmt.Errorf("list seeds: seed %s: %w", name, err)
		}
		out = append(out, sd)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list seeds: %w", err)
	}
	return out, nil
}

func (s *Store) Seed(ctx context.Context, name string) (*storage.Seed, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM seeds WHERE name = $1`, name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("seed %s: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load seed %s: %w", name, err)
	}
	sd, err := decodeJSON[storage.Seed](raw)
	if err != nil {
		return nil, fmt.Errorf("load seed %s: %w", name, err)
	}
	return sd, nil
}

// Fingerprints streams the index samples of the items first seen since
// (in the order of their seq), then of the seeds (by name). A callback's
// ErrStop ends it without an error.
func (s *Store) Fingerprints(ctx context.Context, since time.Time, fn func(storage.Fingerprint) error) error {
	err := s.fingerprints(ctx, since, fn)
	if errors.Is(err, storage.ErrStop) {
		return nil
	}
	return err
}

// callbackError is a callback's error, given back as it is.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

func (s *Store) fingerprints(ctx context.Context, since time.Time, fn func(storage.Fingerprint) error) error {
	sql, args := `SELECT id, fetched_ns, samples FROM items WHERE samples IS NOT NULL ORDER BY seq`, []any{}
	if !since.IsZero() {
		sql, args = `SELECT id, fetched_ns, samples FROM items WHERE samples IS NOT NULL AND fetched_ns >= $1 ORDER BY seq`, []any{since.UnixNano()}
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("read the items' index samples: %w", err)
	}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			// The raw values are valid until the next row: so is DocID.
			v := rows.RawValues()
			var fetched int64
			if err := rows.Scan(nil, &fetched, nil); err != nil {
				return err
			}
			date := seenAt(fetched)
			if date.Before(since) {
				continue
			}
			if err := fn(storage.Fingerprint{DocID: v[0], Date: date, Data: v[2]}); err != nil {
				return callbackError{err}
			}
		}
		return rows.Err()
	}()
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	if err != nil {
		return fmt.Errorf("read the items' index samples: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT 'seed:' || name, samples FROM seeds WHERE samples IS NOT NULL ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read the seeds' index samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v := rows.RawValues()
		if err := fn(storage.Fingerprint{DocID: v[0], Data: v[1]}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the seeds' index samples: %w", err)
	}
	return nil
}

// recentPage is how many fingerprints RecentFingerprints reads at a time:
// its reader stops when it has read enough.
const recentPage = 1000

// RecentFingerprints reads the fingerprints of the items that start a
// story, newest first, a page at a time, until fn returns ErrStop.
func (s *Store) RecentFingerprints(ctx context.Context, fn func(data []byte) error) error {
	from := int64(math.MaxInt64)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read recent fingerprints: %w", err)
		}
		rows, err := s.pool.Query(ctx, `SELECT seq, fingerprint FROM items
			WHERE seq < $1 AND story = id AND fingerprint IS NOT NULL ORDER BY seq DESC LIMIT $2`, from, recentPage)
		if err != nil {
			return fmt.Errorf("read recent fingerprints: %w", err)
		}
		var (
			seqs   []int64
			prints [][]byte
		)
		for rows.Next() {
			var (
				seq int64
				fp  []byte
			)
			if err := rows.Scan(&seq, &fp); err != nil {
				rows.Close()
				return fmt.Errorf("read recent fingerprints: %w", err)
			}
			seqs, prints = append(seqs, seq), append(prints, fp)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read recent fingerprints: %w", err)
		}
		for _, fp := range prints {
			if err := fn(fp); errors.Is(err, storage.ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if len(seqs) < recentPage {
			return nil
		}
		from = seqs[len(seqs)-1]
	}
}

// Fingerprint returns a stored item's or seed's fingerprint.
func (s *Store) Fingerprint(ctx context.Context, docID string) ([]byte, error) {
	var fp []byte
	var err error
	if name, ok := strings.CutPrefix(docID, "seed:"); ok {
		err = s.pool.QueryRow(ctx, `SELECT fingerprint FROM seeds WHERE name = $1`, name).Scan(&fp)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT fingerprint FROM items WHERE id = $1`, docID).Scan(&fp)
	}
	if errors.Is(err, pgx.ErrNoRows) || err == nil && fp == nil {
		return nil, fmt.Errorf("fingerprint of %s: %w", docID, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load the fingerprint of %s: %w", docID, err)
	}
	return fp, nil
}
