package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/parallel"
	"github.com/raqib/raqib/storage"
)

func (s *Store) LookupKeys(ctx context.Context, keys []string) (string, error) {
	if len(keys) == 0 {
		return "", nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key, item FROM keys WHERE key = ANY($1)`, keys)
	if err != nil {
		return "", fmt.Errorf("look up keys: %w", err)
	}
	held := map[string]*string{} // key -> item id, nil for a pruned item's
	for rows.Next() {
		var (
			key  string
			item *string
		)
		if err := rows.Scan(&key, &item); err != nil {
			rows.Close()
			return "", fmt.Errorf("look up keys: %w", err)
		}
		held[key] = item
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("look up keys: %w", err)
	}
	for _, k := range keys { // the first key held, as the keys are given
		if item, ok := held[k]; ok {
			if item == nil {
				return storage.Pruned, nil
			}
			return *item, nil
		}
	}
	return "", nil
}

// Commit stores a batch in one transaction of three round trips: one
// begins it, locks the stories it adds to (in the order of their ids)
// and reads which of its keys and ids are stored and its sequence
// numbers; one writes; one commits. Another daemon may commit the same
// items at the same time: the inserts of ids and keys do nothing on a
// conflict, and when they did less than they should the transaction is
// rolled back and tried again, its reads then seeing what the other
// stored, so that each item is stored once and neither fails.
// Sequence numbers are drawn for every item before it is known which are
// new: a skipped item leaves a gap (seq orders items, it does not count
// them).
func (s *Store) Commit(ctx context.Context, batch *storage.Batch) (*storage.CommitResult, error) {
	var (
		res       *storage.CommitResult
		feedItems int
	)
	seqs := make([]uint64, len(batch.Items))
	for i, it := range batch.Items {
		seqs[i] = it.Seq
	}
	err := retry(ctx, func() (err error) {
		for i, it := range batch.Items { // as given: a try lost to a race may have set some
			it.Seq = seqs[i]
		}
		res, feedItems, err = s.commit(ctx, batch)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if batch.Feed != nil {
		batch.Feed.Items = feedItems
	}
	return res, nil
}

// commit is one try of Commit. It returns the feed's item count as saved;
// batch.Feed is not changed.
func (s *Store) commit(ctx context.Context, batch *storage.Batch) (*storage.CommitResult, int, error) {
	var ids, keys, storyIDs []string
	for _, it := range batch.Items {
		ids = append(ids, it.ID)
		keys = append(keys, it.Keys...)
		if it.TextHash != "" {
			keys = append(keys, "text:"+it.TextHash)
		}
		storyIDs = append(storyIDs, it.Cluster)
	}
	for _, d := range batch.Developments {
		storyIDs = append(storyIDs, d.Story, d.Thread)
	}
	slices.Sort(storyIDs)
	storyIDs = slices.Compact(storyIDs)

	reads := &pgx.Batch{}
	reads.BeginTx(pgx.TxOptions{})
	// The stories first: a commit that waits for another's lock reads
	// the keys once that one has committed.
	reads.Queue(`SELECT id, doc FROM stories WHERE id = ANY($1) ORDER BY id FOR UPDATE`, storyIDs)
	reads.Queue(`SELECT key FROM keys WHERE key = ANY($1)`, keys)
	reads.Queue(`SELECT id FROM items WHERE id = ANY($1)`, ids)
	reads.Queue(`SELECT nextval('item_seq') FROM generate_series(1, $1)`, len(batch.Items))
	br := s.pool.SendBatch(ctx, reads)
	tx := br.Tx()
	defer rollback(tx)
	stories := map[string]*storage.Cluster{}
	taken := map[string]bool{} // keys and ids held
	var seqs []int64
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := eachRow(br, func(r pgx.Rows) error {
			var (
				id  string
				raw []byte
			)
			if err := r.Scan(&id, &raw); err != nil {
				return err
			}
			c, err := decodeJSON[storage.Cluster](raw)
			if err != nil {
				return fmt.Errorf("story %s: %w", id, err)
			}
			stories[id] = c
			return nil
		}); err != nil {
			return err
		}
		for _, prefix := range []string{"key:", "id:"} {
			if err := eachRow(br, func(r pgx.Rows) error {
				var k string
				err := r.Scan(&k)
				taken[prefix+k] = true
				return err
			}); err != nil {
				return err
			}
		}
		return eachRow(br, func(r pgx.Rows) error {
			var n int64
			err := r.Scan(&n)
			seqs = append(seqs, n)
			return err
		})
	}()
	if err := closeBatch(br, err); err != nil {
		return nil, 0, err
	}
	slices.Sort(seqs)

	// What to store, as the embedded engine decides it: an item is
	// skipped when a key or its id is held, by a stored item or one
	// stored before it in the batch.
	res := &storage.CommitResult{}
	stored := map[string]bool{}
	created, changed := map[string]bool{}, map[string]bool{}
	var keyRows, keyItems, textRows, textItems []string
	var ruleNames, ruleStories []string
	var ruleDates, ruleSeqs []int64
	for _, it := range batch.Items {
		skip := taken["id:"+it.ID]
		for _, k := range it.Keys {
			skip = skip || taken["key:"+k]
		}
		if skip {
			res.Skipped = append(res.Skipped, it)
			continue
		}
		if len(seqs) == 0 {
			return nil, 0, errors.New("the sequence gave too few numbers")
		}
		it.Seq, seqs = uint64(seqs[0]), seqs[1:]
		taken["id:"+it.ID] = true
		for _, k := range dedupe(it.Keys) {
			taken["key:"+k] = true
			keyRows, keyItems = append(keyRows, k), append(keyItems, it.ID)
		}
		if tk := "text:" + it.TextHash; it.TextHash != "" && !taken["key:"+tk] {
			taken["key:"+tk] = true
			textRows, textItems = append(textRows, tk), append(textItems, it.ID)
		}
		for _, r := range dedupe(it.Rules) {
			ruleNames, ruleStories = append(ruleNames, r), append(ruleStories, it.Cluster)
			ruleDates, ruleSeqs = append(ruleDates, it.Date().UnixNano()), append(ruleSeqs, int64(it.Seq))
		}
		addToCluster(stories, created, it)
		changed[it.Cluster] = true
		stored[it.ID] = true
		res.Stored = append(res.Stored, it)
	}
	for _, d := range batch.Developments {
		if !stored[d.Story] {
			continue
		}
		thread := stories[d.Thread]
		if thread == nil {
			continue // a thread no longer stored
		}
		c := stories[d.Story]
		if c == nil {
			return nil, 0, fmt.Errorf("development %s of %s: story %s: %w", d.Story, d.Thread, d.Story, storage.ErrNotFound)
		}
		c.Follows = thread.ID
		if !slices.Contains(thread.Developments, c.ID) {
			thread.Developments = append(thread.Developments, c.ID)
		}
		changed[c.ID], changed[thread.ID] = true, true
	}

	writes := &pgx.Batch{}
	var checks []int64 // how many rows each write must change; -1: any
	queue := func(want int, sql string, args ...any) {
		writes.Queue(sql, args...)
		checks = append(checks, int64(want))
	}
	if len(res.Stored) > 0 {
		cols, err := itemColumns(res.Stored)
		if err != nil {
			return nil, 0, err
		}
		queue(len(res.Stored), `INSERT INTO items (seq, id, feed, story, duplicate, date_ns, fetched_ns, doc, fingerprint, samples)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[], $8::bytea[], $9::bytea[], $10::bytea[])
			ON CONFLICT (id) DO NOTHING`, cols...)
	}
	if len(res.Stored) > 0 {
		feeds, days, counts := feedDays(res.Stored)
		queue(len(feeds), `INSERT INTO feed_days (feed, day, items) SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
			ON CONFLICT (feed, day) DO UPDATE SET items = feed_days.items + EXCLUDED.items`, feeds, days, counts)
	}
	if len(keyRows) > 0 {
		sortBy(keyRows, keyItems)
		queue(len(keyRows), `INSERT INTO keys (key, item) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO NOTHING`, keyRows, keyItems)
	}
	if len(textRows) > 0 {
		// A text another commit gave an item first stays that item's.
		sortBy(textRows, textItems)
		queue(-1, `INSERT INTO keys (key, item) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO NOTHING`, textRows, textItems)
	}
	if len(ruleNames) > 0 {
		queue(len(ruleNames), `INSERT INTO item_rules (rule, date_ns, seq, story) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])`,
			ruleNames, ruleDates, ruleSeqs, ruleStories)
	}
	var upd, ins storyRows
	for _, id := range slices.Sorted(maps.Keys(changed)) {
		rows := &upd
		if created[id] {
			rows = &ins
		}
		if err := rows.add(stories[id]); err != nil {
			return nil, 0, err
		}
	}
	if len(upd.ids) > 0 {
		queue(len(upd.ids), `UPDATE stories AS s SET size = u.size, updated_ns = u.updated_ns, doc = u.doc
			FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bytea[]) AS u (id, size, updated_ns, doc) WHERE s.id = u.id`,
			upd.ids, upd.sizes, upd.updated, upd.docs)
	}
	if len(ins.ids) > 0 {
		queue(len(ins.ids), `INSERT INTO stories (id, size, updated_ns, doc) SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bytea[])
			ON CONFLICT (id) DO NOTHING`, ins.ids, ins.sizes, ins.updated, ins.docs)
	}
	var alerts []*storage.Alert
	seen := map[string]bool{}
	for _, a := range batch.Alerts {
		if stored[a.ItemID] && !seen[a.ID] { // the first of an id; none of a skipped item
			seen[a.ID] = true
			alerts = append(alerts, a)
		}
	}
	if len(alerts) > 0 {
		cols, err := alertColumns(alerts)
		if err != nil {
			return nil, 0, err
		}
		// An alert whose id is stored (this story alerted already) is not.
		queue(-1, `INSERT INTO alerts (id, state, created_ns, item, story, doc)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[]) ON CONFLICT (id) DO NOTHING`, cols...)
	}
	feedItems := 0
	if batch.Feed != nil {
		f := *batch.Feed
		f.Items += len(res.Stored)
		feedItems = f.Items
		raw, err := encodeJSON(&f)
		if err != nil {
			return nil, 0, fmt.Errorf("feed %s: %w", f.Name, err)
		}
		queue(-1, putFeedSQL, f.Name, raw)
	}
	if len(checks) > 0 {
		wr := tx.SendBatch(ctx, writes)
		err := func() error {
			for _, want := range checks {
				tag, err := wr.Exec()
				if err != nil {
					return err
				}
				if want >= 0 && tag.RowsAffected() != want {
					return errRace
				}
			}
			return nil
		}()
		if err := closeBatch(wr, err); err != nil {
			return nil, 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, 0, err
	}
	return res, feedItems, nil
}

// addToCluster counts a stored item in its story, which it starts when
// the story is not stored (created).
func addToCluster(stories map[string]*storage.Cluster, created map[string]bool, it *storage.Item) {
	c := stories[it.Cluster]
	if c == nil {
		c = &storage.Cluster{ID: it.Cluster, Title: it.Title, First: it.Date()}
		stories[it.Cluster], created[it.Cluster] = c, true
	}
	c.Size++
	if !slices.Contains(c.Feeds, it.Feed) {
		c.Feeds = append(c.Feeds, it.Feed)
	}
	c.Updated = it.Fetched
}

// storyRows are stories as the columns of a write.
type storyRows struct {
	ids     []string
	sizes   []int32
	updated []int64
	docs    [][]byte
}

func (r *storyRows) add(c *storage.Cluster) error {
	raw, err := encodeJSON(c)
	if err != nil {
		return fmt.Errorf("story %s: %w", c.ID, err)
	}
	r.ids, r.sizes = append(r.ids, c.ID), append(r.sizes, int32(c.Size))
	r.updated, r.docs = append(r.updated, orderNanos(c.Updated)), append(r.docs, raw)
	return nil
}

// itemColumns are the items as the columns of the items insert, in the
// order of their ids (so that two commits of the same items take their
// locks in one order).
func itemColumns(items []*storage.Item) ([]any, error) {
	items = slices.SortedFunc(slices.Values(items), func(a, b *storage.Item) int { return strings.Compare(a.ID, b.ID) })
	n := len(items)
	var (
		seqs, dates, fetched = make([]int64, n), make([]int64, n), make([]int64, n)
		ids, feeds, stories  = make([]string, n), make([]string, n), make([]string, n)
		dups                 = make([]bool, n)
		docs, prints, sample = make([][]byte, n), make([][]byte, n), make([][]byte, n)
		errs                 = make([]error, n)
	)
	encode := func(i int) { docs[i], errs[i] = encodeJSON(items[i]) }
	if n >= 8 {
		parallel.Each(n, encode)
	} else {
		for i := range n {
			encode(i)
		}
	}
	for i, it := range items {
		if errs[i] != nil {
			return nil, fmt.Errorf("store item %s: %w", it.ID, errs[i])
		}
		seqs[i], ids[i], feeds[i], stories[i] = int64(it.Seq), it.ID, it.Feed, it.Cluster
		dups[i], dates[i], fetched[i] = it.DuplicateOf != "", it.Date().UnixNano(), it.Fetched.UnixNano()
		if it.Fingerprint != nil {
			// Samples are set whenever the fingerprint is, empty or not:
			// they mark the documents the index loads.
			prints[i], sample[i] = it.Fingerprint, it.Samples
			if sample[i] == nil {
				sample[i] = []byte{}
			}
		}
	}
	return []any{seqs, ids, feeds, stories, dups, dates, fetched, docs, prints, sample}, nil
}

// sortBy sorts keys, and vals with them.
func sortBy(keys, vals []string) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	k, v := slices.Clone(keys), slices.Clone(vals)
	for i, j := range idx {
		keys[i], vals[i] = k[j], v[j]
	}
}

// eachRow reads the next result of a batch, a query's, a row at a time.
func eachRow(br pgx.BatchResults, fn func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// closeBatch closes a batch's results, and gives the first error.
func closeBatch(br pgx.BatchResults, err error) error {
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback ends a transaction that was not committed (after a commit it
// does nothing), and gives its connection back.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx.Rollback(ctx)
}

func (s *Store) Item(ctx context.Context, id string) (*storage.Item, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM items WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("item %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load item %s: %w", id, err)
	}
	it, err := decodeJSON[storage.Item](raw)
	if err != nil {
		return nil, fmt.Errorf("load item %s: %w", id, err)
	}
	return it, nil
}

func (s *Store) ItemCluster(ctx context.Context, id string) (string, error) {
	var story string
	err := s.pool.QueryRow(ctx, `SELECT story FROM items WHERE id = $1`, id).Scan(&story)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("item %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("load item %s: %w", id, err)
	}
	return story, nil
}

func (s *Store) ItemCount(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items: %w", err)
	}
	return n, nil
}

// Items lists from the index that orders what it asks for: a rule's
// (item_rules), a feed's (items_by_feed) or all (items_by_date), a page
// at a time from the cursor on. Duplicates, the feed of a rule's items
// and the date are filtered in SQL; a text query, which SQL cannot read,
// on the decoded items.
func (s *Store) Items(ctx context.Context, opt storage.ListOptions) ([]*storage.Item, error) {
	from, err := parseCursor(opt.Before)
	if err != nil {
		return nil, err
	}
	// $1, $2: the place to list from; $3 the page's size.
	args := []any{nil, nil, nil}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var sql, what string
	var where []string
	switch {
	case opt.Rule != "": // a rule is rarer than a feed: its index is the shorter read
		what = "list rule " + opt.Rule
		sql = `SELECT i.doc, r.date_ns, r.seq FROM item_rules r JOIN items i ON i.seq = r.seq`
		where = append(where, "r.rule = "+arg(opt.Rule), "(r.date_ns, r.seq) < ($1, $2)")
		if !opt.Since.IsZero() {
			where = append(where, "r.date_ns >= "+arg(opt.Since.UnixNano()))
		}
		if opt.Feed != "" {
			where = append(where, "i.feed = "+arg(opt.Feed))
		}
		if !opt.WithDuplicates {
			where = append(where, "NOT i.duplicate")
		}
		sql += " WHERE " + strings.Join(where, " AND ") + " ORDER BY r.date_ns DESC, r.seq DESC LIMIT $3"
	default:
		what = "list items"
		if opt.Feed != "" {
			what = "list feed " + opt.Feed
			where = append(where, "feed = "+arg(opt.Feed))
		}
		where = append(where, "(date_ns, seq) < ($1, $2)")
		if !opt.Since.IsZero() {
			where = append(where, "date_ns >= "+arg(opt.Since.UnixNano()))
		}
		if !opt.WithDuplicates {
			where = append(where, "NOT duplicate")
		}
		sql = "SELECT doc, date_ns, seq FROM items WHERE " + strings.Join(where, " AND ") + " ORDER BY date_ns DESC, seq DESC LIMIT $3"
	}
	size := pageSize(opt)
	var out []*storage.Item
	for {
		args[0], args[1], args[2] = from.date, from.seq, size
		page, err := s.readPage(ctx, sql, args)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		more, err := keepNewest(page, opt, &out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !more || len(page) < size {
			return out, nil
		}
		from = page[len(page)-1].at
	}
}

// queryPage is how many rows a listing with a text query reads at a
// time: it checks its context between pages, so that a query that
// never matches stops when its client goes away.
const queryPage = 256

// pageSize is how many rows a listing reads at a time: as many as it
// shows when SQL filters all it asks for, else a query's page.
func pageSize(opt storage.ListOptions) int {
	switch {
	case opt.Query != nil:
		return queryPage
	case opt.Limit > 0:
		return min(opt.Limit, 1024)
	}
	return 1024
}

// listed is a row of a listing: the item's record and its place.
type listed struct {
	doc []byte
	at  cursor
}

// readPage runs a listing's query for one page: its rows are doc,
// date_ns, seq.
func (s *Store) readPage(ctx context.Context, sql string, args []any) ([]listed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []listed
	for rows.Next() {
		var l listed
		if err := rows.Scan(&l.doc, &l.at.date, &l.at.seq); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// keepNewest decodes a page of a listing (on every core when it is
// long: decoding and a text query's matching are nearly all of a long
// listing's time) and appends what opt keeps to out, up to opt.Limit and
// back to opt.Since. It reports whether the listing goes on.
func keepNewest(page []listed, opt storage.ListOptions, out *[]*storage.Item) (bool, error) {
	tooOld := func(it *storage.Item) bool { return !opt.Since.IsZero() && it.Date().Before(opt.Since) }
	items := make([]*storage.Item, len(page))
	kept := make([]bool, len(page))
	errs := make([]error, len(page))
	decode := func(i int) {
		items[i], errs[i] = decodeJSON[storage.Item](page[i].doc)
		kept[i] = errs[i] == nil && !tooOld(items[i]) && opt.Keep(items[i])
	}
	if len(page) >= 16 {
		parallel.Each(len(page), decode)
	} else {
		for i := range page {
			decode(i)
		}
	}
	for i := range page {
		switch {
		case errs[i] != nil:
			return false, fmt.Errorf("item %d: %w", page[i].at.seq, errs[i])
		case tooOld(items[i]):
			return false, nil
		case !kept[i]:
			continue
		}
		*out = append(*out, items[i])
		if opt.Limit > 0 && len(*out) >= opt.Limit {
			return false, nil
		}
	}
	return true, nil
}

// A listing's cursor is the place of a page's last item in the listings'
// newest-first order: its date (UnixNano, the date_ns column) and its seq.
// Items stored since do not shift it, as they would an offset. Its token
// is "p1." and the two, big-endian, in unpadded base64url.
const itemCursor = "p1."

// cursor is a place in a listing.
type cursor struct {
	date, seq int64
}

// start is a listing's start: before every item.
var start = cursor{math.MaxInt64, math.MaxInt64}

// Cursor is where a listing ending with it goes on.
func (s *Store) Cursor(it *storage.Item) string {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(it.Date().UnixNano()))
	binary.BigEndian.PutUint64(b[8:], it.Seq)
	return itemCursor + base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor reads what Cursor wrote; "" is the listing's start.
func parseCursor(tok string) (cursor, error) {
	if tok == "" {
		return start, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, itemCursor))
	if !strings.HasPrefix(tok, itemCursor) || err != nil || len(b) != 16 ||
		binary.BigEndian.Uint64(b[8:]) == 0 || binary.BigEndian.Uint64(b[8:]) > math.MaxInt64 {
		return cursor{}, fmt.Errorf("%w: %q is not an item listing's (the \"next\" of a page)", storage.ErrBadCursor, tok)
	}
	return cursor{int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))}, nil
}
