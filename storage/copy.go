package storage

import (
	"context"
	"time"
)

// raqib store copy moves a store from one engine to another: the source
// engine dumps everything it holds as records, the target loads them as
// they were, sequence numbers, fingerprints and pruned items' keys
// included, so that the copy lists and exports what the original did.

// Record is one stored thing: exactly one of its fields is set.
type Record struct {
	Feed  *FeedState
	Seed  *Seed // with its Fingerprint and Samples
	Story *Cluster
	Item  *Item // with its Seq, Fingerprint and Samples
	Key   *Key
	Alert *Alert
}

// Key is an identity key: the item it names, or, for an item pruned
// since, when it was pruned.
type Key struct {
	Key    string
	Item   string
	Pruned time.Time
}

// Dumper is an engine that can be copied from.
type Dumper interface {
	// Dump calls fn with every record: feeds, seeds, stories, items,
	// keys, then alerts, so that a record comes after those it names.
	Dump(ctx context.Context, fn func(Record) error) error
}

// Loader is an engine that can be copied into.
type Loader interface {
	// Load stores records as they are (an empty store only).
	Load(ctx context.Context, recs []Record) error
	// Loaded ends a copy: what comes after continues the copied
	// sequence numbers.
	Loaded(ctx context.Context) error
}
