package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// outlets serve one feed each, whose items the test adds as it goes.
type outlets struct {
	mu    sync.Mutex
	items map[string][]string // feed -> rendered <item>s, newest last
	srv   *httptest.Server
}

func newOutlets(t *testing.T) *outlets {
	o := &outlets{items: map[string][]string{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".xml")
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>%s</title><link>http://%s.example/</link><description>x</description>%s</channel></rss>`,
			name, name, strings.Join(o.items[name], ""))
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// publish adds one of the project's test reports (dedup/testdata/quake)
// to an outlet's feed.
func (o *outlets) publish(t *testing.T, feed, file string, when time.Time) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "dedup", "testdata", "quake", file))
	if err != nil {
		t.Fatal(err)
	}
	title, body, _ := strings.Cut(string(b), "\n")
	url := fmt.Sprintf("http://%s.example/%s", feed, strings.TrimSuffix(file, ".txt"))
	o.mu.Lock()
	defer o.mu.Unlock()
	o.items[feed] = append(o.items[feed], fmt.Sprintf(`<item><title>%s</title><link>%s</link><guid>%s</guid><pubDate>%s</pubDate><description>%s</description></item>`,
		html.EscapeString(title), url, url, when.UTC().Format(http.TimeFormat), html.EscapeString("<p>"+strings.ReplaceAll(body, "\n\n", "</p><p>")+"</p>")))
	return url
}

func (o *outlets) config(t *testing.T, names []string, extra string) string {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "seeds"), 0o755)
	var b strings.Builder
	b.WriteString("storage: {path: raqib.db}\nseeds: {dir: seeds}\npoll: {schedule: \"@every 1h\", timeout: 5s, jitter: 0s}\nfeeds:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, url: \"%s/%s.xml\"}\n", n, o.srv.URL, n)
	}
	b.WriteString(extra)
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, b.String())
	return path
}

type threadItem struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	DateModified string `json:"date_modified"`
	Raqib        struct {
		Feed        string `json:"feed"`
		DuplicateOf string `json:"duplicate_of"`
		Cluster     string `json:"cluster"`
		ClusterSize int    `json:"cluster_size"`
		Follows     string `json:"follows"`
		Reason      string `json:"reason"`
	} `json:"_raqib"`
}

func exportThread(t *testing.T, cfg string, args ...string) []threadItem {
	t.Helper()
	out, errOut, code := raqib(t, append([]string{"export", "--format", "json", "--limit", "0", "--config", cfg}, args...)...)
	if code != 0 {
		t.Fatalf("export %v: %d %s", args, code, errOut)
	}
	var f struct {
		Items []threadItem `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	return f.Items
}

func byURL(items []threadItem) map[string]threadItem {
	m := map[string]threadItem{}
	for _, it := range items {
		m[it.URL] = it
	}
	return m
}

// Five outlets carry one report in five wordings, and one of them the next
// day's update with a new toll: the desk gets two alerts and two entries
// in every feed, and the update follows the report.
func TestOneReportFiveWordingsAndAnUpdate(t *testing.T) {
	o := newOutlets(t)
	h, hsrv := newHook(t)
	names := []string{"agency", "daily", "weekly", "portal", "wire"}
	cfg := o.config(t, names, fmt.Sprintf(`alerts:
  channels:
    - {name: hook, type: webhook, url: "%s", secret: "s3cret"}
  rules:
    - {name: quake, query: "ملاطية OR زلزال", channels: [hook]}
`, hsrv.URL))
	poll := func() {
		t.Helper()
		if out, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
			t.Fatalf("poll: %d\n%s%s", code, out, errOut)
		}
	}
	day := time.Now().Add(-26 * time.Hour).Truncate(time.Second)
	report := o.publish(t, "agency", "1-agency.txt", day)
	poll()
	if e := byURL(exportThread(t, cfg))[report]; e.DateModified != "" {
		t.Errorf("a story of one item was modified: %q", e.DateModified)
	}
	for i, f := range []string{"2-rewrite.txt", "3-rewrite.txt", "4-summary.txt", "5-copy.txt"} {
		o.publish(t, names[i+1], f, day.Add(time.Duration(i+1)*20*time.Minute))
	}
	poll()
	update := o.publish(t, "agency", "6-update.txt", day.Add(24*time.Hour))
	poll()

	all := exportThread(t, cfg, "--all")
	if len(all) != 6 {
		t.Fatalf("%d items stored, want 6", len(all))
	}
	items := byURL(all)
	for _, it := range all {
		if it.Raqib.Reason == "" {
			t.Errorf("%s has no reason", it.URL)
		}
		if it.URL != report && it.URL != update && (it.Raqib.DuplicateOf == "" || it.Raqib.Cluster != items[report].Raqib.Cluster) {
			t.Errorf("%s (%s) is not in the report's story: %s", it.URL, it.Raqib.Feed, it.Raqib.Reason)
		}
	}
	u := items[update]
	if u.Raqib.DuplicateOf != "" || u.Raqib.Follows == "" || items[report].Raqib.Cluster != clusterOf(all, u.Raqib.Follows) {
		t.Errorf("the update: duplicate_of %q, follows %q (%s); the report is story %s", u.Raqib.DuplicateOf, u.Raqib.Follows, u.Raqib.Reason, items[report].Raqib.Cluster)
	}
	for _, args := range [][]string{nil, {"--rule", "quake"}} {
		stream := exportThread(t, cfg, args...)
		if len(stream) != 2 || byURL(stream)[update].ID == "" {
			t.Errorf("export %v: %d entries, want the report and the update", args, len(stream))
		}
		for _, format := range []string{"rss", "atom"} {
			out, _, _ := raqib(t, append([]string{"export", "--format", format, "--config", cfg}, args...)...)
			if n := strings.Count(out, "<item>") + strings.Count(out, "<entry"); n != 2 {
				t.Errorf("export %s %v: %d entries", format, args, n)
			}
		}
	}
	if e := byURL(exportThread(t, cfg))[report]; e.DateModified == "" || e.Raqib.ClusterSize != 5 {
		t.Errorf("the report's entry after four outlets joined it: date_modified %q, cluster_size %d", e.DateModified, e.Raqib.ClusterSize)
	}
	if ids, n := h.count(); ids != 2 || n != 2 {
		t.Errorf("the receiver got %d alerts in %d deliveries, want 2", ids, n)
	}
	out, _, _ := raqib(t, "stories", "--since", "100000h", "--config", cfg)
	if !strings.Contains(out, "ارتفاع حصيلة زلزال ملاطية") || !strings.Contains(out, "a development") || strings.Count(out, "similarity") != 4 {
		t.Errorf("stories:\n%s", out)
	}
}

func clusterOf(items []threadItem, id string) string {
	for _, it := range items {
		if it.ID == id {
			return it.Raqib.Cluster
		}
	}
	return ""
}

// A desk says an item is not a duplicate, through the running daemon:
// it becomes a story of its own, shows in the feed and alerts; after a
// restart and another poll it still is.
func TestNotDuplicateOutlivesRestart(t *testing.T) {
	o := newOutlets(t)
	h, hsrv := newHook(t)
	cfg := o.config(t, []string{"agency", "portal"}, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
alerts:
  channels:
    - {name: hook, type: webhook, url: "%s", secret: "s3cret"}
  rules:
    - {name: quake, query: "ملاطية", channels: [hook]}
`, hsrv.URL))
	day := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	o.publish(t, "agency", "1-agency.txt", day)
	if _, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
		t.Fatal(errOut)
	}
	copyURL := o.publish(t, "portal", "5-copy.txt", day.Add(time.Hour))
	start := func() (*exec.Cmd, *syncBuffer) { return startDaemon(t, cfg) }
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	cmd, logs := start()
	defer func() { cmd.Process.Kill() }()
	stored := func(url string) string { // the item's id once the daemon has it
		b, err := exec.Command(binary, "export", "--format", "json", "--all", "--config", cfg).Output()
		var f struct{ Items []threadItem }
		if err != nil || json.Unmarshal(b, &f) != nil {
			return ""
		}
		return byURL(f.Items)[url].ID
	}
	var copyID string
	waitFor(t, 10*time.Second, func() bool { copyID = stored(copyURL); return copyID != "" }, logs)
	if ids, _ := h.count(); ids != 1 {
		t.Fatalf("%d alerts before, want the report's", ids)
	}
	c := exec.Command(binary, "items", "not-duplicate", copyID, "--config", cfg)
	out, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "a story of its own now") || !strings.Contains(string(out), "asking it at") {
		t.Fatalf("items not-duplicate beside the daemon: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, func() bool { ids, _ := h.count(); return ids == 2 }, logs)
	stop(cmd)

	// Restarted, the daemon polls at start and finds another copy.
	rewrite := o.publish(t, "portal", "2-rewrite.txt", day.Add(2*time.Hour))
	cmd, logs = start()
	waitFor(t, 10*time.Second, func() bool { return stored(rewrite) != "" }, logs)
	stop(cmd)
	if _, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
		t.Fatal(errOut)
	}
	stream := byURL(exportThread(t, cfg))
	if e, ok := stream[copyURL]; !ok || e.Raqib.Cluster != copyID || !strings.Contains(e.Raqib.Reason, "as the desk said") {
		t.Errorf("after a restart and a poll the copy is %+v (in the stream: %v)", e, ok)
	}
	if len(stream) != 2 {
		t.Errorf("%d entries in the stream, want 2", len(stream))
	}
	if ids, n := h.count(); ids != 2 || n != 2 {
		t.Errorf("the receiver got %d alerts in %d deliveries, want 2", ids, n)
	}
	// Said again, it is already so.
	if out, _, code := raqib(t, "items", "not-duplicate", copyID, "--config", cfg); code != 0 || !strings.Contains(out, "already a story of its own") {
		t.Errorf("again: %d %s", code, out)
	}
	if _, errOut, code := raqib(t, "items", "not-duplicate", "no-such-item", "--config", cfg); code != 1 || !strings.Contains(errOut, `no item "no-such-item"`) {
		t.Errorf("an unknown item: %d %s", code, errOut)
	}
}
