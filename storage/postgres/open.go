// Package postgres is the PostgreSQL storage engine: one database that
// several raqib daemons share.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/raqib/raqib/config"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL engine.
type Store struct {
	pool *pgxpool.Pool
	// daemon is this process's id in the fleet tables ("" for a read
	// command, which leases nothing).
	daemon   string
	closed   chan struct{}
	beats    sync.WaitGroup
	lastBeat atomic.Int64 // unix nanos of the last heartbeat written
	Log      *slog.Logger
}

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Open connects to the database at dsn and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: storage.dsn: %w", err)
	}
	// The story lock lives on a connection: if a daemon's machine
	// vanishes without closing it, the server should notice within
	// seconds, not after the system's TCP timeout of hours. A DSN that
	// sets these keeps its own.
	for k, v := range map[string]string{
		"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
		"tcp_keepalives_count": "3", "tcp_user_timeout": "30000",
	} {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	return &Store{pool: pool, closed: make(chan struct{})}, nil
}

// migrate runs the schema migrations not yet run, under goose's own lock,
// so that daemons starting together migrate once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	// Up takes goose's lock, which a second daemon waits for in steps of
	// seconds: a schema already up to date is not worth the wait.
	if pending, err := p.HasPending(ctx); err == nil && !pending {
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			return fmt.Errorf("schema migration %s failed: %w", partial.Failed.Source.Path, partial.Err)
		}
		return fmt.Errorf("schema migrations: %w", err)
	}
	return nil
}

// Close ends the connections. A daemon of a fleet leaves it first: its
// row and its leases go, so the others take its feeds at once.
func (s *Store) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	s.beats.Wait()
	if s.daemon != "" {
		s.leave()
	}
	s.pool.Close()
	return nil
}

// Redact is a DSN fit for a message: without its password.
func Redact(dsn string) string {
	if strings.Contains(dsn, "://") {
		return config.RedactURL(dsn)
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}REDACTED")
}

var dsnPassword = regexp.MustCompile(`(password\s*=\s*)('[^']*'|\S+)`)
