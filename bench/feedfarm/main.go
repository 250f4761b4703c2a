// Command feedfarm serves thousands of Arabic news feeds on loopback for
// load tests of raqib, and receives its webhooks.
//
// Feed i lives on 127.0.0.(1 + i%hosts). Each has a few items at start;
// POST /advance on the control address gives a share of the feeds 1 to 5
// new items (the rest keep answering 304). Some feeds are slow, failing,
// redirecting, windows-1256, or never answer 304 though nothing changed.
// The farm writes a raqib configuration for all of it into -dir, and
// /stats reports requests and webhook alert latencies.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/raqib/raqib/bench/textgen"
)

type kind int

const (
	normal kind = iota
	slow
	failing
	redirecting
	cp1256
	no304
)

type item struct {
	n     int
	title string
	body  string
	when  time.Time
}

type feed struct {
	mu      sync.Mutex
	id      int
	kind    kind
	items   []item // newest first, at most maxItems
	version int
	body    []byte // rendered for version
	bodyVer int
	next    int
}

const maxItems = 10

type farm struct {
	feeds []*feed
	share float64
	epoch atomic.Int64

	statsMu   sync.Mutex
	status    map[int]int
	latencies []time.Duration
	hookIDs   map[string]int
}

func (f *feed) add(n int, now time.Time) {
	for i := 0; i < n; i++ {
		g := textgen.New(uint64(f.id)<<20 | uint64(f.next))
		it := item{n: f.next, title: g.Title(), body: g.Article(g.Words()), when: now}
		f.next++
		f.items = append([]item{it}, f.items...)
	}
	if len(f.items) > maxItems {
		f.items = f.items[:maxItems]
	}
	f.version++
}

func (f *feed) render() []byte {
	if f.bodyVer == f.version && f.body != nil {
		return f.body
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>`)
	fmt.Fprintf(&b, "<title>مصدر %d</title><link>http://farm.example/%d/</link><description>أخبار</description><language>ar</language>", f.id, f.id)
	for _, it := range f.items {
		fmt.Fprintf(&b, "<item><title>%s</title><link>http://farm.example/%d/%d</link><guid isPermaLink=\"false\">farm-%d-%d</guid><pubDate>%s</pubDate><description>%s</description></item>",
			html.EscapeString(it.title), f.id, it.n, f.id, it.n, it.when.UTC().Format(time.RFC1123Z), html.EscapeString("<p>"+strings.ReplaceAll(it.body, "\n\n", "</p><p>")+"</p>"))
	}
	b.WriteString("</channel></rss>")
	body := []byte(b.String())
	if f.kind == cp1256 {
		body = []byte(strings.Replace(string(body), `encoding="utf-8"`, `encoding="windows-1256"`, 1))
		enc, err := charmap.Windows1256.NewEncoder().Bytes(body)
		if err == nil {
			body = enc
		}
	}
	f.body, f.bodyVer = body, f.version
	return body
}

func (fm *farm) count(status int) {
	fm.statsMu.Lock()
	fm.status[status]++
	fm.statsMu.Unlock()
}

func (fm *farm) serveFeed(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	id, err := strconv.Atoi(parts[1])
	if err != nil || id < 0 || id >= len(fm.feeds) {
		http.NotFound(w, r)
		return
	}
	f := fm.feeds[id]
	switch {
	case f.kind == failing:
		fm.count(500)
		http.Error(w, "upstream down", http.StatusInternalServerError)
		return
	case f.kind == redirecting && parts[0] == "feed":
		fm.count(301)
		http.Redirect(w, r, fmt.Sprintf("/moved/%d", id), http.StatusMovedPermanently)
		return
	case f.kind == slow:
		time.Sleep(3 * time.Second)
	}
	f.mu.Lock()
	etag := fmt.Sprintf(`"v%d"`, f.version)
	body := f.render()
	f.mu.Unlock()
	if f.kind != no304 && r.Header.Get("If-None-Match") == etag {
		fm.count(304)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	fm.count(200)
	ctype := "application/rss+xml; charset=utf-8"
	if f.kind == cp1256 {
		ctype = "application/rss+xml" // the charset only in the prolog
	}
	w.Header().Set("Content-Type", ctype)
	if f.kind != no304 {
		w.Header().Set("ETag", etag)
	}
	w.Write(body)
}

// advance gives a share of the feeds 1 to 5 new items.
func (fm *farm) advance(w http.ResponseWriter, r *http.Request) {
	e := fm.epoch.Add(1)
	rng := rand.New(rand.NewPCG(uint64(e), 1))
	now := time.Now()
	changed, items := 0, 0
	for _, f := range fm.feeds {
		if rng.Float64() >= fm.share {
			continue
		}
		n := 1 + rng.IntN(5)
		f.mu.Lock()
		f.add(n, now)
		f.mu.Unlock()
		changed++
		items += n
	}
	fmt.Fprintf(w, `{"epoch": %d, "feeds_changed": %d, "new_items": %d}`+"\n", e, changed, items)
}

func (fm *farm) hook(w http.ResponseWriter, r *http.Request) {
	var n struct {
		Created time.Time `json:"created"`
	}
	received := time.Now()
	json.NewDecoder(r.Body).Decode(&n)
	fm.statsMu.Lock()
	fm.hookIDs[r.Header.Get("webhook-id")]++
	if !n.Created.IsZero() {
		fm.latencies = append(fm.latencies, received.Sub(n.Created))
	}
	fm.statsMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (fm *farm) stats(w http.ResponseWriter, r *http.Request) {
	fm.statsMu.Lock()
	defer fm.statsMu.Unlock()
	ls := append([]time.Duration(nil), fm.latencies...)
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	q := func(p float64) string {
		if len(ls) == 0 {
			return "-"
		}
		return ls[min(len(ls)-1, int(p*float64(len(ls))))].Round(time.Millisecond).String()
	}
	dups := 0
	for _, n := range fm.hookIDs {
		dups += n - 1
	}
	out := map[string]any{"requests": fm.status, "alerts": len(ls), "alert_ids": len(fm.hookIDs), "redeliveries": dups,
		"latency_p50": q(0.50), "latency_p99": q(0.99), "latency_max": q(1)}
	if r.URL.Query().Get("reset") == "1" {
		fm.latencies, fm.status = nil, map[int]int{}
	}
	json.NewEncoder(w).Encode(out)
}

func main() {
	n := flag.Int("feeds", 10000, "feeds to serve")
	hosts := flag.Int("hosts", 8, "loopback addresses to spread the feeds over (127.0.0.1 ...)")
	share := flag.Float64("new-share", 0.10, "share of feeds that get new items at each /advance")
	initial := flag.Int("initial", 3, "items each feed has at start")
	rules := flag.Int("rules", 1000, "alert rules in the generated configuration")
	dir := flag.String("dir", "", "folder for the generated config.yaml (and raqib's database)")
	perHost := flag.Int("per-host", 16, "poll.per_host in the generated configuration")
	odd := flag.Float64("odd", 0.01, "share of feeds of each odd kind: slow, failing, redirecting; twice it for windows-1256 and no-304")
	flag.Parse()
	if *dir == "" {
		log.Fatal("feedfarm: -dir is required")
	}
	fm := &farm{share: *share, status: map[int]int{}, hookIDs: map[string]int{}}
	rng := rand.New(rand.NewPCG(42, 42))
	now := time.Now()
	for i := 0; i < *n; i++ {
		f := &feed{id: i}
		switch x := rng.Float64(); {
		case x < *odd:
			f.kind = slow
		case x < 2**odd:
			f.kind = failing
		case x < 3**odd:
			f.kind = redirecting
		case x < 5**odd:
			f.kind = cp1256
		case x < 7**odd:
			f.kind = no304
		}
		f.add(*initial, now)
		fm.feeds = append(fm.feeds, f)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/feed/", fm.serveFeed)
	mux.HandleFunc("/moved/", fm.serveFeed)
	addrs := make([]string, *hosts)
	for h := 0; h < *hosts; h++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 1+h))
		if err != nil {
			log.Fatalf("feedfarm: listen: %v", err)
		}
		addrs[h] = l.Addr().String()
		go http.Serve(l, mux)
	}
	ctl := http.NewServeMux()
	ctl.HandleFunc("POST /advance", fm.advance)
	ctl.HandleFunc("POST /hook", fm.hook)
	ctl.HandleFunc("GET /stats", fm.stats)
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(cl, ctl)

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "# generated by bench/feedfarm\nstorage: {path: raqib.db}\nseeds: {dir: seeds}\n")
	fmt.Fprintf(&cfg, "poll: {schedule: \"@every 10s\", timeout: 10s, per_host: %d, jitter: 5s}\n", *perHost)
	fmt.Fprintf(&cfg, "server: {listen: \"127.0.0.1:0\"}\nfeeds:\n")
	for i := range fm.feeds {
		fmt.Fprintf(&cfg, "  - {name: f%d, url: \"http://%s/feed/%d\", language: ar}\n", i, addrs[i%*hosts], i)
	}
	fmt.Fprintf(&cfg, "alerts:\n  channels:\n    - {name: hook, type: webhook, url: \"http://%s/hook\", secret: bench}\n  rules:\n", cl.Addr())
	for i, q := range textgen.Rules(*rules, 7) {
		fmt.Fprintf(&cfg, "    - {name: r%d, query: '%s', channels: [hook]}\n", i, strings.ReplaceAll(q, "'", "''"))
	}
	os.MkdirAll(filepath.Join(*dir, "seeds"), 0o755)
	if err := os.WriteFile(filepath.Join(*dir, "config.yaml"), []byte(cfg.String()), 0o600); err != nil {
		log.Fatal(err)
	}
	os.WriteFile(filepath.Join(*dir, "control"), []byte("http://"+cl.Addr().String()), 0o644)
	log.Printf("feedfarm: %d feeds on %d addresses, control http://%s", *n, *hosts, cl.Addr())
	select {}
}
