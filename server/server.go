// Package server serves the exported feeds, a JSON API, health checks and
// Prometheus metrics over HTTP.
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/export"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
)

// DefaultQueryTimeout: a text query that matches little reads back through
// all history it may; past this it answers with what it found.
const DefaultQueryTimeout = 5 * time.Second

const (
	defaultLimit = 100
	// MaxLimit is the most items or stories one answer lists.
	MaxLimit = 1000
)

// Server is raqib's HTTP interface.
type Server struct {
	Config  *config.Config
	Store   storage.Store
	Metrics *Metrics
	Log     *slog.Logger
	// Ready reports whether the scheduler runs (for /readyz).
	Ready func() bool
	// QueryTimeout bounds a text query's search (/api/items?q=); 0 means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
	// NotDuplicate makes an item a story of its own (the pipeline's);
	// nil answers the action with 503.
	NotDuplicate func(ctx context.Context, id string) (*storage.Item, error)
	// Backup writes a consistent copy of the store (GET /api/backup); nil
	// answers 404.
	Backup func(ctx context.Context, w io.Writer, size func(int64)) (int64, error)
	// WakeAlerts, when set, starts a delivery round now (after a retry
	// from the alerts page).
	WakeAlerts func()

	// Limits of the expensive requests (the feeds and the /api listings),
	// so that readers that ask and do not read hold a bounded memory; see
	// limit.go. They are read once, by the first call of Handler; 0 means
	// a limit's default.
	//
	// MaxBuilding is how many answers are built at once (0:
	// DefaultBuildingPerCPU per CPU); MaxQueued how many more requests
	// may wait for that (0: DefaultQueuedPerBuilding per slot; below 0:
	// none), each at most QueueWait (DefaultQueueWait).
	MaxBuilding int
	MaxQueued   int
	QueueWait   time.Duration
	// AnswerBudget bounds the bytes of built answers held while their
	// readers take them (DefaultAnswerBudget).
	AnswerBudget int64
	// WriteStall cuts a reader that takes nothing of an answer for that
	// long (DefaultWriteStall); WriteTimeout one whose answer takes longer
	// than that to write (DefaultWriteTimeout, which ListenAndServe's
	// server also takes as its write timeout).
	WriteStall   time.Duration
	WriteTimeout time.Duration

	limOnce sync.Once
	lim     *limiter
	web     webState
	signIns signInLimiter
}

// Handler routes requests.
func (s *Server) Handler() http.Handler {
	s.limits() // its metrics are there from the start
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feeds/{file}", s.limited(s.feed))
	mux.HandleFunc("GET /feeds/rules/{file}", s.limited(s.feed))
	mux.HandleFunc("GET /api/items", s.protect(s.limited(s.apiItems)))
	mux.HandleFunc("GET /api/feeds", s.protect(s.limited(s.apiFeeds)))
	mux.HandleFunc("GET /api/stories", s.protect(s.limited(s.apiStories)))
	mux.HandleFunc("GET /api/alerts", s.protect(s.limited(s.apiAlerts)))
	mux.HandleFunc("POST /api/items/{id}/not-duplicate", s.protectAction(s.apiNotDuplicate))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/backup", s.protect(s.apiBackup))
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.bearer(promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP))
	}
	mux.HandleFunc("GET /about", s.index)
	s.webRoutes(mux)
	return s.cors(mux)
}

// ListenAndServe serves until ctx is done, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      orDefault(s.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// protect guards the API: the bearer token when one is configured, else
// a Host that cannot be another site's (hostAllowed).
func (s *Server) protect(h http.HandlerFunc) http.HandlerFunc {
	return s.bearer(func(w http.ResponseWriter, r *http.Request) {
		if s.hostAllowed(w, r) {
			h(w, r)
		}
	})
}

// bearer requires the bearer token, when one is configured (the metrics,
// and within protect the API; the feeds stay open for readers).
func (s *Server) bearer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := s.Config.Server.Token; tok != "" {
			// The scheme's name is case-insensitive (RFC 9110).
			scheme, got, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || !sameSecret(strings.TrimSpace(got), tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="raqib"`)
				http.Error(w, "a bearer token is required (server.token)", http.StatusUnauthorized)
				return
			}
		}
		h(w, r)
	}
}

// hostAllowed refuses, when the server has no token, a request whose Host
// is a name other than localhost: a page on any site can point its own
// name at 127.0.0.1 (DNS rebinding) and then read the desk's pages and API
// as its own, and post their forms. An IP address or localhost cannot be
// another site's name. With a token the session and the bearer token
// guard instead.
func (s *Server) hostAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.Config.Server.Token != "" {
		return true
	}
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
	if h == "" || net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	http.Error(w, "without server.token the desk and the API answer at an IP address or localhost only, not at the name "+strconv.Quote(h)+": set server.token to reach them by name", http.StatusForbidden)
	return false
}

// localWithoutToken refuses, when the server has no token, a client on
// another machine: without a token, what changes the store is for this
// machine's users only.
func (s *Server) localWithoutToken(w http.ResponseWriter, r *http.Request) bool {
	if s.Config.Server.Token != "" {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "actions need server.token when asked from another machine", http.StatusForbidden)
		return false
	}
	return true
}

// protectAction guards what changes the store: the token when one is
// configured, else a client on this machine only (the API's reads are
// open there), asking by a Host that is not another site's.
func (s *Server) protectAction(h http.HandlerFunc) http.HandlerFunc {
	return s.protect(func(w http.ResponseWriter, r *http.Request) {
		if !s.localWithoutToken(w, r) {
			return
		}
		// A page in the machine's browser can POST here too: a request a
		// browser sends from another site says so in its Origin.
		if s.Config.Server.Token == "" && !fromThisSite(w, r) {
			return
		}
		h(w, r)
	})
}

// fromThisSite refuses a request a browser sent from another site's page,
// as its Origin says. "null" is the Origin of a sandboxed page or of a
// post that came through another site's redirect: not this site's page.
func fromThisSite(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			http.Error(w, "actions are not taken for another site's page", http.StatusForbidden)
			return false
		}
	}
	return true
}

// APINotDuplicate is the answer of POST /api/items/ID/not-duplicate:
// the item as it is now, and whether the action changed it.
type APINotDuplicate struct {
	Item    *storage.Item `json:"item"`
	Changed bool          `json:"changed"`
}

func (s *Server) apiNotDuplicate(w http.ResponseWriter, r *http.Request) {
	if s.NotDuplicate == nil {
		http.Error(w, "not available", http.StatusServiceUnavailable)
		return
	}
	it, err := s.NotDuplicate(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		http.Error(w, "no item "+strconv.Quote(r.PathValue("id")), http.StatusNotFound)
		return
	case errors.Is(err, pipeline.ErrNotDuplicate):
	case err != nil:
		s.fail(w, err)
		return
	}
	s.json(w, r, APINotDuplicate{Item: it, Changed: err == nil})
}

// apiBackup streams a consistent copy of the store: the way to back up
// while the daemon runs (raqib store backup FILE asks here).
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request) {
	if s.Backup == nil {
		http.NotFound(w, r)
		return
	}
	// A large store takes longer to send than an answer may take.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="raqib-backup.db"`)
	setSize := func(n int64) { w.Header().Set("Content-Length", strconv.FormatInt(n, 10)) }
	if n, err := s.Backup(r.Context(), w, setSize); err != nil {
		s.Log.Error("backup", "sent", n, "error", err)
		if n == 0 {
			http.Error(w, "backup: "+err.Error(), http.StatusInternalServerError)
		}
		// Cut short: the client sees the connection end before the size
		// it was told, and raqib store backup refuses the copy.
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.Store.(interface{ Damaged() error }); ok && d.Damaged() != nil {
		http.Error(w, d.Damaged().Error(), http.StatusServiceUnavailable)
		return
	}
	if h, ok := s.Store.(interface{ Healthy() error }); ok {
		if err := h.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	if _, err := s.Store.ItemCount(r.Context()); err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if s.Ready != nil && !s.Ready() {
		http.Error(w, "scheduler not running", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// base is the server's address as readers reach it: server.base_url,
// else the request's host.
func (s *Server) base(r *http.Request) string {
	if b := s.Config.Server.BaseURL; b != "" {
		return b
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	b := s.base(r)
	fmt.Fprintf(w, "raqib\n\nSubscribe in a feed reader:\n  %[1]s/feeds/all.atom\n  %[1]s/feeds/all.rss\n  %[1]s/feeds/all.json\n", b)
	for _, rl := range s.Config.Alerts.Rules {
		fmt.Fprintf(w, "  %s/feeds/rules/%s.atom\n", b, rl.Name)
	}
	fmt.Fprintf(w, "\nAPI: /api/items /api/feeds /api/stories /api/alerts\nHealth: /healthz /readyz   Metrics: /metrics\n")
}

// limit reads ?limit=, defaulting to 100 and capped at 1000.
func limit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit: %q is not a positive number", v)
	}
	return min(n, MaxLimit), nil
}

func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	i := strings.LastIndex(file, ".")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	name, format, rule := file[:i], file[i+1:], ""
	if !strings.HasPrefix(r.URL.Path, "/feeds/rules/") {
		if name != "all" {
			http.NotFound(w, r)
			return
		}
	} else {
		rule = name
		if !s.hasRule(rule) {
			http.Error(w, fmt.Sprintf("no rule named %q", rule), http.StatusNotFound)
			return
		}
	}
	write, ok := export.Writers[format]
	if !ok {
		http.Error(w, "unknown format: use .rss, .atom or .json", http.StatusNotFound)
		return
	}
	n, err := limit(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	entries, err := export.Load(r.Context(), s.Store, storage.ListOptions{Limit: n, Rule: rule, WithDuplicates: r.URL.Query().Get("all") == "1"})
	if err != nil {
		s.fail(w, err)
		return
	}
	meta := export.StreamMeta(s.Config.Feeds, rule, s.base(r))
	meta.FeedURL = s.base(r) + r.URL.Path
	var buf bytes.Buffer
	if err := write(&buf, meta, entries); err != nil {
		s.fail(w, err)
		return
	}
	modified := time.Unix(0, 0)
	for _, e := range entries {
		if e.Item.Fetched.After(modified) {
			modified = e.Item.Fetched
		}
		if u := export.Updated(e); u.After(modified) { // an outlet joined its story
			modified = u
		}
	}
	s.serve(w, r, export.ContentTypes[format], buf.Bytes(), modified)
}

// serve answers with an ETag and Last-Modified, a 304 to a reader that has
// this version, and gzip when the reader accepts it. Behind the limiter,
// the answer gives back its build slot once built and is written only
// when the budget for answers has room for it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, ctype string, body []byte, modified time.Time) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	if match := r.Header.Get("If-None-Match"); match != "" {
		if strings.Contains(match, strings.TrimSuffix(etag, `"`)) || strings.TrimSpace(match) == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else if since, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !modified.Truncate(time.Second).After(since) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	answer := body
	if acceptsGzip(r) && len(body) > 512 {
		// The gzip answer is other bytes: a strong validator names them
		// (RFC 9110 8.8.3), so it gets an ETag of its own; either matches
		// a conditional request, which is about the content.
		h.Set("ETag", strings.TrimSuffix(etag, `"`)+`-gzip"`)
		h.Set("Content-Encoding", "gzip")
		if r.Method == http.MethodHead {
			return
		}
		// Compressed before it is written, so that what is held for a
		// slow reader is the compressed answer alone.
		answer = gzipped(body)
	} else if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		return
	}
	if t, _ := r.Context().Value(ticketKey{}).(*ticket); t != nil {
		t.built()
		if !t.hold(int64(cap(answer))) {
			s.busy(w, r, errBudget)
			return
		}
		// Given back as the handler returns (limited's done).
	}
	h.Set("Content-Length", strconv.Itoa(len(answer)))
	s.write(w, answer)
}

func (s *Server) hasRule(name string) bool {
	for _, rl := range s.Config.Alerts.Rules {
		if rl.Name == name {
			return true
		}
	}
	return false
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away: no one to answer, nothing wrong
	}
	s.Log.Error("http request failed", "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (s *Server) json(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.fail(w, err)
		return
	}
	s.serve(w, r, "application/json; charset=utf-8", append(body, '\n'), time.Now())
}

// parseSince accepts RFC 3339 times and durations back from now ("24h", "7d").
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("since: %q is neither an RFC 3339 time nor a duration like 24h", v)
	}
	return time.Now().Add(-d), nil
}

// APIAlert is an alert as /api/alerts lists it: with the title of the
// item it was raised for.
type APIAlert struct {
	*storage.Alert
	ItemTitle string `json:"item_title,omitempty"`
}

// APIItem is an item as /api/items lists it: with its story's size and
// outlets, its content and summary sanitised as in the feeds.
type APIItem struct {
	*storage.Item
	ClusterSize int      `json:"cluster_size"`
	Outlets     []string `json:"outlets,omitempty"`
	// ClusterUpdated is when the story last grew.
	ClusterUpdated time.Time `json:"cluster_updated,omitzero"`
}

// apiItems: ?rule= ?feed= ?since= ?q= (a rule query) ?limit= ?all=1
// ?before= (a page's "next", for the page after it).
func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := limit(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	since, err := parseSince(q.Get("since"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var query rules.Node
	if v := q.Get("q"); v != "" {
		if query, err = rules.Parse(v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	opt := storage.ListOptions{Limit: n, Feed: q.Get("feed"), Rule: q.Get("rule"), Since: since, WithDuplicates: q.Get("all") == "1"}
	if opt.Rule != "" && !s.hasRule(opt.Rule) {
		http.Error(w, fmt.Sprintf("no rule named %q", opt.Rule), http.StatusNotFound)
		return
	}
	opt.Before = q.Get("before")
	ctx := r.Context()
	if query != nil {
		// In the listing, so that it reads back only until it has n.
		opt.Query = query
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.queryTimeout())
		defer cancel()
	}
	entries, err := export.Load(ctx, s.Store, opt)
	cut := errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil
	if errors.Is(err, storage.ErrBadCursor) {
		http.Error(w, "before: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil && !cut {
		s.fail(w, err)
		return
	}
	out := []APIItem{}
	for _, e := range entries {
		// The publishers' HTML as the feeds serve it: sanitised.
		it := *e.Item
		it.Content, it.Summary = export.Sanitize(it.Content), export.Sanitize(it.Summary)
		ai := APIItem{Item: &it, ClusterSize: 1}
		if e.Cluster != nil {
			ai.ClusterSize, ai.Outlets, ai.ClusterUpdated = e.Cluster.Size, e.Cluster.Feeds, e.Cluster.Updated
		}
		out = append(out, ai)
	}
	page := map[string]any{"items": out}
	if cut {
		// What it found so far: the search did not read all it was asked to.
		page["cut_short"] = true
		page["note"] = fmt.Sprintf("the search stopped after %s; narrow it with since= or feed=, or page on from next", s.queryTimeout())
		if len(out) > 0 {
			page["next"] = s.Store.Cursor(out[len(out)-1].Item)
		}
	}
	if len(out) == n {
		// There may be more: the next page starts after this one's last.
		page["next"] = s.Store.Cursor(out[len(out)-1].Item)
	}
	s.json(w, r, page)
}

func (s *Server) queryTimeout() time.Duration {
	if s.QueryTimeout > 0 {
		return s.QueryTimeout
	}
	return DefaultQueryTimeout
}

func (s *Server) apiFeeds(w http.ResponseWriter, r *http.Request) {
	out := []APIFeed{}
	for _, f := range s.Config.Feeds {
		st, err := s.Store.Feed(r.Context(), f.Name)
		if errors.Is(err, storage.ErrNotFound) {
			st = &storage.FeedState{Name: f.Name, URL: f.URL}
		} else if err != nil {
			s.fail(w, err)
			return
		}
		shown := *st // with the URLs' credentials out
		secrets := append(config.URLSecrets(st.URL), config.URLSecrets(f.URL)...)
		shown.URL, shown.ConfiguredURL = config.RedactURL(st.URL), config.RedactURL(st.ConfiguredURL)
		shown.LastError, shown.Disabled = config.RedactText(st.LastError, secrets), config.RedactText(st.Disabled, secrets)
		out = append(out, APIFeed{Name: f.Name, Enabled: f.IsEnabled(), State: &shown})
	}
	s.json(w, r, map[string]any{"feeds": out})
}

// APIFeed is a configured feed as /api/feeds lists it (its fields in the
// order the map it replaced wrote them).
type APIFeed struct {
	Enabled bool               `json:"enabled"`
	Name    string             `json:"name"`
	State   *storage.FeedState `json:"state"`
}

func (s *Server) apiStories(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	since, err := parseSince(r.URL.Query().Get("since"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if since.IsZero() {
		since = time.Now().Add(-7 * 24 * time.Hour)
	}
	var stories []export.Story
	if r.URL.Query().Get("items") == "1" {
		stories, err = export.Stories(r.Context(), s.Store, since, n) // as `raqib stories` shows them
	} else {
		var cs []*storage.Cluster
		cs, err = s.Store.Clusters(r.Context(), since, n)
		for _, c := range cs {
			stories = append(stories, export.Story{Cluster: c})
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]APIStory, 0, len(stories))
	for _, st := range stories {
		a := APIStory{Cluster: st.Cluster}
		for _, it := range st.Items {
			a.Items = append(a.Items, storyItem(it))
		}
		for _, it := range st.Developments {
			a.DevelopedBy = append(a.DevelopedBy, storyItem(it))
		}
		out = append(out, a)
	}
	s.json(w, r, map[string]any{"stories": out})
}

// APIStory is a story as /api/stories lists it; with ?items=1, with its
// items (its report and the copies) and the first items of the stories
// that develop it, oldest first. Its "developments" are those stories'
// ids.
type APIStory struct {
	*storage.Cluster
	Items       []StoryItem `json:"items,omitempty"`
	DevelopedBy []StoryItem `json:"developed_by,omitempty"`
}

// StoryItem is one of a story's items in /api/stories?items=1.
type StoryItem struct {
	ID          string    `json:"id"`
	Feed        string    `json:"feed"`
	Title       string    `json:"title"`
	Date        time.Time `json:"date,omitzero"`
	DuplicateOf string    `json:"duplicate_of,omitempty"`
	Similarity  float64   `json:"similarity,omitempty"`
	Follows     string    `json:"follows,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

func storyItem(it *storage.Item) StoryItem {
	return StoryItem{ID: it.ID, Feed: it.Feed, Title: it.Title, Date: it.Date(), DuplicateOf: it.DuplicateOf, Similarity: it.Similarity, Follows: it.Follows, Reason: it.Reason}
}

// StoryItem is an API story item back as an item, as far as it goes.
func (s StoryItem) Item() *storage.Item {
	return &storage.Item{ID: s.ID, Feed: s.Feed, Title: s.Title, Published: s.Date, DuplicateOf: s.DuplicateOf, Similarity: s.Similarity, Follows: s.Follows, Reason: s.Reason}
}

// apiAlerts: ?state= ?limit= ?before= (a page's "next"), newest first.
func (s *Server) apiAlerts(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	switch state {
	case "", storage.AlertPending, storage.AlertDelivered, storage.AlertFailed:
	default:
		http.Error(w, "state: use pending, delivered or failed", http.StatusBadRequest)
		return
	}
	n, err := limit(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	as, next, err := s.Store.ListAlerts(r.Context(), storage.AlertListOptions{State: state, Limit: n, Before: r.URL.Query().Get("before")})
	if errors.Is(err, storage.ErrBadCursor) {
		http.Error(w, "before: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]APIAlert, 0, len(as))
	for _, a := range as {
		aa := APIAlert{Alert: a}
		if it, err := s.Store.Item(r.Context(), a.ItemID); err == nil {
			aa.ItemTitle = it.Title
		}
		out = append(out, aa)
	}
	page := map[string]any{"alerts": out}
	if next != "" {
		page["next"] = next
	}
	s.json(w, r, page)
}
