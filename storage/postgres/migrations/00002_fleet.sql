-- +goose Up
-- Several daemons on one database: who is up, and who is doing what.

CREATE TABLE daemons (
    id        text PRIMARY KEY,
    host      text NOT NULL,
    pid       integer NOT NULL,
    version   text NOT NULL,
    started   timestamptz NOT NULL,
    heartbeat timestamptz NOT NULL
);

-- A feed being polled, or an alert being delivered, by one daemon until
-- the lease runs out: a daemon that dies holds it no longer than that.
CREATE TABLE feed_leases (
    feed  text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);

CREATE TABLE alert_leases (
    alert text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE alert_leases, feed_leases, daemons;
