package storage

import (
	"context"
	"time"
)

// Several daemons can share one store (the PostgreSQL engine): the
// interfaces below are what such an engine offers them, each used where
// the work is decided (the poller leases feeds, the dispatcher alerts, the
// pipeline takes the story lock). The embedded engine is one process's
// and offers none of them.

// Daemon is one daemon of a fleet, as the store knows it.
type Daemon struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	// What it holds now: feeds it is polling, alerts it is delivering.
	FeedLeases  int `json:"feed_leases"`
	AlertLeases int `json:"alert_leases"`
}

// Fleet is a store several daemons share.
type Fleet interface {
	// Join names this process in the fleet and keeps its heartbeat until
	// the store is closed; leases are taken in its name.
	Join(ctx context.Context, d Daemon) error
	// Daemons lists the daemons that have joined, the latest heartbeat
	// first.
	Daemons(ctx context.Context) ([]Daemon, error)

	// LeaseFeed claims a feed for this daemon for ttl: false when another
	// daemon holds it.
	LeaseFeed(ctx context.Context, name string, ttl time.Duration) (bool, error)
	ReleaseFeed(ctx context.Context, name string) error
	// LeaseAlerts claims those of the pending alerts that no other daemon
	// holds, for ttl, and returns their ids.
	LeaseAlerts(ctx context.Context, ids []string, ttl time.Duration) ([]string, error)
	ReleaseAlerts(ctx context.Context, ids []string) error

	// LockStories waits until this daemon alone decides stories, fleet-wide,
	// until unlock; a daemon that dies lets go of it.
	LockStories(ctx context.Context) (unlock func(), err error)
	// PrintsAfter calls fn, in commit order, with the index samples of the
	// items committed after seq (by any daemon), and their seq.
	PrintsAfter(ctx context.Context, seq uint64, fn func(seq uint64, f Fingerprint) error) error
	// LastSeq is the seq of the last item committed.
	LastSeq(ctx context.Context) (uint64, error)
}
