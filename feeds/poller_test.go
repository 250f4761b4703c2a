package feeds_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type env struct {
	store  *boltstore.Bolt
	poller *feeds.Poller
}

func newEnv(t *testing.T, opt feeds.FetchOptions) *env {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pipe, err := pipeline.New(context.Background(), st, 30*24*time.Hour, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, poller: &feeds.Poller{Store: st, Fetcher: feeds.NewFetcher(opt), Ingester: pipe, Timeout: 5 * time.Second, Log: log}}
}

func (e *env) poll(t *testing.T, name, url string) feeds.Result {
	t.Helper()
	return e.poller.Poll(context.Background(), config.Feed{Name: name, URL: url}, true)
}

// A server that honours ETag and If-Modified-Since like a well-behaved feed.
func TestConditionalGet(t *testing.T) {
	body := testdata(t, "rss-utf8.xml")
	var full, notModified atomic.Int32
	var ua atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.UserAgent())
		if r.Header.Get("If-None-Match") == `"v1"` && r.Header.Get("If-Modified-Since") == "Sun, 11 May 2025 09:30:00 GMT" {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Sun, 11 May 2025 09:30:00 GMT")
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	r1 := e.poll(t, "news", srv.URL+"/rss")
	if r1.Err != nil || r1.New != 3 {
		t.Fatalf("first poll: %+v", r1)
	}
	r2 := e.poll(t, "news", srv.URL+"/rss")
	if !r2.NotModified || r2.New != 0 {
		t.Fatalf("second poll should be a 304: %+v", r2)
	}
	if full.Load() != 1 || notModified.Load() != 1 {
		t.Errorf("full=%d notModified=%d", full.Load(), notModified.Load())
	}
	if got := ua.Load().(string); !strings.HasPrefix(got, "raqib/"+feeds.Version) {
		t.Errorf("User-Agent %q should name raqib and its version", got)
	}
	st, _ := e.store.Feed(context.Background(), "news")
	if st.ETag != `"v1"` || st.Items != 3 || st.LastSuccess.IsZero() {
		t.Errorf("state %+v", st)
	}
	items, _ := e.store.Items(context.Background(), storage.ListOptions{WithDuplicates: true})
	if len(items) != 3 || items[0].Title != "حفتر يلتقي بوتين في الكرملين" {
		t.Errorf("items: %d, first %q", len(items), items[0].Title)
	}
}

// A server that ignores conditional GET and sends the same bytes is not parsed again.
func TestUnchangedBodyIsNotParsed(t *testing.T) {
	body := testdata(t, "atom.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	if r := e.poll(t, "wire", srv.URL); r.New != 2 {
		t.Fatalf("%+v", r)
	}
	if r := e.poll(t, "wire", srv.URL); !r.Unchanged || r.Items != 0 {
		t.Fatalf("second poll: %+v", r)
	}
}

func TestGzipAndCharsetHeader(t *testing.T) {
	body := testdata(t, "rss-cp1256-undeclared.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Error("gzip not offered")
		}
		w.Header().Set("Content-Type", "application/xml; charset=windows-1256")
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write(body)
		gz.Close()
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	if r := e.poll(t, "cp", srv.URL); r.Err != nil || r.New != 3 {
		t.Fatalf("%+v", r)
	}
	items, _ := e.store.Items(context.Background(), storage.ListOptions{})
	if items[0].Title != "حفتر يلتقي بوتين في الكرملين" {
		t.Errorf("title %q", items[0].Title)
	}
}

func TestPermanentRedirectUpdatesURL(t *testing.T) {
	body := testdata(t, "rss-utf8.xml")
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusMovedPermanently) })
	mux.HandleFunc("/tmp", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	ctx := context.Background()
	e.poll(t, "moved", srv.URL+"/old")
	if st, _ := e.store.Feed(ctx, "moved"); st.URL != srv.URL+"/new" {
		t.Errorf("after 301 URL = %q", st.URL)
	}
	e.poll(t, "temp", srv.URL+"/tmp")
	if st, _ := e.store.Feed(ctx, "temp"); st.URL != srv.URL+"/tmp" {
		t.Errorf("after 302 URL = %q, should stay", st.URL)
	}
	if r := e.poll(t, "loop", srv.URL+"/loop"); r.Err == nil || !strings.Contains(r.Err.Error(), "redirect") {
		t.Errorf("loop: %v", r.Err)
	}
}

func TestSizeCap(t *testing.T) {
	big := bytes.Repeat([]byte("<!-- padding -->"), 1<<16) // 1 MiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bomb" {
			// A small gzip stream that inflates past the cap.
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			for i := 0; i < 4; i++ {
				gz.Write(big)
			}
			gz.Close()
			return
		}
		w.Write(big)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{MaxBody: 512 << 10})
	for _, path := range []string{"/plain", "/bomb"} {
		r := e.poll(t, "big"+strings.TrimPrefix(path, "/"), srv.URL+path)
		if !errors.Is(r.Err, feeds.ErrTooLarge) {
			t.Errorf("%s: err = %v, want too large", path, r.Err)
		}
	}
}

func TestRetryAfterAndGone(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	ctx := context.Background()
	start := time.Now()
	r := e.poll(t, "busy", srv.URL+"/busy")
	if r.Status != 429 || r.Err == nil {
		t.Fatalf("%+v", r)
	}
	st, _ := e.store.Feed(ctx, "busy")
	if d := st.RetryAfter.Sub(start); d < 119*time.Second || d > 125*time.Second {
		t.Errorf("retry after %v, want about 120s", d)
	}
	// Even a one-shot poll respects the server's Retry-After.
	if r := e.poll(t, "busy", srv.URL+"/busy"); r.Skipped == "" || hits.Load() != 1 {
		t.Errorf("second poll should wait: %+v, hits %d", r, hits.Load())
	}
	e.poll(t, "gone", srv.URL+"/gone")
	st, _ = e.store.Feed(ctx, "gone")
	if !strings.Contains(st.Disabled, "410") {
		t.Errorf("410 should disable the feed: %+v", st)
	}
	if r := e.poll(t, "gone", srv.URL+"/gone"); !strings.HasPrefix(r.Skipped, "disabled") {
		t.Errorf("disabled feed polled again: %+v", r)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 12; n++ {
		d := feeds.Backoff(n, time.Hour)
		if d > 72*time.Minute {
			t.Fatalf("backoff %v past the cap", d)
		}
		if n <= 5 && d < prev/2 {
			t.Errorf("backoff shrank: %v after %v", d, prev)
		}
		prev = d
	}
}

// A server that never answers, or drips its body, hits the total timeout;
// other feeds are unaffected.
func TestTimeoutsAndIsolation(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	body := testdata(t, "feed.json")
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version": "https://jsonfeed.org/version/1.1", "title": "`))
		for i := 0; i < 100; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	e.poller.Timeout = 700 * time.Millisecond
	fs := []config.Feed{{Name: "hang", URL: srv.URL + "/hang"}, {Name: "drip", URL: srv.URL + "/drip"}, {Name: "ok", URL: srv.URL + "/ok"}}
	res := e.poller.PollAll(context.Background(), fs, 3, true)
	for _, r := range res[:2] {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "timed out") {
			t.Errorf("%s: err = %v, want a timeout", r.Feed, r.Err)
		}
	}
	if res[2].Err != nil || res[2].New != 2 {
		t.Errorf("ok feed: %+v", res[2])
	}
	st, _ := e.store.Feed(context.Background(), "hang")
	if st.LastError == "" || st.Failures != 1 {
		t.Errorf("hang state: %+v", st)
	}
}

// At most PerHost requests to one host at a time.
func TestPerHostLimit(t *testing.T) {
	var cur, peak atomic.Int32
	body := testdata(t, "feed.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		cur.Add(-1)
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{PerHost: 2})
	var fs []config.Feed
	for i := 0; i < 8; i++ {
		fs = append(fs, config.Feed{Name: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("%s/%d", srv.URL, i)})
	}
	e.poller.PollAll(context.Background(), fs, 8, true)
	if peak.Load() > 2 {
		t.Errorf("peak concurrency to one host %d, want ≤ 2", peak.Load())
	}
}

// The same item in two feeds is stored once; bad bodies leave stored items alone.
func TestSameItemAcrossFeedsAndBadBodies(t *testing.T) {
	good := testdata(t, "rss-utf8.xml")
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.Write(testdata(t, "page.html"))
			return
		}
		w.Write(good)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	e.poll(t, "a", srv.URL+"/a")
	// The same items (same links) under another feed are not stored again:
	// their GUIDs are bare, but the canonical links match.
	if r := e.poll(t, "b", srv.URL+"/b"); r.New != 0 || r.Err != nil {
		t.Errorf("second feed with the same links: %+v", r)
	}
	broken.Store(true)
	r := e.poll(t, "a", srv.URL+"/a")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "HTML page") {
		t.Errorf("html: %v", r.Err)
	}
	n, _ := e.store.ItemCount(context.Background())
	if n != 3 {
		t.Errorf("items %d, want 3", n)
	}
}

// A poll cut short by shutdown is not the feed's failure: it is not
// backed off and records nothing (the old code counted it, and a daemon
// restarted in a hurry delayed its feeds by their backoff).
func TestInterruptedPollRecordsNothing(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	r := e.poller.Poll(ctx, config.Feed{Name: "cut", URL: srv.URL + "/feed"}, true)
	if !r.Interrupted || r.Err == nil || r.StoreFailed {
		t.Fatalf("result %+v", r)
	}
	st, err := e.store.Feed(context.Background(), "cut")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if st != nil && (st.Failures != 0 || !st.RetryAfter.IsZero() || st.LastError != "") {
		t.Errorf("an interrupted poll was recorded as a failure: %+v", st)
	}
}

// TestQuietStatesAreWrittenBehind: a healthy feed's 304 moves only its
// times and counts, and that state is written behind, with others, rather
// than each waiting for a commit of its own; the poller reads it back
// meanwhile, a state written now (a failure) is never overwritten by an
// older one written behind, and a one-shot run's PollAll writes them all
// before it returns.
func TestQuietStatesAreWrittenBehind(t *testing.T) {
	body := testdata(t, "rss-utf8.xml")
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	ctx := context.Background()
	feed := config.Feed{Name: "quiet", URL: srv.URL + "/feed"}
	stored := func() *storage.FeedState {
		st, err := e.store.Feed(ctx, "quiet")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	e.poller.Poll(ctx, feed, true) // 200: written with its items
	e.poller.Poll(ctx, feed, true) // the first 304: its status changed, written now
	if st := stored(); st.Polls != 2 || st.ETag != `"v1"` {
		t.Fatalf("after 200 and 304: %+v", st)
	}
	e.poller.Poll(ctx, feed, true) // a quiet 304: written behind
	if st := stored(); st.Polls != 2 {
		t.Errorf("the quiet 304 waited for a commit of its own: %d polls stored", st.Polls)
	}
	if st, _ := e.poller.State(ctx, feed); st.Polls != 3 {
		t.Errorf("the poller reads %d polls back, want the 3 it made", st.Polls)
	}
	fail.Store(true)
	e.poller.Poll(ctx, feed, true) // a failure: written now
	if err := e.poller.FlushStates(ctx); err != nil {
		t.Fatal(err)
	}
	if st := stored(); st.Polls != 4 || st.Failures != 1 || st.LastError == "" {
		t.Errorf("the failure was overwritten by an older state: %+v", st)
	}
	fail.Store(false)
	e.poller.Poll(ctx, feed, true) // 304 after a failure: written now (failures reset)
	e.poller.PollAll(ctx, []config.Feed{feed}, 1, true)
	if st := stored(); st.Polls != 6 || st.Failures != 0 || st.ETag != `"v1"` {
		t.Errorf("after PollAll: %+v", st)
	}
}

// TestSlowFetchesHoldNoWorker: a feed whose server is slow waits for its
// answer without a worker, so with one worker the feeds behind it are
// parsed and ingested meanwhile; and PollAll starts the feed whose last
// fetch took longest first, so that its wait overlaps the rest.
func TestSlowFetchesHoldNoWorker(t *testing.T) {
	body := testdata(t, "feed.json")
	ingested := make(chan struct{})
	var once sync.Once
	var order []string
	var mu sync.Mutex
	var hold atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/slow" && hold.Load() {
			select {
			case <-ingested:
			case <-time.After(5 * time.Second):
				http.Error(w, "the fast feed was never ingested", http.StatusGatewayTimeout)
				return
			}
		}
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{})
	e.poller.Workers = 1
	pipe := e.poller.Ingester
	e.poller.Ingester = ingestFunc(func(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
		res, err := pipe.Ingest(ctx, f, items)
		if f.Name == "fast" && hold.Load() {
			once.Do(func() { close(ingested) })
		}
		return res, err
	})
	ctx := context.Background()
	// The slow feed's last fetch took longest: it is listed last, started first.
	if err := e.store.PutFeed(ctx, &storage.FeedState{Name: "slow", URL: srv.URL + "/slow", ConfiguredURL: srv.URL + "/slow", FetchMS: 3000}); err != nil {
		t.Fatal(err)
	}
	fs := []config.Feed{{Name: "fast", URL: srv.URL + "/fast"}, {Name: "slow", URL: srv.URL + "/slow"}}
	res := e.poller.PollAll(ctx, fs, 1, true)
	if res[0].Feed != "fast" || res[1].Feed != "slow" {
		t.Fatalf("results not in the feeds' order: %+v", res)
	}
	if len(order) != 2 || order[0] != "/slow" {
		t.Errorf("fetch order %v, want the slowest first", order)
	}
	// Now both at once: the slow feed's fetch must not hold the one worker.
	e.store.PutFeed(ctx, &storage.FeedState{Name: "fast", URL: srv.URL + "/fast2", ConfiguredURL: srv.URL + "/fast2"})
	fs[0].URL = srv.URL + "/fast2"
	e.store.PutFeed(ctx, &storage.FeedState{Name: "slow", URL: srv.URL + "/slow", ConfiguredURL: srv.URL + "/slow", FetchMS: 3000})
	hold.Store(true)
	res = e.poller.PollAll(ctx, fs, 2, true)
	for _, r := range res {
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("%s: %+v", r.Feed, r)
		}
	}
}

// TestWorkersBoundIngest: however many feeds are fetched at once, at most
// Workers of them are parsed and ingested at once.
func TestWorkersBoundIngest(t *testing.T) {
	body := testdata(t, "feed.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{PerHost: 16})
	e.poller.Workers = 2
	var cur, peak, calls atomic.Int32
	e.poller.Ingester = ingestFunc(func(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
		calls.Add(1)
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		return &storage.CommitResult{}, nil
	})
	var fs []config.Feed
	for i := 0; i < 12; i++ {
		fs = append(fs, config.Feed{Name: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("%s/%d", srv.URL, i)})
	}
	e.poller.PollAll(context.Background(), fs, 12, true)
	if calls.Load() != 12 {
		t.Fatalf("%d feeds ingested, want 12", calls.Load())
	}
	if p := peak.Load(); p > 2 || p < 2 {
		t.Errorf("peak ingests at once %d, want 2 (Workers)", p)
	}
}

type ingestFunc func(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error)

func (fn ingestFunc) Ingest(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
	return fn(ctx, f, items)
}

// TestWaitingForAWorkerIsNotTheFeedsTimeout: a feed whose body arrives
// while every worker is busy waits for one without its poll.timeout
// running, and a server slower than poll.timeout still times out.
func TestWaitingForAWorkerIsNotTheFeedsTimeout(t *testing.T) {
	body := testdata(t, "feed.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stuck" {
			time.Sleep(600 * time.Millisecond)
		}
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{PerHost: 4})
	e.poller.Workers = 1
	e.poller.Timeout = 300 * time.Millisecond
	pipe := e.poller.Ingester
	e.poller.Ingester = ingestFunc(func(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
		time.Sleep(400 * time.Millisecond) // holds the one worker
		return pipe.Ingest(ctx, f, items)
	})
	var fs []config.Feed
	for i := 0; i < 3; i++ {
		fs = append(fs, config.Feed{Name: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("%s/%d", srv.URL, i)})
	}
	fs = append(fs, config.Feed{Name: "stuck", URL: srv.URL + "/stuck"})
	res := e.poller.PollAll(context.Background(), fs, 4, true)
	for _, r := range res[:3] {
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("%s, waiting for the worker: %+v", r.Feed, r)
		}
	}
	if r := res[3]; r.Err == nil || !strings.Contains(r.Err.Error(), "timed out (poll.timeout)") {
		t.Errorf("a server slower than poll.timeout: %+v", r)
	}
}

// TestFetchTimeIsTheServers: a feed's recorded fetch time, which orders
// the next cycle, leaves out its wait for a connection to its host.
func TestFetchTimeIsTheServers(t *testing.T) {
	body := testdata(t, "feed.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond)
		}
		w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{PerHost: 1})
	ctx := context.Background()
	e.store.PutFeed(ctx, &storage.FeedState{Name: "slow", URL: srv.URL + "/slow", ConfiguredURL: srv.URL + "/slow", FetchMS: 1000})
	e.poller.PollAll(ctx, []config.Feed{{Name: "fast", URL: srv.URL + "/fast"}, {Name: "slow", URL: srv.URL + "/slow"}}, 2, true)
	fast, err := e.store.Feed(ctx, "fast")
	if err != nil {
		t.Fatal(err)
	}
	slow, err := e.store.Feed(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if slow.FetchMS < 400 || fast.FetchMS >= 200 {
		t.Errorf("fetch times: slow %d ms, fast %d ms (it waited behind the slow one for the one connection)", slow.FetchMS, fast.FetchMS)
	}
}

// stager wraps the pipeline's two steps, holding a commit back until told.
type stager struct {
	pipe     *pipeline.Pipeline
	staged   chan string
	hold     chan struct{}
	holdName string
}

func (s *stager) Ingest(ctx context.Context, f *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
	return s.pipe.Ingest(ctx, f, items)
}

func (s *stager) Stage(ctx context.Context, items []*storage.Item) (func(context.Context, *storage.FeedState) (*storage.CommitResult, error), error) {
	commit, err := s.pipe.Stage(ctx, items)
	if err != nil {
		return nil, err
	}
	s.staged <- items[0].Feed
	return func(ctx context.Context, f *storage.FeedState) (*storage.CommitResult, error) {
		if f.Name == s.holdName {
			select {
			case <-s.hold:
			case <-time.After(5 * time.Second):
				return nil, errors.New("held for good: the other feed was never staged")
			}
		}
		return commit(ctx, f)
	}, nil
}

// TestWaitingToCommitHoldsNoWorker: a feed staged and waiting for its
// turn to commit (the store's lock, the disk's sync) has handed its worker
// to the next feed.
func TestWaitingToCommitHoldsNoWorker(t *testing.T) {
	body := testdata(t, "rss-utf8.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	e := newEnv(t, feeds.FetchOptions{PerHost: 4})
	e.poller.Workers = 1
	s := &stager{pipe: e.poller.Ingester.(*pipeline.Pipeline), staged: make(chan string, 2), hold: make(chan struct{}), holdName: "first"}
	e.poller.Ingester = s
	go func() {
		<-s.staged // one feed is staged; the held one's commit waits
		<-s.staged // the other was staged meanwhile, on the one worker
		close(s.hold)
	}()
	ctx := context.Background()
	e.store.PutFeed(ctx, &storage.FeedState{Name: "first", URL: srv.URL + "/a", ConfiguredURL: srv.URL + "/a", FetchMS: 100})
	res := e.poller.PollAll(ctx, []config.Feed{{Name: "first", URL: srv.URL + "/a"}, {Name: "second", URL: srv.URL + "/b"}}, 2, true)
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Feed, r.Err)
		}
	}
	if n, _ := e.store.ItemCount(ctx); n == 0 {
		t.Error("nothing stored")
	}
}
