-- +goose Up
-- Several daemons on one database: who is up, and who is doing what.
-- Unlogged: their writes go to no WAL, so a lease or a heartbeat costs no
-- fsync; a crash of the server empties them, which frees every lease and
-- leaves the daemons to say again that they are up, both harmless.

CREATE UNLOGGED TABLE daemons (
    id        text PRIMARY KEY,
    host      text NOT NULL,
    pid       integer NOT NULL,
    version   text NOT NULL,
    started   timestamptz NOT NULL,
    heartbeat timestamptz NOT NULL
);

-- A feed being polled, or an alert being delivered, by one daemon until
-- the lease runs out: a daemon that dies holds it no longer than that.
CREATE UNLOGGED TABLE feed_leases (
    feed  text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);

CREATE UNLOGGED TABLE alert_leases (
    alert text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE alert_leases, feed_leases, daemons;
