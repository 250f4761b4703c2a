package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/raqib/raqib/dedup"
	"github.com/raqib/raqib/storage"
)

// seedStory is the story a seed starts: its own, told by the seed corpus.
func seedStory(s *storage.Seed) *storage.Cluster {
	return &storage.Cluster{ID: s.ID(), Size: 1, Feeds: []string{"seeds"}, Title: firstLine(s.Text), First: s.Date, Updated: s.Imported}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	r := []rune(s)
	if len(r) > 120 {
		return string(r[:120]) + "…"
	}
	return s
}

// development puts a new story that follows an earlier item into that
// item's thread, whose first story lists every development: a development
// of a development joins the first story's thread. An item that joined a
// story, or follows nothing stored, is in no thread (nil). threads holds
// the batch's own developments, which the store has not seen yet.
func (p *Pipeline) development(ctx context.Context, it *storage.Item, batch, threads map[string]string) (*storage.Development, error) {
	if it.Follows == "" || it.Cluster != it.ID {
		return nil, nil
	}
	root, err := p.clusterOf(ctx, it.Follows, batch)
	if err != nil || root == it.Cluster {
		return nil, err
	}
	if t, ok := threads[root]; ok {
		return &storage.Development{Story: it.Cluster, Thread: t}, nil
	}
	if _, inBatch := batch[root]; inBatch {
		return &storage.Development{Story: it.Cluster, Thread: root}, nil
	}
	c, err := p.Store.Cluster(ctx, root)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load story %s: %w", root, err)
	}
	if c.Follows != "" {
		// The thread's first story, unless it has been pruned since.
		if _, err := p.Store.Cluster(ctx, c.Follows); err == nil {
			return &storage.Development{Story: it.Cluster, Thread: c.Follows}, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("load story %s: %w", c.Follows, err)
		}
	}
	return &storage.Development{Story: it.Cluster, Thread: root}, nil
}

// catchUp puts into the index the items other daemons committed since it
// last looked, so that a copy of a report another daemon stored a moment
// ago joins that report's story. It runs under the story lock, so that
// nothing is committed between it and this daemon's commit.
func (p *Pipeline) catchUp(ctx context.Context) error {
	var buf []uint32
	return p.fleet.PrintsAfter(ctx, p.seen, func(seq uint64, f storage.Fingerprint) error {
		samples, err := dedup.AppendSamples(buf[:0], f.Data)
		if err != nil {
			p.Log.Warn("skipping unreadable index samples", "doc", string(f.DocID), "error", err)
		} else {
			buf = samples
			p.Detector.Index.Add(string(f.DocID), f.Date, slices.Clone(samples))
		}
		p.seen = seq
		return nil
	})
}
