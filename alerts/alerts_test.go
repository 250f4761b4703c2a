package alerts_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/corpus"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	report = "أعلنت وزارة الصحة الليبية ارتفاع عدد ضحايا الفيضانات في مدينة درنة إلى 42 قتيلا وعشرات المفقودين، فيما تواصل فرق الإنقاذ البحث عن ناجين تحت الأنقاض في الأحياء القريبة من مجرى الوادي."
	other  = "افتتح معرض الرياض الدولي للكتاب أبوابه أمام الزوار بمشاركة أكثر من ألف وثمانمئة دار نشر من ثلاثين دولة، وتحل سلطنة عمان ضيف شرف على دورة هذا العام."
)

type env struct {
	store *boltstore.Bolt
	pipe  *pipeline.Pipeline
	path  string
}

func newEnv(t *testing.T, rules []config.Rule, path string) *env {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "raqib.db")
	}
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := alerts.NewEngine(rules)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(context.Background(), st, 30*24*time.Hour, eng, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, pipe: p, path: path}
}

func (e *env) ingest(t *testing.T, feed, id, title, body string) *storage.Item {
	t.Helper()
	it := &storage.Item{ID: id, Feed: feed, Title: title, Summary: body, Language: "ar", URL: "https://" + feed + ".example/" + id,
		Fetched: time.Now(), Keys: []string{"url:https://" + feed + ".example/" + id}}
	res, err := e.pipe.Ingest(context.Background(), &storage.FeedState{Name: feed}, []*storage.Item{it})
	if err != nil || len(res.Stored) != 1 {
		t.Fatalf("ingest %s: %v %+v", id, err, res)
	}
	return res.Stored[0]
}

// receiver is a webhook endpoint that verifies Standard Webhooks signatures
// and can be taken down and brought back.
type receiver struct {
	t       *testing.T
	key     []byte
	down    atomic.Bool
	mu      sync.Mutex
	got     map[string]int // webhook-id -> deliveries
	bodies  []map[string]any
	refused atomic.Int32
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		r.refused.Add(1)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(req.Body)
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if id == "" || !hmac.Equal([]byte(sig), []byte(want)) || time.Since(time.Unix(sec, 0)) > 5*time.Minute {
		r.t.Errorf("bad signature: id %q ts %q sig %q want %q", id, ts, sig, want)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		r.t.Errorf("body is not JSON: %s", body)
	}
	r.mu.Lock()
	r.got[id]++
	r.bodies = append(r.bodies, m)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func newReceiver(t *testing.T, key []byte) (*receiver, *httptest.Server) {
	r := &receiver{t: t, key: key, got: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func webhookDispatcher(t *testing.T, st storage.Store, url, secret string) *alerts.Dispatcher {
	s, err := alerts.NewSender(config.Channel{Name: "hook", Type: "webhook", URL: url, Secret: secret}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return &alerts.Dispatcher{Store: st, Senders: map[string]alerts.Sender{"hook": s}, MaxAttempts: 5, Log: quiet}
}

func TestOneAlertPerStoryAndNoneForSeeds(t *testing.T) {
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "ليبيا OR درنة", Channels: []string{"hook"}}, {Name: "books", Query: "معرض الكتاب", Channels: []string{"hook"}}}, "")
	ctx := context.Background()
	seed, _ := corpus.ParseFile("s.txt", []byte(other))
	e.pipe.ImportSeeds(ctx, []*corpus.Doc{seed})
	first := e.ingest(t, "a", "1", "فيضانات درنة", report)
	copy := e.ingest(t, "b", "2", "ضحايا فيضانات درنة", report)
	fromSeed := e.ingest(t, "c", "3", "معرض الكتاب", other)
	if copy.DuplicateOf != first.ID || fromSeed.DuplicateOf != "seed:s.txt" {
		t.Fatalf("clusters: %q %q", copy.DuplicateOf, fromSeed.DuplicateOf)
	}
	if len(fromSeed.Rules) != 1 || fromSeed.Rules[0] != "books" {
		t.Errorf("seed copy still records its rules: %v", fromSeed.Rules)
	}
	as, _ := e.store.Alerts(ctx, "")
	if len(as) != 1 || as[0].Rule != "libya" || as[0].ItemID != first.ID {
		t.Fatalf("alerts %+v", as)
	}
}

// A receiver that is down and comes back gets every alert exactly once,
// and retries carry the same webhook-id.
func TestWebhookDownThenUp(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	rcv, srv := newReceiver(t, key)
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "ليبيا OR درنة", Channels: []string{"hook"}}, {Name: "books", Query: "الكتاب", Channels: []string{"hook"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	e.ingest(t, "a", "2", "معرض الكتاب", other)
	d := webhookDispatcher(t, e.store, srv.URL, "whsec_"+base64.StdEncoding.EncodeToString(key))
	ctx := context.Background()
	rcv.down.Store(true)
	if _, pending, _ := d.Flush(ctx, 2, 10*time.Millisecond); pending != 2 {
		t.Fatalf("pending %d while the receiver is down", pending)
	}
	// The first round sends both; the second keeps to their backoff, so a
	// one-shot run spends one attempt of each, not one a try.
	if rcv.refused.Load() != 2 {
		t.Errorf("attempts while down: %d, want 2 alerts × 1 forced try", rcv.refused.Load())
	}
	if as, _ := e.store.Alerts(ctx, storage.AlertPending); len(as) != 2 || as[0].Attempts != 1 || as[1].Attempts != 1 {
		t.Errorf("attempts spent by one flush: %+v", as)
	}
	rcv.down.Store(false)
	delivered, pending, err := d.Flush(ctx, 3, 10*time.Millisecond)
	if err != nil || delivered != 2 || pending != 0 {
		t.Fatalf("delivered %d pending %d %v", delivered, pending, err)
	}
	d.Flush(ctx, 3, 10*time.Millisecond) // nothing left to send
	if len(rcv.got) != 2 {
		t.Fatalf("ids received: %v", rcv.got)
	}
	for id, n := range rcv.got {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	item := rcv.bodies[0]["item"].(map[string]any)
	for _, k := range []string{"id", "title", "url", "feed", "summary", "cluster", "cluster_size"} {
		if _, ok := item[k]; !ok {
			t.Errorf("payload item lacks %q: %v", k, item)
		}
	}
}

func TestWebhookPermanentFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadRequest) }))
	defer srv.Close()
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"hook"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	d := webhookDispatcher(t, e.store, srv.URL, "plain-secret")
	d.Flush(context.Background(), 3, time.Millisecond)
	failed, _ := e.store.Alerts(context.Background(), storage.AlertFailed)
	if len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "HTTP 400") {
		t.Fatalf("a 400 should fail at once, kept for inspection: %+v", failed)
	}
}

func TestRetryAfterAndBackoffInTheDaemon(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"hook"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	d := webhookDispatcher(t, e.store, srv.URL, "s")
	start := time.Now()
	if _, err := d.Round(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	as, _ := e.store.Alerts(context.Background(), storage.AlertPending)
	if len(as) != 1 || as[0].NextTry.Sub(start) < 119*time.Second {
		t.Fatalf("Retry-After not honoured: %+v", as)
	}
	// Not due yet: a normal round does not send it.
	d.Round(context.Background(), false)
	if calls.Load() != 1 {
		t.Errorf("sent before its time: %d calls", calls.Load())
	}
}

func TestDigestOneMessage(t *testing.T) {
	key := []byte("k")
	rcv, srv := newReceiver(t, key)
	e := newEnv(t, []config.Rule{{Name: "all", Query: "درنة OR الكتاب", Channels: []string{"hook"}, Digest: config.Duration(time.Hour)}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	e.ingest(t, "a", "2", "معرض الكتاب", other)
	d := webhookDispatcher(t, e.store, srv.URL, "k")
	d.Round(context.Background(), false)
	if len(rcv.got) != 0 {
		t.Fatal("digest sent before it was due")
	}
	// A daemon's start and every poll --once force a round, and a round
	// forced used to send a digest whatever its window: an hourly digest of
	// two items went out as two messages over two runs.
	for range 2 {
		restarted := webhookDispatcher(t, e.store, srv.URL, "k")
		if _, pending, err := restarted.Flush(context.Background(), 1, 0); err != nil || pending != 0 {
			t.Fatalf("flush: %d pending, %v", pending, err)
		}
		if n, _ := restarted.Waiting(context.Background()); n != 2 {
			t.Errorf("%d alerts waiting for the digest, want 2", n)
		}
	}
	if len(rcv.got) != 0 {
		t.Fatalf("a forced round sent the digest before its window closed: %v", rcv.bodies)
	}
	d = webhookDispatcher(t, e.store, srv.URL, "k")
	d.Now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	d.Round(context.Background(), true)
	if len(rcv.got) != 1 || len(rcv.bodies[0]["items"].([]any)) != 2 {
		t.Fatalf("want one digest of two items: %v %v", rcv.got, rcv.bodies)
	}
}

// smtpServer is a real SMTP server on loopback, from a Go SMTP library.
type smtpServer struct {
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.rcpt = append(x.s.rcpt, to)
	x.s.mu.Unlock()
	return nil
}
func (x *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, string(b))
	x.s.mu.Unlock()
	return err
}

func TestEmailToARealSMTPServer(t *testing.T) {
	be := &smtpServer{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port

	e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"mail"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	ch := config.Channel{Name: "mail", Type: "email", Host: "127.0.0.1", Port: port, TLS: "none", From: "raqib@desk.example", To: []string{"analyst@desk.example"}}
	s, _ := alerts.NewSender(ch, quiet)
	d := &alerts.Dispatcher{Store: e.store, Senders: map[string]alerts.Sender{"mail": s}, Log: quiet}
	if delivered, _, err := d.Flush(context.Background(), 1, 0); delivered != 1 || err != nil {
		as, _ := e.store.Alerts(context.Background(), "")
		t.Fatalf("delivered %d %v %+v", delivered, err, as[0])
	}
	if len(be.msgs) != 1 || be.rcpt[0] != "analyst@desk.example" {
		t.Fatalf("server got %d messages, rcpt %v", len(be.msgs), be.rcpt)
	}
	msg, err := mail.ReadMessage(strings.NewReader(be.msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[raqib] libya: فيضانات درنة" {
		t.Errorf("subject %q (raw %q) %v", subject, msg.Header.Get("Subject"), err)
	}
	if raw := msg.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?") {
		t.Errorf("subject not encoded for UTF-8: %q", raw)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/alternative" {
		t.Fatalf("content type %q", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	parts := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(decodeQP(p))
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(body)
	}
	if !strings.Contains(parts["text/plain"], "فيضانات درنة") {
		t.Errorf("text part: %q", parts["text/plain"])
	}
	if h := parts["text/html"]; !strings.Contains(h, `dir="rtl"`) || !strings.Contains(h, `lang="ar"`) || !strings.Contains(h, "فيضانات درنة") {
		t.Errorf("html part: %q", h)
	}
}

// countingStore records which alerts each UpdateAlerts call carried.
type countingStore struct {
	*boltstore.Bolt
	mu    sync.Mutex
	calls [][]string
}

func (s *countingStore) UpdateAlerts(ctx context.Context, as []*storage.Alert) error {
	s.mu.Lock()
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	s.calls = append(s.calls, ids)
	s.mu.Unlock()
	return s.Bolt.UpdateAlerts(ctx, as)
}

// A burst of alerts goes out in one round, each message once, and each
// outcome is recorded once, in shared transactions of 8 to 64.
func TestBurstOfAlerts(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	rcv, srv := newReceiver(t, key)
	e := newEnv(t, nil, "")
	const n = 150
	batch := &storage.Batch{Feed: &storage.FeedState{Name: "a"}}
	now := time.Now()
	for i := range n {
		id := fmt.Sprint("item-", i)
		batch.Items = append(batch.Items, &storage.Item{ID: id, Feed: "a", Title: id, Summary: report, Fetched: now,
			Keys: []string{"url:https://a.example/" + id}, Cluster: id})
		batch.Alerts = append(batch.Alerts, &storage.Alert{ID: alerts.AlertID("libya", id, "hook"), Rule: "libya", Channel: "hook",
			ItemID: id, Cluster: id, State: storage.AlertPending, Created: now})
	}
	if _, err := e.store.Commit(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Bolt: e.store}
	d := webhookDispatcher(t, cs, srv.URL, "whsec_"+base64.StdEncoding.EncodeToString(key))
	if _, err := d.Round(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if len(rcv.got) != n {
		t.Fatalf("%d messages received, want %d", len(rcv.got), n)
	}
	for id, k := range rcv.got {
		if k != 1 {
			t.Errorf("%s received %d times", id, k)
		}
	}
	recorded := map[string]int{}
	for i, ids := range cs.calls {
		if len(ids) > 64 || len(ids) < 8 && i < len(cs.calls)-1 { // only the last may be short
			t.Errorf("%d outcomes recorded in one transaction", len(ids))
		}
		for _, id := range ids {
			recorded[id]++
		}
	}
	if len(recorded) != n {
		t.Errorf("%d alerts recorded, want %d", len(recorded), n)
	}
	for id, k := range recorded {
		if k != 1 {
			t.Errorf("%s recorded %d times", id, k)
		}
	}
	pending, err := e.store.Alerts(context.Background(), storage.AlertPending)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after the round: %d %v", len(pending), err)
	}
	t.Logf("%d alerts recorded in %d transactions", n, len(cs.calls))
}

// An email channel's timeout is its own: a server that accepts the
// connection and never greets gives up after it, not after a fixed half
// minute.
func TestEmailTimeoutIsHonoured(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting, ever
		}
	}()
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"mail"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	ch := config.Channel{Name: "mail", Type: "email", Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none",
		From: "raqib@desk.example", To: []string{"analyst@desk.example"}, Timeout: config.Duration(300 * time.Millisecond)}
	s, _ := alerts.NewSender(ch, quiet)
	d := &alerts.Dispatcher{Store: e.store, Senders: map[string]alerts.Sender{"mail": s}, Log: quiet}
	start := time.Now()
	delivered, pending, _ := d.Flush(context.Background(), 1, 0)
	if took := time.Since(start); took > 10*time.Second || delivered != 0 || pending != 1 {
		t.Errorf("a silent server: %d delivered, %d pending after %v (the channel's timeout is 300ms)", delivered, pending, took)
	}
}

// TestSlowChannelHoldsBackNoOther: a webhook that does not answer (a
// receiver taking its time) had every sender of the round waiting on it,
// and the next round, with a fast channel's new alerts, waited for the
// round. Each channel delivers in its own lane now: the fast channel's
// alerts, the ones pending and one that comes later, go out while the
// slow one still holds its own.
func TestSlowChannelHoldsBackNoOther(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	fast, fastSrv := newReceiver(t, key)
	release := make(chan struct{})
	var slowCalls atomic.Int32
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowCalls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer slowSrv.Close()
	defer close(release)
	e := newEnv(t, nil, "")
	now := time.Now()
	add := func(channel string, ids ...string) {
		batch := &storage.Batch{Feed: &storage.FeedState{Name: "a"}}
		for _, id := range ids {
			batch.Items = append(batch.Items, &storage.Item{ID: id, Feed: "a", Title: id, Summary: report, Fetched: now,
				Keys: []string{"url:https://a.example/" + id}, Cluster: id})
			batch.Alerts = append(batch.Alerts, &storage.Alert{ID: alerts.AlertID("libya", id, channel), Rule: "libya", Channel: channel,
				ItemID: id, Cluster: id, State: storage.AlertPending, Created: now})
		}
		if _, err := e.store.Commit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	var slowIDs, fastIDs []string
	for i := range 20 {
		slowIDs = append(slowIDs, fmt.Sprint("s", i))
	}
	for i := range 5 {
		fastIDs = append(fastIDs, fmt.Sprint("f", i))
	}
	add("slow", slowIDs...) // first in the outbox
	add("fast", fastIDs...)
	mk := func(name, url string) alerts.Sender {
		s, err := alerts.NewSender(config.Channel{Name: name, Type: "webhook", URL: url, Secret: "whsec_" + base64.StdEncoding.EncodeToString(key), Timeout: config.Duration(time.Minute)}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	d := &alerts.Dispatcher{Store: e.store, Senders: map[string]alerts.Sender{"slow": mk("slow", slowSrv.URL), "fast": mk("fast", fastSrv.URL)},
		Concurrency: map[string]int{"slow": 2}, MaxAttempts: 5, Log: quiet}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	received := func(n int) bool {
		fast.mu.Lock()
		defer fast.mu.Unlock()
		return len(fast.got) == n
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: fast channel received %d, slow channel asked %d times", what, len(fast.got), slowCalls.Load())
			}
		}
	}
	wait("the pending alerts", func() bool { return received(5) && slowCalls.Load() > 0 })
	add("fast", "later")
	d.Wake()
	wait("an alert raised while the slow channel hangs", func() bool { return received(6) })
	wait("the slow channel at its concurrency", func() bool { return slowCalls.Load() >= 2 })
	time.Sleep(50 * time.Millisecond)
	if n := slowCalls.Load(); n != 2 {
		t.Errorf("the slow channel was asked %d times at once, want its concurrency of 2", n)
	}
}

// TestOfficialLibraryVerifies: deliveries signed with each accepted form
// of secret (whsec_ and padded base64, as `raqib webhook secret` makes;
// whsec_ and unpadded base64; a plain string, which the library takes with
// its raw format) verify with the official Standard Webhooks library, run
// by node; a body changed on the way does not. The standard payload shape
// carries type, timestamp and the alert as data.
func TestOfficialLibraryVerifies(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "standardwebhooks"))
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: .ci/run must install nodejs and npm", tool)
			}
			t.Skipf("%s not installed (apt-get install nodejs npm) — CI runs this test", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		if out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--prefix", dir).CombinedOutput(); err != nil {
			t.Fatalf("installing the standardwebhooks npm package (needs node and npm): %v\n%s", err, out)
		}
	}
	generated, err := alerts.NewWebhookSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("a desk's own secret, 32 bytes ok")
	cases := []struct {
		name, secret string
		raw          bool
		standard     bool
	}{
		{"generated", generated, false, true},
		{"unpadded", "whsec_" + base64.RawStdEncoding.EncodeToString(key[:31]), false, false},
		{"raw string", "a plain secret string", true, false},
	}
	type delivery struct {
		Secret  string            `json:"secret"`
		Raw     bool              `json:"raw"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var mu sync.Mutex
	var got []delivery
	var secretOf string
	var rawOf bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			h[k] = r.Header.Get(k)
		}
		mu.Lock()
		got = append(got, delivery{secretOf, rawOf, h, string(body)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, c := range cases {
		if _, err := config.Parse("c.yaml", []byte("alerts:\n  channels:\n    - {name: hook, type: webhook, url: \"http://127.0.0.1:1/\", secret: \""+c.secret+"\"}\n")); err != nil {
			t.Errorf("%s: the configuration refuses the secret: %v", c.name, err)
		}
		payload := ""
		if c.standard {
			payload = "standard"
		}
		s, err := alerts.NewSender(config.Channel{Name: "hook", Type: "webhook", URL: srv.URL, Secret: c.secret, Payload: payload}, quiet)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		mu.Lock()
		secretOf, rawOf = c.secret, c.raw
		mu.Unlock()
		n := &alerts.Notification{ID: "al_" + strings.ReplaceAll(c.name, " ", "_"), Rule: "libya", Created: time.Now(),
			Item: &alerts.ItemInfo{ID: "i1", Title: "فيضانات درنة", URL: "https://a.example/1", Feed: "a"}}
		if err := s.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	// A body changed on the way must not verify.
	tampered := got[0]
	tampered.Body = strings.Replace(tampered.Body, "libya", "sudan", 1)
	got = append(got, tampered)
	var in bytes.Buffer
	for _, d := range got {
		b, _ := json.Marshal(d)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command("node", filepath.Join(dir, "verify.js"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.js: %v", err)
	}
	var results []struct {
		OK      bool           `json:"ok"`
		Error   string         `json:"error"`
		Payload map[string]any `json:"payload"`
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			OK      bool           `json:"ok"`
			Error   string         `json:"error"`
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("node said %q", line)
		}
		results = append(results, r)
	}
	if len(results) != len(cases)+1 {
		t.Fatalf("%d results for %d deliveries: %s", len(results), len(cases)+1, out)
	}
	for i, c := range cases {
		if !results[i].OK {
			t.Errorf("%s: the official library refuses the delivery: %s", c.name, results[i].Error)
		}
	}
	if results[len(cases)].OK {
		t.Error("a tampered body verified")
	}
	std := results[0].Payload
	if std["type"] != "alert.created" || std["timestamp"] == nil || std["data"].(map[string]any)["rule"] != "libya" {
		t.Errorf("standard payload %v", std)
	}
	if results[1].Payload["rule"] != "libya" || results[1].Payload["type"] != nil {
		t.Errorf("raqib payload %v", results[1].Payload)
	}
}

// A receiver that redirects does not get its redirect followed: a 302's
// landing page would have marked the alert delivered, and a 307 handed
// the signed payload to wherever it points. The delivery fails, saying
// where the receiver moved.
func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/landing", code)
		}))
		e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"hook"}}}, "")
		e.ingest(t, "a", "1", "فيضانات درنة", report)
		d := webhookDispatcher(t, e.store, srv.URL, "plain-secret")
		d.Flush(context.Background(), 3, time.Millisecond)
		failed, _ := e.store.Alerts(context.Background(), storage.AlertFailed)
		if len(failed) != 1 || !strings.Contains(failed[0].LastError, fmt.Sprintf("HTTP %d to %s/landing", code, other.URL)) {
			t.Errorf("a %d: %+v", code, failed)
		}
		srv.Close()
	}
	if elsewhere.Load() != 0 {
		t.Errorf("the redirect was followed %d times", elsewhere.Load())
	}
}

// idReceiver records, per webhook-id, the item ids of each message; it
// answers 503 while down.
type idReceiver struct {
	down atomic.Bool
	mu   sync.Mutex
	msgs map[string][][]string
}

func (r *idReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var n struct {
		Item  *struct{ ID string }  `json:"item"`
		Items []struct{ ID string } `json:"items"`
	}
	json.Unmarshal(body, &n)
	var ids []string
	if n.Item != nil {
		ids = append(ids, n.Item.ID)
	}
	for _, it := range n.Items {
		ids = append(ids, it.ID)
	}
	r.mu.Lock()
	r.msgs[req.Header.Get("webhook-id")] = append(r.msgs[req.Header.Get("webhook-id")], ids)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

var digestTexts = []string{
	report,
	other,
	"قررت الحكومة المغربية رفع أسعار الوقود بنسبة خمسة في المئة ابتداء من الشهر المقبل بعد ارتفاع أسعار النفط في الأسواق العالمية وتراجع قيمة الدرهم أمام الدولار.",
	"فاز المنتخب الأردني لكرة القدم على نظيره الكويتي بثلاثة أهداف مقابل هدف في المباراة التي جرت على ملعب عمان الدولي ضمن تصفيات كأس العالم للمنتخبات.",
	"أطلقت وكالة الفضاء الإماراتية قمرا صناعيا جديدا لرصد التغيرات المناخية في منطقة الخليج العربي بالتعاون مع جامعة خليفة ومركز محمد بن راشد للفضاء.",
}

// A digest whose first attempt failed goes again as the one message it
// was, under its id: its alerts come due together (one backoff for the
// message, not a jittered one each), and all of it goes when any is due.
// Split, a receiver that drops an id it has seen (as Standard Webhooks
// asks) would have lost all but the first part.
func TestFailedDigestGoesAgainAsOneMessage(t *testing.T) {
	rcv := &idReceiver{msgs: map[string][][]string{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e := newEnv(t, []config.Rule{{Name: "all", Query: "في OR على OR من", Channels: []string{"hook"}, Digest: config.Duration(time.Hour)}}, "")
	for i, txt := range digestTexts {
		e.ingest(t, "f", fmt.Sprint("i", i), fmt.Sprint("title ", i), txt)
	}
	ctx := context.Background()
	pend, _ := e.store.Alerts(ctx, storage.AlertPending)
	if len(pend) != len(digestTexts) {
		t.Fatalf("%d alerts, want %d", len(pend), len(digestTexts))
	}
	clock := pend[0].Digest.Add(time.Second)
	d := webhookDispatcher(t, e.store, srv.URL, "k")
	d.MaxAttempts = 10
	d.Now = func() time.Time { return clock }
	rcv.down.Store(true)
	if _, err := d.Round(ctx, false); err != nil { // the window closed; the receiver is down
		t.Fatal(err)
	}
	pend, _ = e.store.Alerts(ctx, storage.AlertPending)
	if len(pend) != len(digestTexts) || pend[0].Batch == "" {
		t.Fatalf("after the failed attempt: %+v", pend)
	}
	rcv.down.Store(false)
	// The daemon's lane loop: wake at the earliest next try, rounds not forced.
	for i := 0; i < 20; i++ {
		next, err := d.Round(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			break
		}
		clock = next
	}
	if len(rcv.msgs) != 1 {
		t.Errorf("the digest went as %d messages: %v", len(rcv.msgs), rcv.msgs)
	}
	for id, ms := range rcv.msgs {
		if len(ms) != 1 || len(ms[0]) != len(digestTexts) || id != pend[0].Batch {
			t.Errorf("webhook-id %s (the digest's %s): messages %v", id, pend[0].Batch, ms)
		}
	}
}

// recordsFail is a real store whose outcome records fail while failing is
// set, as a full disk's commits do while BoltDB still reads its map.
type recordsFail struct {
	storage.Store
	failing *atomic.Bool
}

func (s recordsFail) UpdateAlerts(ctx context.Context, as []*storage.Alert) error {
	if s.failing.Load() {
		return errors.New("write raqib.db: no space left on device")
	}
	return s.Store.UpdateAlerts(ctx, as)
}

// A delivery whose record fails is not sent again round after round (in
// the store it is still pending and due): nothing more goes until the
// outcome is recorded, and then it is, without another send.
func TestUnrecordedDeliveryIsNotResent(t *testing.T) {
	rcv := &idReceiver{msgs: map[string][][]string{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	e := newEnv(t, []config.Rule{{Name: "libya", Query: "درنة", Channels: []string{"hook"}}}, "")
	e.ingest(t, "a", "1", "فيضانات درنة", report)
	var failing atomic.Bool
	failing.Store(true)
	d := webhookDispatcher(t, recordsFail{e.store, &failing}, srv.URL, "k")
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		d.Round(ctx, false)
	}
	if len(rcv.msgs) != 1 {
		t.Fatalf("messages: %v", rcv.msgs)
	}
	for id, ms := range rcv.msgs {
		if len(ms) != 1 {
			t.Errorf("%s sent %d times while its record failed", id, len(ms))
		}
	}
	failing.Store(false)
	if _, err := d.Round(ctx, false); err != nil {
		t.Fatal(err)
	}
	if as, _ := e.store.Alerts(ctx, storage.AlertDelivered); len(as) != 1 {
		t.Errorf("delivered after the disk had room: %+v", as)
	}
	for id, ms := range rcv.msgs {
		if len(ms) != 1 {
			t.Errorf("%s sent %d times in all", id, len(ms))
		}
	}
}

// "Not a duplicate" on the item that raised its story's alert, still
// waiting in a digest: the old story's alert stands for another of its
// items that matched the rule, or, with none, is not sent (the item's own
// story alerts with it); the digest does not carry the item twice.
func TestSplitMendsTheOldStorysWaitingAlert(t *testing.T) {
	ctx := context.Background()
	more := report + " وفي طرابلس أعلنت الحكومة الحداد ثلاثة أيام على أرواح الضحايا."
	for _, c := range []struct {
		name  string
		third bool // a later copy that matches the rule too
	}{{"none left", false}, {"another left", true}} {
		e := newEnv(t, []config.Rule{{Name: "tripoli", Query: "طرابلس", Channels: []string{"hook"}, Digest: config.Duration(time.Hour)}}, "")
		first := e.ingest(t, "a", "1", "فيضانات درنة", report)
		second := e.ingest(t, "b", "2", "فيضانات درنة", more)
		if second.Cluster != first.ID || len(second.Rules) != 1 {
			t.Fatalf("%s: the second copy: story %s, rules %v", c.name, second.Cluster, second.Rules)
		}
		var third *storage.Item
		if c.third {
			third = e.ingest(t, "c", "3", "فيضانات درنة", more)
		}
		if _, err := e.pipe.NotDuplicate(ctx, second.ID); err != nil {
			t.Fatal(err)
		}
		all, _ := e.store.Alerts(ctx, "")
		byStory := map[string]*storage.Alert{}
		for _, a := range all {
			byStory[a.Cluster] = a
		}
		old, own := byStory[first.ID], byStory[second.ID]
		if own == nil || own.ItemID != second.ID || own.State != storage.AlertPending {
			t.Errorf("%s: the split story's alert: %+v", c.name, own)
		}
		switch {
		case old == nil:
			t.Errorf("%s: the old story's alert is gone", c.name)
		case c.third && (old.ItemID != third.ID || old.State != storage.AlertPending):
			t.Errorf("%s: the old story's alert: %+v, want it for item %s", c.name, old, third.ID)
		case !c.third && (old.State != storage.AlertFailed || !strings.Contains(old.LastError, "story of its own")):
			t.Errorf("%s: the old story's alert: %+v, want it not sent, saying why", c.name, old)
		}
	}
}
