package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newServer(t *testing.T, token string) (*httptest.Server, *Metrics) {
	t.Helper()
	srv, m, _ := newServerAndHandler(t, token)
	return srv, m
}

func newServerAndHandler(t *testing.T, token string) (*httptest.Server, *Metrics, *Server) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{
		Feeds:  []config.Feed{{Name: "a", URL: "https://a.example/rss"}, {Name: "b", URL: "https://b.example/rss"}},
		Alerts: config.Alerts{Channels: []config.Channel{{Name: "log", Type: "log"}}, Rules: []config.Rule{{Name: "libya", Query: "ليبيا", Channels: []string{"log"}}}},
		Server: config.Server{Token: token},
	}
	eng, err := alerts.NewEngine(cfg.Alerts.Rules)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(context.Background(), st, 30*24*time.Hour, eng, quiet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	text := "عقد مجلس الأمن الدولي جلسة طارئة لمناقشة تطورات الوضع الأمني في ليبيا بعد اشتباكات عنيفة في العاصمة طرابلس أسفرت عن سقوط قتلى وجرحى بين المدنيين."
	mk := func(feed, id, title, body string, age time.Duration) *storage.Item {
		return &storage.Item{ID: id, Feed: feed, Title: title, Summary: body, URL: "https://" + feed + ".example/" + id, Published: now.Add(-age), Fetched: now.Add(-age), Keys: []string{"url:" + feed + id}}
	}
	p.Ingest(context.Background(), &storage.FeedState{Name: "a"}, []*storage.Item{mk("a", "1", "مجلس الأمن يناقش ليبيا", text, 2*time.Hour), mk("a", "2", "Oil prices rise", "Oil rose on Monday after a fall in US stocks of crude.", time.Hour)})
	p.Ingest(context.Background(), &storage.FeedState{Name: "b"}, []*storage.Item{mk("b", "3", "ليبيا: جلسة لمجلس الأمن", text, 30*time.Minute)})
	m := NewMetrics(st, false)
	m.ObservePoll(feeds.Result{Feed: "a", New: 2, Took: time.Second})
	s := &Server{Config: cfg, Store: st, Metrics: m, Log: quiet, Ready: func() bool { return true }, NotDuplicate: p.NotDuplicate}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, m, s
}

func get(t *testing.T, url string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestFeedsConditionalAndGzip(t *testing.T) {
	srv, _ := newServer(t, "")
	for path, ctype := range map[string]string{
		"/feeds/all.rss": "application/rss+xml; charset=utf-8", "/feeds/all.atom": "application/atom+xml; charset=utf-8",
		"/feeds/all.json": "application/feed+json; charset=utf-8", "/feeds/rules/libya.atom": "application/atom+xml; charset=utf-8",
	} {
		resp := get(t, srv.URL+path, nil)
		b := body(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// The copy from feed b is left out: one item per story.
		if strings.Contains(b, "https://b.example/3") || !strings.Contains(b, "https://a.example/1") {
			t.Errorf("%s: the story should appear once:\n%s", path, b)
		}
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" || lm == "" {
			t.Fatalf("%s: no validators", path)
		}
		if r := get(t, srv.URL+path, map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match gave %d", path, r.StatusCode)
		}
		if r := get(t, srv.URL+path, map[string]string{"If-Modified-Since": lm}); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-Modified-Since gave %d", path, r.StatusCode)
		}
		r := get(t, srv.URL+path, map[string]string{"Accept-Encoding": "gzip"})
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not gzipped", path)
			continue
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		unz, _ := io.ReadAll(zr)
		if string(unz) != b {
			t.Errorf("%s: gzip body differs", path)
		}
	}
	if r := get(t, srv.URL+"/feeds/rules/nope.rss", nil); r.StatusCode != 404 {
		t.Errorf("unknown rule: %d", r.StatusCode)
	}
	if r := get(t, srv.URL+"/feeds/all.html", nil); r.StatusCode != 404 {
		t.Errorf("unknown format: %d", r.StatusCode)
	}
	resp, _ := http.Post(srv.URL+"/feeds/all.rss", "text/plain", strings.NewReader("x"))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if r := get(t, srv.URL+"/feeds/all.rss?limit=x", nil); r.StatusCode != 400 {
		t.Errorf("bad limit: %d", r.StatusCode)
	}
}

func TestAPI(t *testing.T) {
	srv, _ := newServer(t, "")
	var items struct {
		Items []struct {
			ID          string   `json:"id"`
			Feed        string   `json:"feed"`
			Rules       []string `json:"rules"`
			ClusterSize int      `json:"cluster_size"`
		} `json:"items"`
	}
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/items?rule=libya", nil))), &items)
	if len(items.Items) != 1 || items.Items[0].ClusterSize != 2 {
		t.Errorf("rule items: %+v", items)
	}
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/items?q=Oil", nil))), &items)
	if len(items.Items) != 1 || items.Items[0].ID != "2" {
		t.Errorf("q items: %+v", items)
	}
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/items?feed=b&all=1", nil))), &items)
	if len(items.Items) != 1 || items.Items[0].Feed != "b" {
		t.Errorf("feed items: %+v", items)
	}
	if r := get(t, srv.URL+"/api/items?q=(ليبيا", nil); r.StatusCode != 400 || !strings.Contains(body(t, r), "position 1") {
		t.Errorf("bad q: %d", r.StatusCode)
	}
	if r := get(t, srv.URL+"/api/items?since=yesterday", nil); r.StatusCode != 400 {
		t.Errorf("bad since: %d", r.StatusCode)
	}
	// Page by page, each from the one before's "next", as in one read.
	type page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Next string `json:"next"`
	}
	var whole page
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/items?all=1", nil))), &whole)
	var paged []string
	for next, n := "", 0; n < 10; n++ {
		var p page
		json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/items?all=1&limit=1&before="+next, nil))), &p)
		for _, it := range p.Items {
			paged = append(paged, it.ID)
		}
		if p.Next == "" {
			break
		}
		next = p.Next
	}
	if len(whole.Items) != 3 || whole.Next != "" || fmt.Sprint(paged) != "[3 2 1]" {
		t.Errorf("paged %v, in one read %+v", paged, whole)
	}
	if r := get(t, srv.URL+"/api/items?before=zz", nil); r.StatusCode != 400 || !strings.Contains(body(t, r), "before") {
		t.Errorf("bad before: %d", r.StatusCode)
	}
	// A story's items with ?items=1, the first and its copy; an alert's
	// item's title.
	var stories struct {
		Stories []struct {
			ID    string `json:"id"`
			Size  int    `json:"size"`
			Items []struct {
				ID          string  `json:"id"`
				Feed        string  `json:"feed"`
				DuplicateOf string  `json:"duplicate_of"`
				Similarity  float64 `json:"similarity"`
			} `json:"items"`
		} `json:"stories"`
	}
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/stories?items=1", nil))), &stories)
	if len(stories.Stories) == 0 || stories.Stories[0].Size != 2 || len(stories.Stories[0].Items) != 2 ||
		stories.Stories[0].Items[1].ID != "3" || stories.Stories[0].Items[1].DuplicateOf != "1" || stories.Stories[0].Items[1].Similarity < 0.9 ||
		stories.Stories[0].Items[0].ID != "1" {
		t.Errorf("stories with items: %+v", stories)
	}
	if b := body(t, get(t, srv.URL+"/api/stories", nil)); strings.Contains(b, `"items"`) {
		t.Errorf("stories without ?items=1 list items: %s", b)
	}
	for path, want := range map[string]string{"/api/feeds": `"name": "a"`, "/api/stories": `"size": 2`, "/api/alerts?state=pending": `"item_title": "مجلس الأمن يناقش ليبيا"`, "/healthz": "ok", "/readyz": "ready"} {
		r := get(t, srv.URL+path, nil)
		if b := body(t, r); r.StatusCode != 200 || !strings.Contains(b, want) {
			t.Errorf("%s: %d %s", path, r.StatusCode, b)
		}
	}
}

func TestMetricsAndToken(t *testing.T) {
	srv, _ := newServer(t, "t0ken")
	if r := get(t, srv.URL+"/metrics", nil); r.StatusCode != 401 {
		t.Errorf("metrics without token: %d", r.StatusCode)
	}
	if r := get(t, srv.URL+"/api/items", map[string]string{"Authorization": "Bearer wrong"}); r.StatusCode != 401 {
		t.Errorf("api with a wrong token: %d", r.StatusCode)
	}
	if r := get(t, srv.URL+"/feeds/all.rss", nil); r.StatusCode != 200 {
		t.Errorf("feeds stay open to readers: %d", r.StatusCode)
	}
	r := get(t, srv.URL+"/metrics", map[string]string{"Authorization": "Bearer t0ken"})
	b := body(t, r)
	if strings.Contains(b, `feed="`) {
		t.Error("per-feed series without server.metrics_per_feed")
	}
	for _, want := range []string{`raqib_polls_total{result="new"} 1`, "raqib_feeds_failing 0", "raqib_items_stored_total 2", "raqib_alerts_pending 1", "raqib_poll_duration_seconds_bucket", "raqib_fetch_errors_total", "raqib_items 3"} {
		if want == "raqib_fetch_errors_total" {
			continue // no errors yet: the vector has no series
		}
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func post(t *testing.T, url, token string) (int, APINotDuplicate) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a APINotDuplicate
	json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

// The desk's correction: item 3 was merged into item 1's story.
func TestNotDuplicateAction(t *testing.T) {
	srv, _ := newServer(t, "t0ken")
	if b := body(t, get(t, srv.URL+"/feeds/all.json", nil)); strings.Contains(b, "https://b.example/3") {
		t.Error("the stream holds a duplicate")
	}
	if b := body(t, get(t, srv.URL+"/feeds/all.json?all=1", nil)); !strings.Contains(b, "https://b.example/3") {
		t.Error("?all=1 leaves out the duplicate")
	}
	if code, _ := post(t, srv.URL+"/api/items/3/not-duplicate", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", code)
	}
	code, a := post(t, srv.URL+"/api/items/3/not-duplicate", "t0ken")
	if code != 200 || !a.Changed || a.Item.Cluster != "3" || a.Item.DuplicateOf != "" || !strings.Contains(a.Item.Reason, "as the desk said") {
		t.Fatalf("not-duplicate: %d %+v", code, a.Item)
	}
	if code, a := post(t, srv.URL+"/api/items/3/not-duplicate", "t0ken"); code != 200 || a.Changed {
		t.Errorf("again: %d changed %v", code, a.Changed)
	}
	if code, _ := post(t, srv.URL+"/api/items/nope/not-duplicate", "t0ken"); code != http.StatusNotFound {
		t.Errorf("an unknown item: %d", code)
	}
	auth := map[string]string{"Authorization": "Bearer t0ken"}
	var stories struct {
		Stories []struct {
			ID    string   `json:"id"`
			Size  int      `json:"size"`
			Feeds []string `json:"feeds"`
		} `json:"stories"`
	}
	json.Unmarshal([]byte(body(t, get(t, srv.URL+"/api/stories", auth))), &stories)
	sizes := map[string]string{}
	for _, s := range stories.Stories {
		sizes[s.ID] = fmt.Sprint(s.Size, s.Feeds)
	}
	if sizes["1"] != "1 [a]" || sizes["3"] != "1 [b]" {
		t.Errorf("stories after the split: %v", sizes)
	}
	if b := body(t, get(t, srv.URL+"/api/alerts?state=pending", auth)); strings.Count(b, `"rule": "libya"`) != 2 {
		t.Errorf("the split story raised no alert of its own:\n%s", b)
	}
	if b := body(t, get(t, srv.URL+"/feeds/all.json", nil)); !strings.Contains(b, "https://b.example/3") {
		t.Error("the split item is not in the stream")
	}
}

// Without a token the API's actions are for this machine only.
func TestActionsNeedTokenFromAfar(t *testing.T) {
	_, _, s := newServerAndHandler(t, "")
	for _, c := range []struct {
		addr string
		want int
	}{{"192.0.2.7:4000", http.StatusForbidden}, {"[2001:db8::1]:4000", http.StatusForbidden}, {"127.0.0.1:4000", http.StatusOK}, {"[::1]:4000", http.StatusOK}} {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/api/items/3/not-duplicate", nil)
		req.RemoteAddr = c.addr
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("from %s: %d, want %d", c.addr, w.Code, c.want)
		}
	}
	// A page of another site, in this machine's browser, cannot take it.
	for origin, want := range map[string]int{"http://evil.example": http.StatusForbidden, "null": http.StatusForbidden, "http://localhost:8080": http.StatusOK} {
		req := httptest.NewRequest(http.MethodPost, "http://localhost:8080/api/items/3/not-duplicate", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		req.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Origin %s: %d, want %d", origin, w.Code, want)
		}
	}
	// Nor can one that points its own name at this machine (DNS
	// rebinding): its Origin and Host agree, but the Host is a name.
	req := httptest.NewRequest(http.MethodPost, "http://rebind.attacker.example:8080/api/items/3/not-duplicate", nil)
	req.RemoteAddr = "127.0.0.1:4000"
	req.Header.Set("Origin", "http://rebind.attacker.example:8080")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "server.token") {
		t.Errorf("a rebound name took an action: %d %s", w.Code, w.Body.String())
	}
}

// A text query has a deadline: past it, the answer says the search was
// cut short and gives what it found.
func TestQueryDeadline(t *testing.T) {
	_, _, s := newServerAndHandler(t, "")
	s.QueryTimeout = time.Nanosecond
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	r := get(t, srv.URL+"/api/items?q=nothing-has-this", nil)
	b := body(t, r)
	if r.StatusCode != 200 || !strings.Contains(b, `"cut_short": true`) || !strings.Contains(b, "the search stopped after 1ns") {
		t.Errorf("a query past its deadline: %d %s", r.StatusCode, b)
	}
	s.QueryTimeout = time.Minute
	if b := body(t, get(t, srv.URL+"/api/items?q=ليبيا", nil)); strings.Contains(b, "cut_short") || !strings.Contains(b, "https://a.example/1") {
		t.Errorf("a query within its deadline: %s", b)
	}
	r = get(t, srv.URL+"/api/items?q="+strings.Repeat("(", 100)+"a"+strings.Repeat(")", 100), nil)
	if b := body(t, r); r.StatusCode != 400 || !strings.Contains(b, "nested more than 32 deep") {
		t.Errorf("a query nested too deep: %d %s", r.StatusCode, b)
	}
}

// The bearer scheme's name is case-insensitive; self links come from
// server.base_url when it is set, not from the request's Host.
func TestBearerSchemeAndBaseURL(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "t0ken")
	for _, h := range []string{"Bearer t0ken", "bearer t0ken", "BEARER  t0ken "} {
		if r := get(t, srv.URL+"/api/feeds", map[string]string{"Authorization": h}); r.StatusCode != 200 {
			t.Errorf("%q: %d", h, r.StatusCode)
		}
	}
	if r := get(t, srv.URL+"/api/feeds", map[string]string{"Authorization": "Basic t0ken"}); r.StatusCode != 401 {
		t.Errorf("another scheme: %d", r.StatusCode)
	}
	req := httptest.NewRequest(http.MethodGet, "/feeds/all.atom", nil)
	req.Host = "attacker.example"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), "http://attacker.example/feeds/all.atom") {
		t.Fatalf("without base_url the self link is the request's: %.300s", w.Body.String())
	}
	s.Config.Server.BaseURL = "https://news.example.org/raqib"
	w = httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if b := w.Body.String(); strings.Contains(b, "attacker.example") || !strings.Contains(b, "https://news.example.org/raqib/feeds/all.atom") {
		t.Errorf("with base_url: %.400s", b)
	}
}

// The API serves publishers' HTML as the feeds do: sanitised.
func TestAPISanitisesHTML(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	it := &storage.Item{ID: "x", Feed: "a", Title: "t", Cluster: "x", Keys: []string{"url:x"}, Fetched: time.Now(),
		Summary: `<p onclick="steal()">ليبيا</p><script>alert(1)</script>`, Content: `<a href="javascript:alert(2)">رابط</a><img src=x onerror="alert(3)">`}
	if _, err := st.Commit(context.Background(), &storage.Batch{Items: []*storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Config: &config.Config{}, Store: st, Log: quiet}).Handler())
	defer srv.Close()
	b := body(t, get(t, srv.URL+"/api/items", nil))
	for _, bad := range []string{"onclick", "<script", "javascript:", "onerror", "alert("} {
		if strings.Contains(b, bad) {
			t.Errorf("/api/items serves %q:\n%s", bad, b)
		}
	}
	if !strings.Contains(b, "ليبيا") || !strings.Contains(b, "رابط") {
		t.Errorf("the text is gone:\n%s", b)
	}
}

// A feed URL's credentials are used to fetch and shown nowhere: not in
// /api/feeds, not in the feeds' source links.
func TestFeedCredentialsStayHidden(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := "http://desk:pa55word@feeds.example/rss?apikey=K3Y-SECRET&lang=ar"
	fs := &storage.FeedState{Name: "keyed", URL: u, ConfiguredURL: u, LastError: `Get "http://desk:***@feeds.example/rss?apikey=K3Y-SECRET&lang=ar": timeout`}
	if err := st.PutFeed(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	it := &storage.Item{ID: "x", Feed: "keyed", Title: "t", Cluster: "x", Keys: []string{"url:x"}, Fetched: time.Now(), Summary: "نص"}
	if _, err := st.Commit(context.Background(), &storage.Batch{Items: []*storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Feeds: []config.Feed{{Name: "keyed", URL: u}}}
	srv := httptest.NewServer((&Server{Config: cfg, Store: st, Log: quiet}).Handler())
	defer srv.Close()
	var all strings.Builder
	for _, path := range []string{"/api/feeds", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json"} {
		all.WriteString(body(t, get(t, srv.URL+path, nil)))
	}
	for _, secret := range []string{"desk", "pa55word", "K3Y-SECRET"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q shown:\n%s", secret, all.String())
		}
	}
	if !strings.Contains(all.String(), "feeds.example/rss?apikey=REDACTED") {
		t.Errorf("the feed's address is not shown at all:\n%.600s", all.String())
	}
}
