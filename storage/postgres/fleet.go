package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

var _ storage.Fleet = (*Store)(nil)

// heartbeatEvery is how often a daemon says it is up.
const heartbeatEvery = 10 * time.Second

// storyLock is the advisory lock key under which stories are decided.
const storyLock = 0x72617169_62000001

// Join records the daemon and keeps its heartbeat until Close.
func (s *Store) Join(ctx context.Context, d storage.Daemon) error {
	beat := func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO daemons (id, host, pid, version, started, heartbeat) VALUES ($1, $2, $3, $4, $5, now())
			ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version, started = EXCLUDED.started, heartbeat = now()`,
			d.ID, d.Host, d.PID, d.Version, d.Started)
		return err
	}
	if err := beat(ctx); err != nil {
		return fmt.Errorf("join the fleet as %s: %w", d.ID, err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM daemons WHERE heartbeat < now() - $1 * interval '1 microsecond'`, goneFor.Microseconds()); err != nil {
		return fmt.Errorf("join the fleet as %s: %w", d.ID, err)
	}
	s.daemon = d.ID
	s.lastBeat.Store(time.Now().UnixNano())
	s.beats.Go(func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-s.closed:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
				// The whole row: a server that crashed lost it.
				if err := beat(ctx); err != nil {
					s.log().Warn("heartbeat failed", "daemon", d.ID, "error", err)
				} else {
					s.lastBeat.Store(time.Now().UnixNano())
				}
				cancel()
			}
		}
	})
	return nil
}

// goneFor is how long a daemon that stopped without leaving (killed, its
// machine down) stays listed as gone.
const goneFor = 24 * time.Hour

// leave takes the daemon out of the fleet's tables, within a short time:
// what it misses, the leases' ends and goneFor take care of.
func (s *Store) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM feed_leases WHERE owner = $1`, s.daemon)
	b.Queue(`DELETE FROM alert_leases WHERE owner = $1`, s.daemon)
	b.Queue(`DELETE FROM daemons WHERE id = $1`, s.daemon)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		s.log().Warn("leaving the fleet failed; its leases run out by themselves", "daemon", s.daemon, "error", err)
	}
}

// Daemons lists the fleet's daemons with the leases each holds now.
func (s *Store) Daemons(ctx context.Context) ([]storage.Daemon, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.host, d.pid, d.version, d.started, d.heartbeat,
		(SELECT count(*) FROM feed_leases f WHERE f.owner = d.id AND f.until > now()),
		(SELECT count(*) FROM alert_leases a WHERE a.owner = d.id AND a.until > now())
		FROM daemons d ORDER BY d.heartbeat DESC, d.id`)
	if err != nil {
		return nil, fmt.Errorf("list daemons: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Daemon, error) {
		var d storage.Daemon
		err := r.Scan(&d.ID, &d.Host, &d.PID, &d.Version, &d.Started, &d.Heartbeat, &d.FeedLeases, &d.AlertLeases)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list daemons: %w", err)
	}
	return out, nil
}

// LeaseFeed takes the feed's lease if it is free, run out, or already
// this daemon's. Contenders wait on the lease's row for each other's
// statement only, not for each other's polls.
func (s *Store) LeaseFeed(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	if s.daemon == "" {
		return false, errors.New("lease feed: this process has not joined the fleet")
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO feed_leases (feed, owner, until) VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (feed) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
		WHERE feed_leases.until < now() OR feed_leases.owner = EXCLUDED.owner
		RETURNING feed`, name, s.daemon, ttl.Microseconds()).Scan(new(string))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease feed %s: %w", name, err)
	}
	return true, nil
}

// ReleaseFeed gives the feed's lease back, if this daemon still holds it.
func (s *Store) ReleaseFeed(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM feed_leases WHERE feed = $1 AND owner = $2`, name, s.daemon); err != nil {
		return fmt.Errorf("release feed %s: %w", name, err)
	}
	return nil
}

// LeaseAlerts leases those of the alerts that are still pending and held
// by no other daemon. An alert whose row another daemon is leasing or
// updating at this moment is skipped (SKIP LOCKED), not waited for: that
// daemon is about to send it.
func (s *Store) LeaseAlerts(ctx context.Context, ids []string, ttl time.Duration) ([]string, error) {
	if s.daemon == "" {
		return nil, errors.New("lease alerts: this process has not joined the fleet")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO alert_leases (alert, owner, until)
		SELECT id, $2, now() + $3 * interval '1 microsecond' FROM alerts WHERE id = ANY($1) AND state = 'pending' FOR UPDATE SKIP LOCKED
		ON CONFLICT (alert) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
		WHERE alert_leases.until < now() OR alert_leases.owner = EXCLUDED.owner
		RETURNING alert`, ids, s.daemon, ttl.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("lease %d alerts: %w", len(ids), err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("lease %d alerts: %w", len(ids), err)
	}
	return got, nil
}

// ReleaseAlerts gives back this daemon's leases of the alerts.
func (s *Store) ReleaseAlerts(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM alert_leases WHERE alert = ANY($1) AND owner = $2`, ids, s.daemon); err != nil {
		return fmt.Errorf("release %d alerts: %w", len(ids), err)
	}
	return nil
}

// LockStories holds a session advisory lock on a connection of its own:
// the lock goes with the connection when the daemon dies.
func (s *Store) LockStories(ctx context.Context) (func(), error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock stories: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(storyLock)); err != nil {
		// A wait cut short leaves the connection in doubt: close it.
		conn.Hijack().Close(context.Background())
		return nil, fmt.Errorf("lock stories: %w", err)
	}
	return func() {
		// An unlock that cannot reach the server in time closes the
		// connection instead, which unlocks too.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(storyLock)); err != nil {
			conn.Hijack().Close(ctx)
			return
		}
		conn.Release()
	}, nil
}

// PrintsAfter reads the index samples of the items after seq, in order.
func (s *Store) PrintsAfter(ctx context.Context, seq uint64, fn func(uint64, storage.Fingerprint) error) error {
	rows, err := s.pool.Query(ctx, `SELECT seq, id, fetched_ns, samples FROM items WHERE seq > $1 AND samples IS NOT NULL ORDER BY seq`, int64(seq))
	if err != nil {
		return fmt.Errorf("read items after %d: %w", seq, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n       int64
			id      string
			fetched int64
			samples []byte
		)
		if err := rows.Scan(&n, &id, &fetched, &samples); err != nil {
			return fmt.Errorf("read items after %d: %w", seq, err)
		}
		if err := fn(uint64(n), storage.Fingerprint{DocID: []byte(id), Date: time.Unix(0, fetched), Data: samples}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read items after %d: %w", seq, err)
	}
	return nil
}

// LastSeq is the last item's seq (0 for none).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM items`).Scan(&n); err != nil {
		return 0, fmt.Errorf("last item: %w", err)
	}
	return uint64(n), nil
}

// Held counts the leases this daemon holds now.
func (s *Store) Held(ctx context.Context) (feeds, alerts int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM feed_leases WHERE owner = $1 AND until > now()),
		(SELECT count(*) FROM alert_leases WHERE owner = $1 AND until > now())`, s.daemon).Scan(&feeds, &alerts)
	if err != nil {
		return 0, 0, fmt.Errorf("count leases: %w", err)
	}
	return feeds, alerts, nil
}

// Healthy says whether this daemon's heartbeat reaches the database: a
// daemon that cannot say it is up is taken for gone by the others.
func (s *Store) Healthy() error {
	if s.daemon == "" {
		return nil
	}
	if last := time.Unix(0, s.lastBeat.Load()); time.Since(last) > 3*heartbeatEvery {
		return fmt.Errorf("no heartbeat reached the database since %s", last.Format(time.RFC3339))
	}
	return nil
}
