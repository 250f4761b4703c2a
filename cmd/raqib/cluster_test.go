package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/raqib/raqib/storage/postgres/pgtest"
)

// Three daemons on one PostgreSQL database poll a farm that keeps
// publishing. One is killed (SIGKILL) while it polls a feed, another while
// it delivers an alert; both are started again. Every item is stored once,
// every alert delivered, each story's under one id, each report is one
// story, and the killed daemon's feed is polled again by another within a
// minute.
func TestThreeDaemonsOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of three daemons")
	}
	ctx := context.Background()
	dsn := pgtest.FreshDB(t)
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const feeds = 6 // and the slow one, feed 6
	fm := &farm{start: time.Now(), feeds: feeds + 1}
	var (
		hangSlow  atomic.Bool
		slowHung  = make(chan struct{}, 1)
		slowFree  = make(chan struct{})
		slowMu    sync.Mutex
		slowPolls []time.Time // answered polls of the slow feed
	)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f int
		fmt.Sscanf(r.URL.Path, "/f%d.xml", &f)
		if f == feeds {
			if hangSlow.CompareAndSwap(true, false) {
				slowHung <- struct{}{}
				<-slowFree // the daemon polling it is killed meanwhile
				return
			}
			slowMu.Lock()
			slowPolls = append(slowPolls, time.Now())
			slowMu.Unlock()
		}
		w.Write([]byte(fm.body(f)))
	}))
	defer site.Close()

	var (
		hookMu   sync.Mutex
		ids      = map[string]int{}             // webhook-id -> deliveries
		storyIDs = map[string]map[string]bool{} // rule/story -> webhook-ids
		hangHook atomic.Bool
		hookHung = make(chan struct{}, 1)
		hookFree = make(chan struct{})
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("webhook-signature") == "" {
			t.Error("unsigned webhook")
		}
		var p struct {
			Rule string `json:"rule"`
			Item struct {
				Cluster string `json:"cluster"`
			} `json:"item"`
		}
		json.Unmarshal(b, &p)
		id := r.Header.Get("webhook-id")
		hookMu.Lock()
		ids[id]++
		key := p.Rule + "/" + p.Item.Cluster
		if storyIDs[key] == nil {
			storyIDs[key] = map[string]bool{}
		}
		storyIDs[key][id] = true
		hookMu.Unlock()
		if hangHook.CompareAndSwap(true, false) {
			hookHung <- struct{}{}
			<-hookFree // received, but the daemon sending it dies before it hears so
		}
	}))
	defer hook.Close()

	var feedsYAML strings.Builder
	for f := 0; f <= feeds; f++ {
		fmt.Fprintf(&feedsYAML, "  - {name: outlet%d, url: \"%s/f%d.xml\"}\n", f, site.URL, f)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`storage: {driver: postgres, dsn: "%s"}
seeds: {dir: seeds}
poll: {schedule: "@every 2s", timeout: 5s, jitter: 0s}
feeds:
%s
alerts:
  channels: [{name: hook, type: webhook, url: "%s", secret: s, timeout: 3s}]
  rules: [{name: floods, query: "درنة OR النفط", channels: [hook]}]
server: {listen: ""}
`, dsn, feedsYAML.String(), hook.URL))

	type daemon struct {
		cmd  *exec.Cmd
		logs *syncBuffer
	}
	var daemons []*daemon
	start := func() *daemon {
		d := &daemon{cmd: exec.Command(binary, "run", "--config", cfgPath), logs: &syncBuffer{}}
		d.cmd.Stderr = d.logs
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		daemons = append(daemons, d)
		return d
	}
	defer func() {
		for _, d := range daemons {
			if d.cmd.ProcessState == nil {
				d.cmd.Process.Signal(syscall.SIGKILL)
				d.cmd.Wait()
			}
		}
		if t.Failed() {
			for i, d := range daemons {
				t.Logf("daemon %d:\n%s", i, d.logs.String())
			}
		}
	}()
	// kill kills the daemon whose fleet id holds a lease the query finds.
	kill := func(what, query string) time.Time {
		t.Helper()
		var owner string
		if err := db.QueryRow(ctx, query).Scan(&owner); err != nil {
			t.Fatalf("who holds %s: %v", what, err)
		}
		parts := strings.Split(owner, "-")
		pid, _ := strconv.Atoi(parts[len(parts)-2])
		for _, d := range daemons {
			if d.cmd.Process.Pid == pid && d.cmd.ProcessState == nil {
				d.cmd.Process.Signal(syscall.SIGKILL)
				d.cmd.Wait()
				t.Logf("killed %s while it held %s", owner, what)
				return time.Now()
			}
		}
		t.Fatalf("%s is held by %s, no daemon of this test", what, owner)
		return time.Time{}
	}
	count := func(query string) int {
		var n int
		if err := db.QueryRow(ctx, query).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	for range 3 {
		start()
	}
	waitFor(t, 30*time.Second, func() bool { return count("SELECT count(*) FROM alerts WHERE state = 'delivered'") > 0 }, daemons[0].logs)

	// In the middle of a poll.
	hangSlow.Store(true)
	select {
	case <-slowHung:
	case <-time.After(20 * time.Second):
		t.Fatal("nobody polled the slow feed")
	}
	killed := kill("the slow feed", "SELECT owner FROM feed_leases WHERE feed = 'outlet6'")
	close(slowFree)
	start()

	// In the middle of a delivery.
	hangHook.Store(true)
	select {
	case <-hookHung:
	case <-time.After(30 * time.Second):
		t.Fatal("no alert was delivered")
	}
	kill("an alert", "SELECT owner FROM alert_leases ORDER BY until DESC LIMIT 1")
	close(hookFree)
	start()

	// The farm stops publishing; everything it published gets stored and
	// every alert delivered.
	time.Sleep(2 * time.Second)
	fm.frozen.Store(int64(fm.count()))
	total := fm.count() * fm.feeds
	waitFor(t, 90*time.Second, func() bool {
		return count("SELECT count(*) FROM items") == total && count("SELECT count(*) FROM alerts WHERE state <> 'delivered'") == 0
	}, daemons[0].logs)

	// The fleet as cluster status tells it: five daemons started, the
	// three running up (the killed ones are up until their heartbeat is
	// 30 s old).
	status, errOut, code := raqib(t, "cluster", "status", "--json", "--config", cfgPath)
	var rows []struct {
		Daemon struct {
			ID string `json:"id"`
		} `json:"daemon"`
		Up bool `json:"up"`
	}
	if err := json.Unmarshal([]byte(status), &rows); code != 0 || err != nil {
		t.Fatalf("cluster status: %d %v %s", code, err, errOut)
	}
	up := 0
	for _, r := range rows {
		if r.Up {
			up++
		}
	}
	if len(rows) != 5 || up < 3 {
		t.Errorf("cluster status lists %d daemons, %d up; want 5, the 3 running up:\n%s", len(rows), up, status)
	}
	text, _, _ := raqib(t, "cluster", "status", "--config", cfgPath)
	if !strings.Contains(text, "FEEDS POLLING") || strings.Count(text, " up ") < 3 {
		t.Errorf("cluster status:\n%s", text)
	}
	e := exportJSON(t, cfgPath, "--all", "--limit", "0")
	urls, storyOf, reportOf := map[string]int{}, map[string]string{}, map[string]string{}
	for _, it := range e.Items {
		urls[it.URL]++
		report := it.Title // "خبر K": the farm's report K
		if s, ok := storyOf[report]; ok && s != it.Raqib.Cluster {
			t.Errorf("report %q is in two stories: %s and %s", report, s, it.Raqib.Cluster)
		}
		storyOf[report] = it.Raqib.Cluster
		if r, ok := reportOf[it.Raqib.Cluster]; ok && r != report {
			t.Errorf("story %s holds two reports: %q and %q", it.Raqib.Cluster, r, report)
		}
		reportOf[it.Raqib.Cluster] = report
	}
	if len(urls) != total || len(e.Items) != total {
		t.Errorf("%d items exported, %d distinct, the farm published %d", len(e.Items), len(urls), total)
	}
	hookMu.Lock()
	defer hookMu.Unlock()
	var alertIDs []string
	alertRows, _ := db.Query(ctx, "SELECT id FROM alerts")
	for alertRows.Next() {
		var id string
		alertRows.Scan(&id)
		alertIDs = append(alertIDs, id)
	}
	for _, id := range alertIDs {
		if ids[id] == 0 {
			t.Errorf("alert %s is delivered but the receiver never had it", id)
		}
	}
	for key, set := range storyIDs {
		if len(set) != 1 {
			t.Errorf("story %s alerted under %d ids", key, len(set))
		}
	}
	if len(alertIDs) == 0 || len(storyIDs) != len(alertIDs) {
		t.Errorf("%d alerts stored, %d stories alerted", len(alertIDs), len(storyIDs))
	}
	slowMu.Lock()
	defer slowMu.Unlock()
	var again time.Duration = -1
	for _, at := range slowPolls {
		if at.After(killed) {
			again = at.Sub(killed)
			break
		}
	}
	if again < 0 || again > 60*time.Second {
		t.Errorf("the killed daemon's feed was polled again %v after the kill, want within 60 s", again)
	}
	redelivered := 0
	for _, n := range ids {
		redelivered += n - 1
	}
	t.Logf("%d items, %d alerts (%d sent again under the same id), %d stories; the killed daemon's feed polled again %v after", total, len(alertIDs), redelivered, len(reportOf), again.Round(time.Millisecond))
}

// raqib store copy moves a BoltDB store into PostgreSQL: the copy exports
// byte for byte what the original exported, and the daemon goes on from
// it (its feeds' validators, its items' keys) as from the original.
func TestStoreCopyToPostgres(t *testing.T) {
	srv, notModified := site(t)
	dsn := pgtest.FreshDB(t)
	cfg := writeConfig(t, srv.URL, `  - {name: seedcopy, url: "`+srv.URL+`/seedcopy.xml"}
alerts:
  channels: [{name: log, type: log}]
  rules: [{name: libya, query: "ليبيا OR Libya", channels: [log]}]
`)
	if _, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
		t.Fatalf("poll --once: %d %s", code, errOut)
	}
	exports := func(cfg string) map[string]string {
		out := map[string]string{}
		for _, args := range [][]string{{"--format", "json", "--all"}, {"--format", "json"}, {"--format", "rss", "--all"}, {"--format", "atom", "--rule", "libya"}} {
			o, errOut, code := raqib(t, append([]string{"export", "--config", cfg}, args...)...)
			if code != 0 {
				t.Fatalf("export %v: %d %s", args, code, errOut)
			}
			out[strings.Join(args, " ")] = o
		}
		return out
	}
	before := exports(cfg)
	t.Setenv("RAQIB_TEST_COPY_DSN", dsn)
	out, errOut, code := raqib(t, "store", "copy", "--to", "postgres", "--dsn", dsn, "--config", cfg)
	if code != 0 || !strings.Contains(out, "8 items") {
		t.Fatalf("store copy: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := raqib(t, "store", "copy", "--to", "postgres", "--dsn", dsn, "--config", cfg); code == 0 || !strings.Contains(errOut, "empty database") {
		t.Errorf("a second copy into the same database: %d %s", code, errOut)
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pgCfg := filepath.Join(filepath.Dir(cfg), "postgres.yaml")
	writeFile(t, pgCfg, strings.Replace(string(data), "storage: {path: raqib.db}", "storage: {driver: postgres, dsn: \"${RAQIB_TEST_COPY_DSN}\"}", 1))
	after := exports(pgCfg)
	for args, want := range before {
		if after[args] != want {
			t.Errorf("export %s differs after the copy:\nbolt:\n%s\npostgres:\n%s", args, want, after[args])
		}
	}
	if len(before["--format json --all"]) < 1000 {
		t.Errorf("the export is too short to prove anything:\n%s", before["--format json --all"])
	}
	n := notModified.Load()
	out, errOut, code = raqib(t, "poll", "--once", "--config", pgCfg)
	if code != 0 || !strings.Contains(out, "0 new") || notModified.Load() < n+4 {
		t.Errorf("polling the copy: %d, %d more 304s:\n%s%s", code, notModified.Load()-n, out, errOut)
	}
}

// Two poll --once runs started together on one database share the feeds:
// each feed is fetched once, by one of them.
func TestOneShotPollsShareTheFeeds(t *testing.T) {
	var mu sync.Mutex
	fetched := map[string]int{}
	fm := &farm{start: time.Now(), feeds: 12}
	fm.frozen.Store(3)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched[r.URL.Path]++
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		var f int
		fmt.Sscanf(r.URL.Path, "/f%d.xml", &f)
		w.Write([]byte(fm.body(f)))
	}))
	defer site.Close()
	var feedsYAML strings.Builder
	for f := range fm.feeds {
		fmt.Fprintf(&feedsYAML, "  - {name: outlet%d, url: \"%s/f%d.xml\"}\n", f, site.URL, f)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfgPath, fmt.Sprintf("storage: {driver: postgres, dsn: \"%s\"}\npoll: {connections: 2}\nfeeds:\n%s", pgtest.FreshDB(t), feedsYAML.String()))
	// The schema made beforehand, as the daemons of a fleet find it.
	if _, errOut, code := raqib(t, "feeds", "list", "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	runs := make(chan string, 2)
	for range 2 {
		go func() {
			out, err := exec.Command(binary, "poll", "--once", "--config", cfgPath).CombinedOutput()
			if err != nil {
				t.Errorf("poll --once: %v", err)
			}
			runs <- string(out)
		}()
	}
	outs := <-runs + <-runs
	mu.Lock()
	defer mu.Unlock()
	for f := range fm.feeds {
		if n := fetched[fmt.Sprintf("/f%d.xml", f)]; n != 1 {
			t.Errorf("feed %d fetched %d times", f, n)
		}
	}
	if !strings.Contains(outs, "another daemon") {
		t.Errorf("neither run says it left a feed to the other:\n%s", outs)
	}
	if e := exportJSON(t, cfgPath, "--all", "--limit", "0"); len(e.Items) != 3*fm.feeds {
		t.Errorf("%d items stored, the farm served %d", len(e.Items), 3*fm.feeds)
	}
}
