// Package pipeline takes fetched items through normalisation, exact and
// near-duplicate detection, story clustering and rule matching, and commits
// each fetch's items, clusters, alerts and feed state in one transaction.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raqib/raqib/corpus"
	"github.com/raqib/raqib/dedup"
	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

// Matcher finds the alert rules an item matches and the alerts to raise.
type Matcher interface {
	// Rules returns the names of the rules that match the item's text. It
	// is called without the pipeline's lock, from concurrent ingests.
	Rules(it *storage.Item, text *rules.Text) []string
	// Alerts returns the alerts to queue for the item's matched rules
	// (it.Rules) once its story (it.Cluster) is known; the store drops
	// alerts already queued for the same rule and story.
	Alerts(it *storage.Item) []*storage.Alert
}

// Pipeline is safe for concurrent use. What depends on one item alone
// (normalising, fingerprinting, rule matching) runs concurrently; deciding
// duplicates, clustering and committing are serialised, so that two feeds
// bringing the same story at once still make one cluster.
type Pipeline struct {
	Store    storage.Store
	Detector *dedup.Detector
	Matcher  Matcher
	Log      *slog.Logger
	Now      func() time.Time
	// OnCommit, if set, is called after each successful commit (to wake the
	// alert dispatcher).
	OnCommit func(*storage.CommitResult)

	mu     sync.Mutex
	recent recentPrints // guarded by mu
	// fleet is the store when several daemons share it: stories are then
	// decided under its lock, after reading what the others committed.
	fleet storage.Fleet
	seen  uint64 // the last item seq the index holds, guarded by mu
}

// recentPrints keeps the fingerprints of the last items stored: a new
// report's candidates are mostly the last hours' items, and decoding each
// from the store again was a share of every ingest.
type recentPrints struct {
	byID map[string]*dedup.Fingerprint
	ring []string // ids, oldest overwritten first
	next int
}

// recentPrintsKept bounds recentPrints: a few thousand items, some
// megabytes.
const recentPrintsKept = 2048

func (r *recentPrints) get(id string) *dedup.Fingerprint { return r.byID[id] }

func (r *recentPrints) add(id string, fp *dedup.Fingerprint) {
	if r.byID == nil {
		r.byID = make(map[string]*dedup.Fingerprint, recentPrintsKept)
		r.ring = make([]string, recentPrintsKept)
	}
	if _, ok := r.byID[id]; ok {
		return
	}
	delete(r.byID, r.ring[r.next])
	r.ring[r.next] = id
	r.byID[id] = fp
	r.next = (r.next + 1) % len(r.ring)
}

// clonePrint copies a fingerprint out of its document, whose buffers it
// would otherwise keep alive.
func clonePrint(fp *dedup.Fingerprint) *dedup.Fingerprint {
	c := *fp
	c.Shingles, c.Words = slices.Clone(fp.Shingles), slices.Clone(fp.Words)
	c.Lead, c.Topic = slices.Clone(fp.Lead), slices.Clone(fp.Topic)
	c.Facts, c.LeadFacts = slices.Clone(fp.Facts), slices.Clone(fp.LeadFacts)
	return &c
}

// reset forgets them all, when items may have been pruned.
func (r *recentPrints) reset() { *r = recentPrints{} }

// New builds a pipeline, loading the near-duplicate index from the store.
func New(ctx context.Context, st storage.Store, window time.Duration, m Matcher, log *slog.Logger) (*Pipeline, error) {
	if log == nil {
		log = slog.Default()
	}
	p := &Pipeline{Store: st, Matcher: m, Log: log, Now: time.Now}
	if f, ok := st.(storage.Fleet); ok {
		// Read before the index loads: what is committed during the load
		// is read again after it, and the index takes a document once.
		seen, err := f.LastSeq(ctx)
		if err != nil {
			return nil, fmt.Errorf("load dedup index: %w", err)
		}
		p.fleet, p.seen = f, seen
	}
	ix := dedup.NewIndex()
	since := p.Now().Add(-window)
	// A first pass counts the documents and their samples, so the index
	// is allocated once at its final size and each entry put in its place:
	// at a million documents the doubling of an append would hold two or
	// three copies at its peak.
	var buf []uint32 // reused: the load makes no garbage per document
	if err := st.Fingerprints(ctx, since, func(f storage.Fingerprint) error {
		samples, err := dedup.AppendSamples(buf[:0], f.Data)
		if err == nil {
			buf = samples
			ix.Count(len(f.DocID), samples)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load dedup index: %w", err)
	}
	ix.Grow()
	err := st.Fingerprints(ctx, since, func(f storage.Fingerprint) error {
		samples, err := dedup.AppendSamples(buf[:0], f.Data)
		if err != nil {
			log.Warn("skipping unreadable index samples", "doc", string(f.DocID), "error", err)
			return nil
		}
		buf = samples
		ix.Load(f.DocID, f.Date, samples)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load dedup index: %w", err)
	}
	ix.Seal()
	df, err := loadDocFreq(ctx, st)
	if err != nil {
		return nil, err
	}
	p.Detector = &dedup.Detector{Index: ix, Window: window, DocFreq: df}
	return p, nil
}

// loadDocFreq counts the words of the most recent stored items that start
// a story, as many as the table keeps, so that a restarted daemon weighs
// words as it did.
func loadDocFreq(ctx context.Context, st storage.Store) (*dedup.DocFreq, error) {
	df := dedup.NewDocFreq(0)
	var buf []uint32
	err := st.RecentFingerprints(ctx, func(data []byte) error {
		words, err := dedup.DecodeWords(buf[:0], data)
		if err != nil {
			return nil // an unreadable fingerprint weighs nothing
		}
		buf = words
		df.Add(words)
		if df.Full() {
			return storage.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load word frequencies: %w", err)
	}
	return df, nil
}

// Maintain forgets index entries older than the dedup window and, with a
// retention, prunes older items from the store. It returns how many items
// were pruned.
func (p *Pipeline) Maintain(ctx context.Context, retention time.Duration) (int, error) {
	now := p.Now()
	if p.Detector.Window > 0 {
		p.Detector.Index.Expire(now.Add(-p.Detector.Window))
	}
	n, err := Prune(ctx, p.Store, retention, now, p.Log)
	if n > 0 {
		p.mu.Lock()
		p.recent.reset()
		p.mu.Unlock()
	}
	return n, err
}

// Prune removes the items older than retention (0 keeps all) from the
// store, with or without a pipeline loaded on it, and returns how many.
func Prune(ctx context.Context, st storage.Store, retention time.Duration, now time.Time, log *slog.Logger) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	n, err := st.Prune(ctx, now.Add(-retention))
	if err != nil {
		return n, fmt.Errorf("prune items older than %s: %w", retention, err)
	}
	if n > 0 {
		attrs := []any{"items", n, "retention", retention.String()}
		if h, ok := st.(interface{ LongestPruneHold() time.Duration }); ok {
			attrs = append(attrs, "longest_write_hold", h.LongestPruneHold().Round(time.Millisecond).String())
		}
		log.Info("pruned old items", attrs...)
	}
	return n, nil
}

// textHash is the SHA-256 of the dedup-folded words, each followed by a
// space, hashed as one buffer.
func textHash(d *dedup.Doc) string {
	sum := sha256.Sum256(d.AppendText(make([]byte, 0, d.TextLen())))
	return hex.EncodeToString(sum[:16])
}

// ImportSeeds stores the seed documents and indexes the new ones.
func (p *Pipeline) ImportSeeds(ctx context.Context, docs []*corpus.Doc) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.Now()
	seeds := make([]*storage.Seed, 0, len(docs))
	prepared := map[string]*dedup.Doc{}
	for _, d := range docs {
		doc := dedup.Prepare("", d.Text)
		s := &storage.Seed{Name: d.Name, Date: d.Date, Text: d.Text, Hash: d.Hash, Imported: now, Fingerprint: doc.Print.Encode(), Samples: dedup.EncodeSamples(p.Detector.IndexKeys(doc))}
		s.Story = seedStory(s)
		seeds = append(seeds, s)
		prepared[s.ID()] = doc
	}
	n, err := p.Store.PutSeeds(ctx, seeds)
	if err != nil {
		return 0, fmt.Errorf("import seeds: %w", err)
	}
	for id, doc := range prepared {
		p.Detector.Index.Add(id, time.Time{}, p.Detector.IndexKeys(doc)) // no-op for seeds already indexed
	}
	return n, nil
}

// prepared is an item ready for the serialised part of Ingest.
type prepared struct {
	it  *storage.Item
	doc *dedup.Doc
}

// prepare does the work that depends on the item alone: it normalises the
// text once for the rules and for dedup, fingerprints it and matches the
// rules. Items already stored under one of their keys are left out.
func (p *Pipeline) prepare(ctx context.Context, items []*storage.Item) ([]prepared, error) {
	out := make([]prepared, 0, len(items))
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if id, err := p.Store.LookupKeys(ctx, it.Keys); err != nil {
			return nil, err
		} else if id != "" {
			continue // the same item, seen before
		}
		rt := rules.NewText(it.Title, it.PlainText())
		doc := dedup.PrepareVocab(rt.Words())
		it.Fingerprint = doc.Print.Encode()
		it.Samples = dedup.EncodeSamples(p.Detector.IndexKeys(doc))
		it.TextHash = textHash(doc)
		if it.Language == "" {
			if textnorm.ArabicShare(rt.Norm) > 0.5 {
				it.Language = "ar"
			}
		}
		if p.Matcher != nil {
			it.Rules = p.Matcher.Rules(it, rt)
		}
		out = append(out, prepared{it, doc})
	}
	return out, nil
}

// Ingest stores what is new among a fetch's items, with the feed's state,
// in one transaction.
func (p *Pipeline) Ingest(ctx context.Context, feed *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
	commit, err := p.Stage(ctx, items)
	if err != nil {
		return nil, err
	}
	return commit(ctx, feed)
}

// Stage is Ingest in two steps: it does the work that depends on the items
// alone, concurrently with other feeds', and returns the rest, which
// decides duplicates and stories and commits, one feed at a time. A poller
// hands its worker to the next feed while this one waits for its turn.
func (p *Pipeline) Stage(ctx context.Context, items []*storage.Item) (func(context.Context, *storage.FeedState) (*storage.CommitResult, error), error) {
	ready, err := p.prepare(ctx, items)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, feed *storage.FeedState) (*storage.CommitResult, error) {
		return p.commit(ctx, feed, ready)
	}, nil
}

// commit is the serialised part of Ingest.
func (p *Pipeline) commit(ctx context.Context, feed *storage.FeedState, ready []prepared) (*storage.CommitResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fleet
	if f == nil {
		// A pipeline built without New (a one-shot command's) still
		// decides under the fleet's lock.
		f, _ = p.Store.(storage.Fleet)
	}
	if f != nil {
		unlock, err := f.LockStories(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := p.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	now := p.Now()
	batch := &storage.Batch{Feed: feed}
	local := map[string]*dedup.Fingerprint{}
	cluster := map[string]string{} // batch item id -> cluster
	threads := map[string]string{} // batch story -> the thread it joins
	var indexed []string
	committed := false
	defer func() {
		if !committed { // nothing of a failed ingest stays in the index
			for _, id := range indexed {
				p.Detector.Index.Remove(id)
			}
		}
	}()
	p.Detector.Fingerprint = func(id string) (dedup.Fingerprint, error) {
		if fp, ok := local[id]; ok {
			return *fp, nil
		}
		if fp := p.recent.get(id); fp != nil {
			return *fp, nil
		}
		data, err := p.Store.Fingerprint(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return dedup.Fingerprint{}, dedup.ErrGone
		}
		if err != nil {
			return dedup.Fingerprint{}, err
		}
		return dedup.Decode(data)
	}
	for _, r := range ready {
		it, doc := r.it, r.doc
		v, err := p.findEarlier(ctx, doc, it.TextHash, now)
		if err != nil {
			return nil, err
		}
		it.Cluster = it.ID
		it.Reason = reason(v, p.Detector.Window)
		switch {
		case v.Duplicate:
			c, err := p.clusterOf(ctx, v.Of, cluster)
			if err != nil {
				return nil, err
			}
			it.Cluster, it.DuplicateOf, it.Similarity = c, c, round(v.Score)
			it.Samples = dedup.EncodeSamples(doc.Samples()) // indexed by its shingles only (Detector.Add)
		case v.Related:
			it.Follows = v.Of
			d, err := p.development(ctx, it, cluster, threads)
			if err != nil {
				return nil, err
			}
			if d != nil {
				batch.Developments = append(batch.Developments, *d)
				threads[d.Story] = d.Thread
			}
		}
		cluster[it.ID] = it.Cluster
		local[it.ID] = &doc.Print
		// Only what this commit put in the index comes out again when its
		// item is skipped: an item of the same id another feed (or daemon)
		// stored before stays indexed.
		if p.Detector.Add(it.ID, now, doc, !v.Duplicate) {
			indexed = append(indexed, it.ID)
		}
		if p.Matcher != nil && len(it.Rules) > 0 {
			batch.Alerts = append(batch.Alerts, p.Matcher.Alerts(it)...)
		}
		batch.Items = append(batch.Items, it)
	}
	res, err := p.Store.Commit(ctx, batch)
	if err != nil {
		return nil, err
	}
	committed = true
	for _, it := range res.Stored {
		p.seen = max(p.seen, it.Seq) // under the story lock nobody else committed since catchUp
	}
	ours := make(map[string]bool, len(indexed))
	for _, id := range indexed {
		ours[id] = true
	}
	for _, it := range res.Skipped {
		if ours[it.ID] {
			p.Detector.Index.Remove(it.ID)
		}
	}
	for _, it := range res.Stored {
		if fp := local[it.ID]; fp != nil {
			p.recent.add(it.ID, clonePrint(fp))
		}
	}
	if p.OnCommit != nil && len(res.Stored) > 0 {
		p.OnCommit(res)
	}
	return res, nil
}

// findEarlier finds the earlier document that doc repeats: an exact copy
// of its text first, else the best near-duplicate or rewrite, else the
// earlier report it follows.
func (p *Pipeline) findEarlier(ctx context.Context, doc *dedup.Doc, hash string, now time.Time) (dedup.Verdict, error) {
	id, err := p.Store.LookupKeys(ctx, []string{"text:" + hash})
	if err != nil {
		return dedup.Verdict{}, err
	}
	if id != "" && id != storage.Pruned {
		return dedup.Verdict{Duplicate: true, Of: id, Score: 1, Reason: "the same text"}, nil
	}
	return p.Detector.Check(doc, now)
}

// reason is a verdict as _raqib.reason says it.
func reason(v dedup.Verdict, window time.Duration) string {
	switch {
	case v.Duplicate:
		return "same report as " + v.Of + ": " + v.Reason
	case v.Related:
		return "news about the same event as " + v.Of + ": " + v.Reason
	case v.Of != "":
		return "a story of its own; the closest earlier item, " + v.Of + ": " + v.Reason
	case window > 0:
		return "a story of its own: nothing alike in the last " + days(window)
	}
	return "a story of its own: nothing alike seen before"
}

func days(d time.Duration) string {
	switch n := int(d / (24 * time.Hour)); {
	case d%(24*time.Hour) != 0:
		return d.String()
	case n == 1:
		return "day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}

// clusterOf is the story a stored or batch document belongs to.
func (p *Pipeline) clusterOf(ctx context.Context, id string, batch map[string]string) (string, error) {
	if strings.HasPrefix(id, "seed:") {
		return id, nil
	}
	if c, ok := batch[id]; ok {
		return c, nil
	}
	c, err := p.Store.ItemCluster(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("load item %s: %w", id, err)
	}
	return c, nil
}

func round(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// ErrNotDuplicate is NotDuplicate's answer for an item that already is a
// story of its own.
var ErrNotDuplicate = errors.New("already a story of its own")

// NotDuplicate makes a stored item a story of its own, as the desk says
// it is: it leaves the story it was merged into, shows in the feeds and
// raises the alerts it would have raised. The store keeps the item so, and
// a later copy of it joins its story.
func (p *Pipeline) NotDuplicate(ctx context.Context, id string) (*storage.Item, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fleet
	if f == nil {
		// A pipeline built without New (a one-shot command's) still
		// decides under the fleet's lock.
		f, _ = p.Store.(storage.Fleet)
	}
	if f != nil {
		unlock, err := f.LockStories(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	it, err := p.Store.Item(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("item %s: %w", id, err)
	}
	if it.DuplicateOf == "" && it.Cluster == it.ID {
		return it, fmt.Errorf("item %s: %w", id, ErrNotDuplicate)
	}
	was := it.Cluster
	it.Cluster, it.DuplicateOf, it.Similarity = it.ID, "", 0
	it.Reason = "a story of its own, as the desk said (it had been taken for the same report as " + was + ")"
	var alerts []*storage.Alert
	if p.Matcher != nil && len(it.Rules) > 0 {
		alerts = p.Matcher.Alerts(it)
	}
	if err := p.Store.SplitItem(ctx, it, alerts); err != nil {
		return nil, fmt.Errorf("make item %s its own story: %w", id, err)
	}
	if err := p.reassignAlerts(ctx, was, it); err != nil {
		return nil, fmt.Errorf("item %s is its own story; its old story's alerts: %w", id, err)
	}
	if p.OnCommit != nil {
		p.OnCommit(&storage.CommitResult{Stored: []*storage.Item{it}})
	}
	return it, nil
}

// reassignAlerts mends the alerts still waiting that the split item raised
// for the story it left (a digest's, say): each now stands for the
// story's first item left that matched its rule; with none left, it is
// not sent (the item's own story alerts with it), and says why. Else the
// digest carried the item twice, once in each story.
func (p *Pipeline) reassignAlerts(ctx context.Context, story string, it *storage.Item) error {
	pending, err := p.Store.Alerts(ctx, storage.AlertPending)
	if err != nil {
		return err
	}
	var raised []*storage.Alert
	for _, a := range pending {
		if a.Cluster == story && a.ItemID == it.ID {
			raised = append(raised, a)
		}
	}
	if len(raised) == 0 {
		return nil
	}
	left, err := p.Store.StoryItems(ctx, time.Time{}, []string{story})
	if err != nil {
		return err
	}
	items := left[story] // newest first
	for _, a := range raised {
		a.ItemID = ""
		for i := len(items) - 1; i >= 0; i-- {
			if items[i].ID != it.ID && slices.Contains(items[i].Rules, a.Rule) {
				a.ItemID = items[i].ID
				break
			}
		}
		if a.ItemID == "" {
			a.ItemID, a.State = it.ID, storage.AlertFailed
			a.LastError = "not sent: the item that raised it was made a story of its own (" + it.ID + "), which alerts for it; nothing left in this story matches the rule"
		}
	}
	return p.Store.UpdateAlerts(ctx, raised)
}
