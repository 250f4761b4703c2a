package export

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
)

// StreamMeta describes an exported stream: all stories, or a rule's. base
// is the server's address ("" on the command line).
func StreamMeta(feeds []config.Feed, rule, base string) Meta {
	m := Meta{ID: "all", Title: "raqib: all stories", Description: "Stories from the feeds raqib follows, one item per story", FeedURLs: map[string]string{}}
	if rule != "" {
		m.ID, m.Title, m.Description = "rule/"+rule, "raqib: "+rule, "Stories that matched the rule "+rule
	}
	if base != "" {
		m.HomePageURL = base + "/"
	}
	for _, f := range feeds {
		m.FeedURLs[f.Name] = config.RedactURL(f.URL) // the <source> readers see
	}
	return m
}

// Writers renders a stream in each supported format.
var Writers = map[string]func(io.Writer, Meta, []Entry) error{
	"json": WriteJSON,
	"rss":  WriteRSS,
	"atom": WriteAtom,
}

// ContentTypes are the formats' media types.
var ContentTypes = map[string]string{
	"json": "application/feed+json; charset=utf-8",
	"rss":  "application/rss+xml; charset=utf-8",
	"atom": "application/atom+xml; charset=utf-8",
}

// Load lists items with their stories' clusters. A rule's stream holds one
// item per story too: the first item of the story that matched the rule,
// which need not be the story's first item. When ctx's deadline ends the
// listing, Load returns what it had listed with the context's error.
func Load(ctx context.Context, st storage.Store, opt storage.ListOptions) ([]Entry, error) {
	var items []*storage.Item
	var err error
	if opt.Rule != "" && !opt.WithDuplicates {
		items, err = st.RuleStories(ctx, opt)
	} else {
		items, err = st.Items(ctx, opt)
	}
	cut := errors.Is(err, context.DeadlineExceeded)
	if err != nil && !cut {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx) // the stories of what was listed, even past the deadline
	cache := map[string]*storage.Cluster{}
	out := make([]Entry, 0, len(items))
	for _, it := range items {
		c, ok := cache[it.Cluster]
		if !ok {
			c, err = st.Cluster(ctx, it.Cluster)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			cache[it.Cluster] = c
		}
		out = append(out, Entry{Item: it, Cluster: c})
	}
	if cut {
		return out, context.DeadlineExceeded
	}
	return out, nil
}

// Story is a story as the story list shows it: its items (the report and
// its copies) and the first items of the stories that develop it, each in
// time order.
type Story struct {
	*storage.Cluster
	Items        []*storage.Item
	Developments []*storage.Item
}

// Stories lists the stories updated since, the largest first, with the
// items dated since of those told by more than one and the developments
// of those that have some.
func Stories(ctx context.Context, st storage.Store, since time.Time, limit int) ([]Story, error) {
	cs, err := st.Clusters(ctx, since, limit)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range cs {
		if c.Size > 1 || len(c.Developments) > 0 {
			ids = append(ids, c.ID)
		}
	}
	members, err := st.StoryItems(ctx, since, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Story, 0, len(cs))
	for _, c := range cs {
		s := Story{Cluster: c, Items: members[c.ID]}
		for _, d := range c.Developments {
			it, err := st.Item(ctx, d) // a story's id is its first item's
			if errors.Is(err, storage.ErrNotFound) {
				continue // pruned
			}
			if err != nil {
				return nil, err
			}
			s.Developments = append(s.Developments, it)
		}
		byDate(s.Items)
		byDate(s.Developments)
		out = append(out, s)
	}
	return out, nil
}

// byDate sorts items oldest first.
func byDate(items []*storage.Item) {
	slices.SortStableFunc(items, func(a, b *storage.Item) int { return a.Date().Compare(b.Date()) })
}
