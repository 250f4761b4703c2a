package server

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
)

// storiesShown bounds the home page; a filtered listing reads items
// storiesPage at a time, and storiesScanned at most, to find them.
const (
	storiesShown   = 50
	storiesPage    = 100
	storiesScanned = 2000
)

// storiesSearched bounds the items a search reads for a page (a variable
// for the tests).
var storiesSearched = 500

type window struct{ Value, Label string }

var windows = []window{{"24h", "last 24 hours"}, {"7d", "last 7 days"}, {"30d", "last 30 days"}, {"all", "all time"}}

type storyRow struct {
	*storage.Cluster
	Rules []string
}

type storiesView struct {
	view
	Q, Rule, Feed, Tag, Since, Order, Error string
	// More is set when a search stopped before the end of its window:
	// MoreURL goes on from where it stopped, dated Reached.
	More, MoreURL          string
	Reached                time.Time
	Rules, FeedNames, Tags []string
	Windows                []window
	Stories                []storyRow
}

func sinceOf(v string) (string, time.Time) {
	switch v {
	case "24h":
		return v, time.Now().Add(-24 * time.Hour)
	case "30d":
		return v, time.Now().Add(-30 * 24 * time.Hour)
	case "all":
		return v, time.Time{}
	}
	return "7d", time.Now().Add(-7 * 24 * time.Hour)
}

func (s *Server) storiesPage(w http.ResponseWriter, r *http.Request, v view) (string, any, error) {
	q := r.URL.Query()
	v.Page, v.Title = "stories", v.L.T("Stories")
	sv := storiesView{view: v, Q: strings.TrimSpace(q.Get("q")), Rule: q.Get("rule"), Feed: q.Get("feed"), Tag: q.Get("tag"), Order: q.Get("order"), Windows: windows}
	var since time.Time
	sv.Since, since = sinceOf(q.Get("since"))
	for _, rl := range s.Config.Alerts.Rules {
		sv.Rules = append(sv.Rules, rl.Name)
	}
	tagged := map[string]bool{}
	for _, f := range s.Config.Feeds {
		sv.FeedNames = append(sv.FeedNames, f.Name)
		for _, tg := range f.Tags {
			if !slices.Contains(sv.Tags, tg) {
				sv.Tags = append(sv.Tags, tg)
			}
			if tg == sv.Tag {
				tagged[f.Name] = true
			}
		}
	}
	slices.Sort(sv.Tags)
	ctx := r.Context()
	var stories []*storage.Cluster
	if sv.Q == "" && sv.Rule == "" && sv.Feed == "" && sv.Tag == "" {
		var err error
		list := s.Store.LatestClusters
		if sv.Order == "size" {
			list = s.Store.Clusters
		}
		if stories, err = list(ctx, since, storiesShown); err != nil {
			return "", nil, err
		}
	} else {
		opt := storage.ListOptions{Rule: sv.Rule, Feed: sv.Feed, Since: since, WithDuplicates: sv.Feed != "" || sv.Tag != ""}
		if sv.Q != "" {
			n, err := rules.Parse(sv.Q)
			if err != nil {
				sv.Error = err.Error()
				return "stories", sv, nil
			}
			opt.Query = n
		}
		opt.Before = q.Get("before")
		var err error
		stories, sv.More, sv.Reached, err = s.filteredStories(ctx, opt, tagged, sv.Tag != "")
		if errors.Is(err, storage.ErrBadCursor) {
			return "", nil, httpError{http.StatusBadRequest, "before: not a place in the listing; follow the page's link"}
		} else if err != nil {
			return "", nil, err
		}
		if sv.More != "" {
			next := r.URL.Query()
			next.Set("before", sv.More)
			sv.MoreURL = "/?" + next.Encode()
		}
	}
	if sv.Order == "size" {
		slices.SortStableFunc(stories, func(a, b *storage.Cluster) int { return b.Size - a.Size })
	}
	ids := make([]string, len(stories))
	for i, c := range stories {
		ids[i] = c.ID
	}
	matched, err := s.Store.StoryRules(ctx, ids)
	if err != nil {
		return "", nil, err
	}
	for _, c := range stories {
		sv.Stories = append(sv.Stories, storyRow{Cluster: c, Rules: matched[c.ID]})
	}
	return "stories", sv, nil
}

// filteredStories finds the stories of the items a listing selects, a
// page of items at a time, until the page of stories is full or the
// listing has read storiesScanned items (storiesSearched with a query,
// which reads each item's text). A search cut short says where it
// stopped: more is the cursor to go on from, reached the date it read
// back to. A rule's stories come from its stream, which reads its index
// without decoding the items it passes.
func (s *Server) filteredStories(ctx context.Context, opt storage.ListOptions, tagged map[string]bool, byTag bool) (stories []*storage.Cluster, more string, reached time.Time, err error) {
	seen := map[string]bool{}
	add := func(it *storage.Item) error {
		if seen[it.Cluster] || byTag && !tagged[it.Feed] {
			return nil
		}
		seen[it.Cluster] = true
		c, err := s.Store.Cluster(ctx, it.Cluster)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		stories = append(stories, c)
		return nil
	}
	if opt.Rule != "" && !byTag {
		opt.Limit = storiesShown
		its, err := s.Store.RuleStories(ctx, opt)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		for _, it := range its {
			if err := add(it); err != nil {
				return nil, "", time.Time{}, err
			}
		}
		return stories, "", time.Time{}, nil
	}
	// The query is matched here, so that the listing's place is known
	// whether an item matched or not.
	query := storage.ListOptions{Query: opt.Query}
	opt.Query, opt.Limit = nil, storiesPage
	budget := storiesScanned
	if query.Query != nil {
		budget = storiesSearched
	}
	for read := 0; len(stories) < storiesShown; {
		its, err := s.Store.Items(ctx, opt)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		for _, it := range its {
			if len(stories) == storiesShown {
				return stories, "", time.Time{}, nil
			}
			if read++; query.Matches(it) {
				if err := add(it); err != nil {
					return nil, "", time.Time{}, err
				}
			}
			if read == budget {
				return stories, s.Store.Cursor(it), it.Date(), nil
			}
		}
		if len(its) < opt.Limit {
			break
		}
		opt.Before = s.Store.Cursor(its[len(its)-1])
	}
	return stories, "", time.Time{}, nil
}

type storyView struct {
	view
	Story        *storage.Cluster
	Items        []*storage.Item
	Developments []*storage.Item
	Flash        string
}

func (s *Server) storyPage(w http.ResponseWriter, r *http.Request, v view) (string, any, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	c, err := s.Store.Cluster(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil, httpError{http.StatusNotFound, "no story " + id}
	} else if err != nil {
		return "", nil, err
	}
	v.Page, v.Title = "story", c.Title
	sv := storyView{view: v, Story: c}
	if r.URL.Query().Get("done") == "split" {
		sv.Flash = v.L.T("The item is a story of its own now.")
	}
	stories := []*storage.Cluster{c}
	for _, d := range c.Developments {
		if dc, err := s.Store.Cluster(ctx, d); err == nil {
			stories = append(stories, dc)
		}
	}
	items, err := s.storyItems(ctx, stories)
	if err != nil {
		return "", nil, err
	}
	// The report first, its copies after it, as they came.
	sv.Items = items[id]
	slices.SortStableFunc(sv.Items, func(a, b *storage.Item) int { return a.Date().Compare(b.Date()) })
	for _, d := range c.Developments {
		if its := items[d]; len(its) > 0 {
			sv.Developments = append(sv.Developments, its[0])
		}
	}
	return "story", sv, nil
}

type alertRow struct {
	*storage.Alert
	Title string
}

// digestRow is a digest waiting: the stories of a rule due to leave by a
// channel at one time, sent as one message.
type digestRow struct {
	Rule, Channel string
	Stories       int
	Leaves        time.Time
}

type alertsView struct {
	view
	State   string
	States  []string
	Alerts  []alertRow
	Digests []digestRow
	Flash   string
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, v view) (string, any, error) {
	v.Page, v.Title = "alerts", v.L.T("Alerts")
	av := alertsView{view: v, States: []string{storage.AlertFailed, storage.AlertPending, storage.AlertDelivered}}
	switch st := r.URL.Query().Get("state"); st {
	case storage.AlertFailed, storage.AlertPending, storage.AlertDelivered:
		av.State = st
	case "":
	default:
		return "", nil, httpError{http.StatusBadRequest, "state: use pending, delivered or failed"}
	}
	if r.URL.Query().Get("done") == "retry" {
		av.Flash = v.L.T("The alert is queued to be sent again.")
	}
	as, _, err := s.Store.ListAlerts(r.Context(), storage.AlertListOptions{State: av.State, Limit: 200})
	if err != nil {
		return "", nil, err
	}
	if av.Digests, err = s.digests(r.Context()); err != nil {
		return "", nil, err
	}
	// Failed first, then pending: what needs the desk.
	order := map[string]int{storage.AlertFailed: 0, storage.AlertPending: 1, storage.AlertDelivered: 2}
	slices.SortStableFunc(as, func(a, b *storage.Alert) int { return order[a.State] - order[b.State] })
	titles := map[string]string{}
	for _, a := range as {
		t, ok := titles[a.ItemID]
		if !ok {
			if it, err := s.Store.Item(r.Context(), a.ItemID); err == nil {
				t = it.Title
			}
			titles[a.ItemID] = t
		}
		av.Alerts = append(av.Alerts, alertRow{Alert: a, Title: t})
	}
	return "alerts", av, nil
}

// digests groups the pending digest alerts as the outbox sends them: by
// rule, channel and due time. One that failed leaves at its next try.
func (s *Server) digests(ctx context.Context) ([]digestRow, error) {
	pending, err := s.Store.Alerts(ctx, storage.AlertPending)
	if err != nil {
		return nil, err
	}
	type key struct {
		rule, channel string
		due           int64
	}
	rows := map[key]*digestRow{}
	for _, a := range pending {
		if a.Digest.IsZero() {
			continue
		}
		k := key{a.Rule, a.Channel, a.Digest.UnixNano()}
		row := rows[k]
		if row == nil {
			row = &digestRow{Rule: a.Rule, Channel: a.Channel, Leaves: a.Digest}
			rows[k] = row
		}
		row.Stories++
		if a.NextTry.After(row.Leaves) {
			row.Leaves = a.NextTry
		}
	}
	out := make([]digestRow, 0, len(rows))
	for _, row := range rows {
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b digestRow) int {
		return cmp.Or(a.Leaves.Compare(b.Leaves), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Channel, b.Channel))
	})
	return out, nil
}

type ruleRow struct {
	config.Rule
	Day, Week string
}

type triedItem struct {
	Title, Feed, Story string
	Context            []segment
}

// segment is a piece of a match's context, a matched word or not.
type segment struct {
	Text string
	Hit  bool
}

type rulesView struct {
	view
	Q, Error string
	Read     int // the items the try box read
	RuleRows []ruleRow
	Tried    []triedItem
}

// rulesCounted bounds the items counted for a rule's figures; the try box
// reads the latest rulesTried items and shows rulesShown matches at most.
const (
	rulesCounted = 1000
	rulesTried   = 500
	rulesShown   = 50
)

func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request, v view) (string, any, error) {
	ctx := r.Context()
	v.Page, v.Title = "rules", v.L.T("Rules")
	rv := rulesView{view: v, Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	count := func(rule string, since time.Time) (string, error) {
		its, err := s.Store.Items(ctx, storage.ListOptions{Rule: rule, Since: since, Limit: rulesCounted})
		if len(its) == rulesCounted {
			return "1000+", err
		}
		return strconv.Itoa(len(its)), err
	}
	for _, rl := range s.Config.Alerts.Rules {
		row := ruleRow{Rule: rl}
		var err error
		if row.Day, err = count(rl.Name, time.Now().Add(-24*time.Hour)); err != nil {
			return "", nil, err
		}
		if row.Week, err = count(rl.Name, time.Now().Add(-7*24*time.Hour)); err != nil {
			return "", nil, err
		}
		rv.RuleRows = append(rv.RuleRows, row)
	}
	if rv.Q == "" {
		return "rules", rv, nil
	}
	n, err := rules.Parse(rv.Q)
	if err != nil {
		rv.Error, rv.Code = err.Error(), http.StatusBadRequest
		return "rules", rv, nil
	}
	// The latest items, matched here: a query that matches little does
	// not read the history.
	its, err := s.Store.Items(ctx, storage.ListOptions{Since: time.Now().Add(-7 * 24 * time.Hour), Limit: rulesTried})
	if err != nil {
		return "", nil, err
	}
	rv.Read = len(its)
	for _, it := range its {
		text := it.Title + " \n " + itemText(it)
		t := rules.NewText("", text)
		ok, hits := t.Match(n)
		if !ok {
			continue
		}
		rv.Tried = append(rv.Tried, triedItem{Title: it.Title, Feed: it.Feed, Story: it.Cluster, Context: segments(rules.ContextIn(text, t, hits, 8))})
		if len(rv.Tried) == rulesShown {
			break
		}
	}
	return "rules", rv, nil
}

// segments splits a context, its matched words in [brackets], into
// pieces the template marks.
func segments(ctx string) []segment {
	var out []segment
	for ctx != "" {
		i := strings.IndexByte(ctx, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(ctx[i:], ']')
		if j < 0 {
			break
		}
		out = append(out, segment{Text: ctx[:i]}, segment{Text: ctx[i+1 : i+j], Hit: true})
		ctx = ctx[i+j+1:]
	}
	if ctx != "" {
		out = append(out, segment{Text: ctx})
	}
	return out
}

type feedRow struct {
	Name, Health, LastError, SparkLabel string
	Failures                            int
	LastSuccess, Next                   time.Time
	PerDay                              float64
	Spark                               []int
}

// healthTab is a filter of the feeds page, with how many feeds it holds.
type healthTab struct {
	Health string
	Feeds  int
}

type feedsView struct {
	view
	Health   string
	Tabs     []healthTab
	FeedRows []feedRow
	// Prev and Next are the neighbouring pages' links, when there are.
	Prev, Next string
	From, To   int // the rows shown, counted from 1
	Of         int
}

// sparkDays is the sparkline's length; feedsShown the rows of a page.
const sparkDays = 14

// feedsShown is a page of the feeds page (a variable for the tests).
var feedsShown = 500

var healths = []string{"failing", "late", "disabled", "new", "healthy"}

func (s *Server) feedsPage(w http.ResponseWriter, r *http.Request, v view) (string, any, error) {
	ctx := r.Context()
	v.Page, v.Title = "feeds", v.L.T("Feeds")
	now := time.Now()
	from := now.Truncate(24*time.Hour).AddDate(0, 0, -(sparkDays - 1))
	days := map[string][]int{}
	counted, err := s.Store.FeedDays(ctx, from)
	if err != nil {
		return "", nil, err
	}
	for _, fd := range counted {
		d := int(fd.Day.Sub(from) / (24 * time.Hour))
		if d < 0 || d >= sparkDays {
			continue
		}
		if days[fd.Feed] == nil {
			days[fd.Feed] = make([]int, sparkDays)
		}
		days[fd.Feed][d] += fd.Items
	}
	states, err := s.Store.Feeds(ctx)
	if err != nil {
		return "", nil, err
	}
	stateOf := map[string]*storage.FeedState{}
	for _, st := range states {
		stateOf[st.Name] = st
	}
	rank := map[string]int{"failing": 0, "late": 1, "disabled": 2, "new": 3, "healthy": 4}
	var rows []feedRow
	for _, f := range s.Config.Feeds {
		st := stateOf[f.Name]
		if st == nil {
			st = &storage.FeedState{Name: f.Name}
		}
		secrets := append(config.URLSecrets(st.URL), config.URLSecrets(f.URL)...)
		row := feedRow{Name: f.Name, LastSuccess: st.LastSuccess, Failures: st.Failures, LastError: config.RedactText(st.LastError, secrets)}
		var interval time.Duration
		if sch, err := config.ParseSchedule(cmp.Or(f.Schedule, s.Config.Poll.Schedule)); err == nil {
			row.Next = sch.Next(now)
			interval = config.Interval(sch, now)
		}
		if st.RetryAfter.After(row.Next) {
			row.Next = st.RetryAfter
		}
		switch {
		case st.Disabled != "" || !f.IsEnabled():
			row.Health, row.Next = "disabled", time.Time{}
			row.LastError = cmp.Or(config.RedactText(st.Disabled, secrets), row.LastError)
		case st.Failures > 0 || (st.LastError != "" && st.LastErrorAt.After(st.LastSuccess)):
			row.Health = "failing"
		case st.LastSuccess.IsZero():
			row.Health = "new"
		case interval > 0 && now.Sub(st.LastSuccess) > 3*interval+time.Hour:
			row.Health = "late"
		default:
			row.Health = "healthy"
		}
		counts := days[f.Name]
		if counts == nil {
			counts = make([]int, sparkDays)
		}
		top, total := 0, 0
		for _, n := range counts {
			top, total = max(top, n), total+n
		}
		row.PerDay = float64(total) / sparkDays
		parts := make([]string, len(counts))
		for i, n := range counts {
			parts[i] = strconv.Itoa(n)
		}
		row.SparkLabel = strings.Join(parts, ", ")
		for _, n := range counts {
			h := 0
			if top > 0 && n > 0 {
				h = max(1, (8*n+top-1)/top)
			}
			row.Spark = append(row.Spark, h)
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b feedRow) int { return rank[a.Health] - rank[b.Health] })
	fv := feedsView{view: v, Health: r.URL.Query().Get("health")}
	if fv.Health != "" && !slices.Contains(healths, fv.Health) {
		return "", nil, httpError{http.StatusBadRequest, "health: use " + strings.Join(healths, ", ")}
	}
	count := map[string]int{}
	for _, row := range rows {
		count[row.Health]++
	}
	fv.Tabs = append(fv.Tabs, healthTab{"", len(rows)})
	for _, h := range healths {
		if count[h] > 0 {
			fv.Tabs = append(fv.Tabs, healthTab{h, count[h]})
		}
	}
	if fv.Health != "" {
		rows = slices.DeleteFunc(rows, func(row feedRow) bool { return row.Health != fv.Health })
	}
	// A page at a time: a desk of thousands of feeds reads the failing
	// ones first, without a page of megabytes.
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = min(max(1, page), len(rows)/feedsShown+1) // past the last, the last: no overflow
	link := func(p int) string {
		q := url.Values{}
		if fv.Health != "" {
			q.Set("health", fv.Health)
		}
		if p > 1 {
			q.Set("page", strconv.Itoa(p))
		}
		if len(q) == 0 {
			return "/feeds"
		}
		return "/feeds?" + q.Encode()
	}
	fv.Of = len(rows)
	start := min((page-1)*feedsShown, len(rows))
	end := min(start+feedsShown, len(rows))
	fv.FeedRows, fv.From, fv.To = rows[start:end], start+1, end
	if page > 1 {
		fv.Prev = link(page - 1)
	}
	if end < len(rows) {
		fv.Next = link(page + 1)
	}
	return "feeds", fv, nil
}

// storyItems reads the stories' items.
func (s *Server) storyItems(ctx context.Context, stories []*storage.Cluster) (map[string][]*storage.Item, error) {
	ids := make([]string, len(stories))
	for i, c := range stories {
		ids[i] = c.ID
	}
	return s.Store.StoryItems(ctx, time.Time{}, ids)
}
