// Package storage keeps raqib's state: feeds, items, story clusters, seed
// documents, near-duplicate fingerprints and the alert outbox.
//
// The pipeline depends on the Store interface only; Bolt is the embedded
// default. A second backend (PostgreSQL, for several daemons sharing one feed
// set) implements the same interface.
package storage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/textnorm"
)

// ErrInUse is returned when another process holds the database.
var ErrInUse = errors.New("database is in use by another raqib process")

// Pruned is what LookupKeys returns for an item that was stored and has
// been pruned: still known, so that a feed listing it does not bring it
// back, but no longer readable.
const Pruned = "(pruned)"

// ErrStop, returned by a listing's callback, ends the listing early.
var ErrStop = errors.New("stop")

// ErrNotFound is returned by lookups of things that are not stored.
var ErrNotFound = errors.New("not found")

// FeedState is what raqib remembers about a feed between polls.
type FeedState struct {
	Name string `json:"name"`
	// URL is where the feed is fetched now; a permanent redirect changes it.
	URL string `json:"url"`
	// ConfiguredURL is the URL in the configuration when URL was set, so a
	// user who edits the configuration is obeyed over an old redirect.
	ConfiguredURL string    `json:"configured_url"`
	ETag          string    `json:"etag,omitempty"`
	LastModified  string    `json:"last_modified,omitempty"`
	BodyHash      string    `json:"body_hash,omitempty"`
	LastPoll      time.Time `json:"last_poll,omitzero"`
	// PolledBy is the daemon of a fleet that made the last poll.
	PolledBy    string    `json:"polled_by,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	// RetryAfter is the earliest next poll, after backoff or Retry-After.
	RetryAfter time.Time `json:"retry_after,omitzero"`
	// Disabled holds the reason the feed is no longer polled (410 Gone).
	Disabled string `json:"disabled,omitempty"`
	Items    int    `json:"items"`
	Polls    int    `json:"polls"`
	// FetchMS is how long the server took to answer the last fetch, in
	// milliseconds (raqib's own waits for a connection or a worker left
	// out): a cycle starts the slowest feeds first.
	FetchMS int64 `json:"fetch_ms,omitempty"`
}

// Media is a picture or an attachment of an item.
type Media struct {
	URL    string `json:"url"`
	Type   string `json:"type,omitempty"`
	Length int64  `json:"length,omitempty"`
	// Image marks the item's picture (a thumbnail, the feed's image of
	// the item), as against an attachment that may also be an image.
	Image bool `json:"image,omitempty"`
}

// Item is one stored news item.
type Item struct {
	ID      string   `json:"id"`
	Seq     uint64   `json:"seq"`
	Feed    string   `json:"feed"`
	GUID    string   `json:"guid,omitempty"`
	URL     string   `json:"url,omitempty"`
	Title   string   `json:"title"`
	Content string   `json:"content,omitempty"`
	Summary string   `json:"summary,omitempty"`
	Authors []string `json:"authors,omitempty"`
	// Media are the item's picture and attachments (photos, audio,
	// video), as its feed gave them.
	Media     []Media   `json:"media,omitempty"`
	Language  string    `json:"language,omitempty"`
	Published time.Time `json:"published,omitzero"`
	Updated   time.Time `json:"updated,omitzero"`
	Fetched   time.Time `json:"fetched"`

	// Keys are the exact-identity keys (guid, canonical URL, content hash).
	Keys []string `json:"keys"`

	// Story clustering: Cluster is the story id (the first item's id, or
	// seed:FILE); DuplicateOf is set when this item repeats an earlier one.
	Cluster     string  `json:"cluster"`
	DuplicateOf string  `json:"duplicate_of,omitempty"`
	Similarity  float64 `json:"similarity,omitempty"`

	// Rules are the alert rules this item matched.
	Rules []string `json:"rules,omitempty"`

	// Reason says why the item was or was not merged into an earlier
	// story; Follows is the earlier item whose event it develops (set
	// when it is news about the same event, not a duplicate).
	Reason  string `json:"reason,omitempty"`
	Follows string `json:"follows,omitempty"`

	// TextHash identifies the normalised text; an item whose text is already
	// stored is an exact copy (a duplicate, stored), not the same item.
	TextHash string `json:"text_hash,omitempty"`

	// Fingerprint is the near-duplicate index's compact form of the text;
	// Samples the part of it the in-memory index holds, stored apart so
	// that start-up reads only them.
	Fingerprint []byte `json:"-"`
	Samples     []byte `json:"-"`
}

// PlainText is the text an item is compared and matched on: its content
// as text, else its summary's.
func (it *Item) PlainText() string { return PlainText(it.Content, it.Summary) }

// PlainText is an item's text from its content and summary (HTML).
func PlainText(content, summary string) string {
	if text := textnorm.HTMLToText(content); strings.TrimSpace(text) != "" {
		return text
	}
	return textnorm.HTMLToText(summary)
}

// Date is the item's date for ordering: published, else updated, else fetched.
func (it *Item) Date() time.Time {
	switch {
	case !it.Published.IsZero():
		return it.Published
	case !it.Updated.IsZero():
		return it.Updated
	}
	return it.Fetched
}

// Seed is one document of the seed corpus.
type Seed struct {
	Name     string    `json:"name"` // file name, the id is "seed:"+Name
	Date     time.Time `json:"date,omitzero"`
	Text     string    `json:"text"`
	Hash     string    `json:"hash"`
	Imported time.Time `json:"imported"`

	Fingerprint []byte `json:"-"`
	Samples     []byte `json:"-"`
	// Story is the story the seed starts, stored with it the first time.
	Story *Cluster `json:"-"`
}

// ID is the seed's story id.
func (s *Seed) ID() string { return "seed:" + s.Name }

// Cluster is a story: the items (and seed) that tell it.
type Cluster struct {
	ID      string    `json:"id"`
	Size    int       `json:"size"`
	Feeds   []string  `json:"feeds"`
	Title   string    `json:"title"`
	First   time.Time `json:"first"`
	Updated time.Time `json:"updated"`
	// A story's thread: Follows is the story this one develops (an
	// update, a reaction), its thread's first; that story lists its
	// developments, oldest first.
	Follows      string   `json:"follows,omitempty"`
	Developments []string `json:"developments,omitempty"`
}

// Alert is one notification to send: a rule matched a story, for a channel.
type Alert struct {
	ID        string    `json:"id"` // stable idempotency key: rule, story, channel
	Rule      string    `json:"rule"`
	Channel   string    `json:"channel"`
	ItemID    string    `json:"item_id"`
	Cluster   string    `json:"cluster"`
	State     string    `json:"state"` // pending, delivered, failed
	Attempts  int       `json:"attempts"`
	NextTry   time.Time `json:"next_try,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created"`
	Delivered time.Time `json:"delivered,omitzero"`
	// Digest is when a digest alert is due; it is sent with the others due then.
	Digest time.Time `json:"digest,omitzero"`
	// Batch is the digest message this alert went out in, fixed at the
	// first attempt so that retries carry the same idempotency key.
	Batch string `json:"batch,omitempty"`
}

// Alert states.
const (
	AlertPending   = "pending"
	AlertDelivered = "delivered"
	AlertFailed    = "failed"
)

// Fingerprint is a stored document's near-duplicate form, for rebuilding the
// in-memory index at start without re-reading every item.
type Fingerprint struct {
	DocID []byte // valid during the callback only
	Date  time.Time
	Data  []byte
}

// Batch is everything one feed fetch changes, committed atomically: the items
// it brought, their clusters, the alerts they raise and the feed's new state.
type Batch struct {
	Feed   *FeedState
	Items  []*Item
	Alerts []*Alert
	// Developments puts new stories of the batch into earlier threads.
	// One whose story was not stored (its item was skipped) is left out.
	Developments []Development
}

// CommitResult says which of a batch's items were new.
type CommitResult struct {
	Stored  []*Item
	Skipped []*Item // already stored under one of their keys
}

// ListOptions selects items, newest first. It is data, so that every
// engine reads it the same way.
type ListOptions struct {
	Limit          int // 0: all
	WithDuplicates bool
	Feed           string
	Rule           string
	Since          time.Time
	// Query, when set, filters further, before Limit counts: a listing
	// reads only as far back as it must.
	Query rules.Node
	// Before, when set, starts the listing after that place in its order:
	// the cursor (Store.Cursor) of the last item of the page before.
	Before string
}

// ErrBadCursor is a listing's start that no listing gave.
var ErrBadCursor = errors.New("not a cursor")

// Keep reports whether a listing shows it, Limit and Before aside.
func (o *ListOptions) Keep(it *Item) bool {
	return (o.WithDuplicates || it.DuplicateOf == "") && (o.Feed == "" || it.Feed == o.Feed) &&
		(o.Rule == "" || slices.Contains(it.Rules, o.Rule)) && o.Matches(it)
}

// Matches reports whether an item matches the listing's query (any item,
// without one). The query reads the title, the summary and the content as
// the rules do.
func (o *ListOptions) Matches(it *Item) bool {
	return o.Query == nil || rules.NewText(it.Title, textnorm.HTMLToText(it.Summary+" "+it.Content)).Matches(o.Query)
}

// A story is its first item's id, or seed:NAME: the seed it repeats.
func IsSeedStory(story string) bool { return strings.HasPrefix(story, "seed:") }

// Development is a story that follows an earlier one, recorded in the
// first story of the earlier one's thread.
type Development struct {
	Story  string
	Thread string
}

// FeedDay is how many items a feed brought in a day.
type FeedDay struct {
	Feed  string
	Day   time.Time // midnight UTC
	Items int
}

// DayOf is the day FeedDays counts a time in: whole UTC days since 1970,
// the times before it in day 0. Both engines key their counts by it.
func DayOf(t time.Time) uint32 {
	if d := t.Unix() / 86400; d > 0 {
		return uint32(d)
	}
	return 0
}

// DayStart is a day's midnight, UTC.
func DayStart(day uint32) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// AlertListOptions selects alerts, newest first.
type AlertListOptions struct {
	State string // pending, delivered, failed; "" for all
	Limit int    // 0: all
	// Before, when set, starts after that place: the Next of the page
	// before.
	Before string
}

// Store is the storage interface the pipeline uses.
type Store interface {
	Close() error

	Feed(ctx context.Context, name string) (*FeedState, error)
	Feeds(ctx context.Context) ([]*FeedState, error)
	PutFeed(ctx context.Context, f *FeedState) error
	// PutFeeds saves several feeds' states in one transaction.
	PutFeeds(ctx context.Context, fs []*FeedState) error

	// LookupKeys returns the id of a stored item holding any of keys,
	// Pruned for an item pruned since, or "".
	// Text hashes are looked up as "text:"+hash.
	LookupKeys(ctx context.Context, keys []string) (string, error)
	// Commit stores a batch in one transaction; items with a key already
	// stored are skipped, never stored twice.
	Commit(ctx context.Context, b *Batch) (*CommitResult, error)
	Item(ctx context.Context, id string) (*Item, error)
	// ItemCluster returns the story a stored item belongs to.
	ItemCluster(ctx context.Context, id string) (string, error)
	Items(ctx context.Context, opt ListOptions) ([]*Item, error)
	// Cursor is where a listing that ends with it goes on from
	// (ListOptions.Before): a token that only the engine reads.
	Cursor(it *Item) string
	ItemCount(ctx context.Context) (int, error)

	Cluster(ctx context.Context, id string) (*Cluster, error)
	// Clusters lists the stories updated since, the largest first.
	Clusters(ctx context.Context, since time.Time, limit int) ([]*Cluster, error)
	// LatestClusters lists the stories updated since, the last updated
	// first (of one time, the greatest id first).
	LatestClusters(ctx context.Context, since time.Time, limit int) ([]*Cluster, error)
	// StoryItems lists, newest first, the items dated since of each story.
	StoryItems(ctx context.Context, since time.Time, stories []string) (map[string][]*Item, error)
	// StoryRules lists the rules each story's items matched, sorted; a
	// story whose items matched none is left out.
	StoryRules(ctx context.Context, stories []string) (map[string][]string, error)
	// SplitItem makes a stored item a story of its own, as the desk says
	// it is: it is saved as given (its Cluster its own id, no longer a
	// duplicate), taken out of the story it was in, and alerts are queued
	// (those queued before are kept). ErrNotFound when no such item.
	SplitItem(ctx context.Context, it *Item, alerts []*Alert) error
	// RuleStories lists opt.Rule's stream: for each story (but a seed's:
	// the desk knows it), its first item to match the rule (of opt.Feed, dated since opt.Since), newest first;
	// opt.Query filters those, and opt.Limit counts what is left.
	RuleStories(ctx context.Context, opt ListOptions) ([]*Item, error)

	// FeedDays counts the items each feed brought a day (a UTC day, by
	// when raqib first saw them), from since's day on. Counts outlive the
	// items: pruning takes out only the days before its cutoff's.
	FeedDays(ctx context.Context, since time.Time) ([]FeedDay, error)

	// PutSeeds stores seeds whose name or text are new; it returns how many.
	PutSeeds(ctx context.Context, seeds []*Seed) (int, error)
	Seeds(ctx context.Context) ([]*Seed, error)
	Seed(ctx context.Context, name string) (*Seed, error)

	// Fingerprints calls fn with the index samples of every stored document
	// (seeds, and items first seen after since).
	Fingerprints(ctx context.Context, since time.Time, fn func(Fingerprint) error) error
	// Fingerprint returns one stored document's fingerprint.
	Fingerprint(ctx context.Context, docID string) ([]byte, error)
	// RecentFingerprints calls fn with the fingerprints of the stored
	// items that start a story (not seeds, not duplicates), newest first,
	// until fn returns ErrStop.
	// The data is valid during the call only.
	RecentFingerprints(ctx context.Context, fn func(data []byte) error) error

	// Prune deletes items first seen before cutoff, with their fingerprints,
	// except items that pending alerts still need. Their identity keys stay
	// (LookupKeys gives Pruned) for one retention period more, so a feed
	// that still lists an old item does not bring it back as new: a prune
	// takes out the tombstones that prunes laid before its cutoff.
	// Stories whose last item came before cutoff go too, with their alerts
	// that are not pending. Seeds are never pruned. It returns how many
	// items went.
	Prune(ctx context.Context, cutoff time.Time) (int, error)

	// Alerts lists alerts in a state ("" for all).
	Alerts(ctx context.Context, state string) ([]*Alert, error)
	// ListAlerts lists alerts newest first, a page at a time.
	ListAlerts(ctx context.Context, opt AlertListOptions) (alerts []*Alert, next string, err error)
	Alert(ctx context.Context, id string) (*Alert, error)
	UpdateAlert(ctx context.Context, a *Alert) error
	// UpdateAlerts saves several alerts in one transaction.
	UpdateAlerts(ctx context.Context, as []*Alert) error
}
