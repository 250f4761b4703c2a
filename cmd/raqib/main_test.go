package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var binary string

// TestMain builds the real binary once, for the tests that run it as a
// separate process (daemon signals, the lock between two processes).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raqib-bin")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // a test runs it as another user
	binary = filepath.Join(dir, "raqib")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "feeds", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// site serves the project's test feeds like a set of real outlets.
func site(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var notModified atomic.Int32
	files := map[string]struct{ file, ctype string }{
		"/utf8.xml":   {"rss-utf8.xml", "application/rss+xml"},
		"/cp1256.xml": {"rss-cp1256-undeclared.xml", "text/xml; charset=windows-1256"},
		"/atom.xml":   {"atom.xml", "application/atom+xml"},
		"/feed.json":  {"feed.json", "application/feed+json"},
		"/broken.xml": {"malformed.xml", "text/xml"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/seedcopy.xml" {
			w.Write(seedCopyFeed(t))
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := `"` + f.file + `"`
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", f.ctype)
		w.Write(testdata(t, f.file))
	}))
	t.Cleanup(srv.Close)
	return srv, &notModified
}

// seedCopyFeed republishes the seed article the way an outlet would: a new
// headline, the first paragraphs only, and some site furniture.
func seedCopyFeed(t *testing.T) []byte {
	seed, err := os.ReadFile("../../seeds/000_a42b1f5e1f85cc83.txt")
	if err != nil {
		t.Fatal(err)
	}
	text := string(seed)
	text = text[strings.Index(text, "موسكو"):]
	paras := strings.Split(text, "\n\n")
	body := "<p>" + strings.Join(paras[:4], "</p><p>") + "</p><p>تابعونا على تويتر</p>"
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title><link>http://x/</link><description>x</description>
<item><title>بوتين يستقبل حفتر</title><link>http://outlet.example/putin-haftar</link><pubDate>Mon, 12 May 2025 10:00:00 GMT</pubDate><description><![CDATA[%s]]></description></item>
</channel></rss>`, body)
	return b.Bytes()
}

func writeConfig(t *testing.T, srv string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds")
	os.Mkdir(seeds, 0o755)
	data, _ := os.ReadFile("../../seeds/000_a42b1f5e1f85cc83.txt")
	os.WriteFile(filepath.Join(seeds, "000_a42b1f5e1f85cc83.txt"), data, 0o644)
	cfg := fmt.Sprintf(`storage: {path: raqib.db}
seeds: {dir: seeds}
poll: {schedule: "@every 1h", timeout: 5s, jitter: 0s}
feeds:
  - {name: utf8, url: "%[1]s/utf8.xml"}
  - {name: cp1256, url: "%[1]s/cp1256.xml", language: ar}
  - {name: atom, url: "%[1]s/atom.xml"}
  - {name: jsonfeed, url: "%[1]s/feed.json"}
  - {name: broken, url: "%[1]s/broken.xml"}
  - {name: missing, url: "%[1]s/missing.xml"}
%[2]s`, srv, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func raqib(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

type exported struct {
	Version string `json:"version"`
	Items   []struct {
		ID    string `json:"id"`
		URL   string `json:"url"`
		Title string `json:"title"`
		Raqib struct {
			Feed        string   `json:"feed"`
			DuplicateOf string   `json:"duplicate_of"`
			Similarity  float64  `json:"similarity"`
			Cluster     string   `json:"cluster"`
			ClusterSize int      `json:"cluster_size"`
			Rules       []string `json:"rules"`
		} `json:"_raqib"`
	} `json:"items"`
}

func exportJSON(t *testing.T, cfg string, args ...string) exported {
	t.Helper()
	out, errOut, code := raqib(t, append([]string{"export", "--format", "json", "--config", cfg}, args...)...)
	if code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	var e exported
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out)
	}
	return e
}

func TestPollOnceAsANewUserWould(t *testing.T) {
	srv, notModified := site(t)
	cfg := writeConfig(t, srv.URL, "")
	out, errOut, code := raqib(t, "poll", "--once", "--config", cfg)
	if code != 0 {
		t.Fatalf("poll --once exit %d: %s", code, errOut)
	}
	for _, want := range []string{"utf8", "3 new", "broken", "malformed feed", "missing", "HTTP 404", "10 items seen, 7 new"} {
		if !strings.Contains(out, want) {
			t.Errorf("poll output lacks %q:\n%s", want, out)
		}
	}
	e := exportJSON(t, cfg, "--all", "--limit", "0")
	if e.Version != "https://jsonfeed.org/version/1.1" {
		t.Errorf("version %q", e.Version)
	}
	// utf8 (3) and cp1256 (3, the same items by link) and atom (2), json (2).
	titles := map[string]int{}
	for _, it := range e.Items {
		titles[it.Title]++
	}
	if len(e.Items) != 7 {
		t.Errorf("%d items stored, want 7 (the windows-1256 copy repeats the UTF-8 feed's links): %v", len(e.Items), titles)
	}
	for _, want := range []string{"حفتر يلتقي بوتين في الكرملين", "مجلس الأمن يناقش الوضع في ليبيا", "الأمم المتحدة تحذر من أزمة غذاء في السودان"} {
		if titles[want] != 1 {
			t.Errorf("title %q stored %d times", want, titles[want])
		}
	}
	// Second poll: 304s, nothing new.
	out, _, _ = raqib(t, "poll", "--once", "--config", cfg)
	if !strings.Contains(out, "0 new") || notModified.Load() < 4 {
		t.Errorf("second poll should be all 304s (%d):\n%s", notModified.Load(), out)
	}
	out, _, code = raqib(t, "feeds", "list", "--config", cfg)
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"FEED", "utf8", "ok", "broken", "failing (2)", "malformed feed", "HTTP 404"} {
		if !strings.Contains(out, want) {
			t.Errorf("feeds list lacks %q:\n%s", want, out)
		}
	}
}

func TestSeedCopyIsADuplicateOfTheSeed(t *testing.T) {
	srv, _ := site(t)
	cfg := writeConfig(t, srv.URL, "  - {name: outlet, url: \""+srv.URL+"/seedcopy.xml\"}\n"+
		"alerts:\n  channels: [{name: log, type: log}]\n  rules:\n    - {name: haftar, query: حفتر, channels: [log]}\n")
	if _, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
		t.Fatal(errOut)
	}
	// The desk knows the seed's story: no alert, and no entry in the
	// rule's stream either, as in the whole stream.
	for _, it := range exportJSON(t, cfg, "--rule", "haftar").Items {
		if strings.HasPrefix(it.Raqib.Cluster, "seed:") {
			t.Errorf("the rule's stream lists the seed's story: %s", it.URL)
		}
	}
	if out, _, _ := raqib(t, "alerts", "list", "--config", cfg); strings.Contains(out, "بوتين يستقبل حفتر") {
		t.Errorf("the seed's story alerted:\n%s", out)
	}
	e := exportJSON(t, cfg, "--all")
	found := false
	for _, it := range e.Items {
		if it.URL == "http://outlet.example/putin-haftar" {
			found = true
			if it.Raqib.DuplicateOf != "seed:000_a42b1f5e1f85cc83.txt" || it.Raqib.Similarity < 0.5 || it.Raqib.ClusterSize < 2 {
				t.Errorf("seed copy: %+v", it.Raqib)
			}
		}
	}
	if !found {
		t.Fatal("seed copy not exported with --all")
	}
	for _, it := range exportJSON(t, cfg).Items {
		if it.Raqib.DuplicateOf != "" {
			t.Errorf("export without --all includes duplicate %s", it.URL)
		}
	}
	// The story list shows the seed's story with the outlet's copy in it.
	out, errOut, code := raqib(t, "stories", "--since", "100000h", "--config", cfg)
	if code != 0 {
		t.Fatalf("stories: %d %s", code, errOut)
	}
	for _, want := range []string{"story seed:000_a42b1f5e1f85cc83.txt; outlets: ", "- outlet", "بوتين يستقبل حفتر (similarity"} {
		if !strings.Contains(out, want) {
			t.Errorf("stories output lacks %q:\n%s", want, out)
		}
	}
	// (Other feeds' items on Haftar may join the story too, as the fetches'
	// order has it.)
	if m := regexp.MustCompile(`outlets: (.*)`).FindStringSubmatch(out); m == nil ||
		!slices.Contains(strings.Split(m[1], ", "), "outlet") || !slices.Contains(strings.Split(m[1], ", "), "seeds") {
		t.Errorf("the story's outlets should name the outlet and the seeds:\n%s", out)
	}
}

func TestSeedsImportIsIdempotent(t *testing.T) {
	cfg := writeConfig(t, "http://127.0.0.1:9", "")
	out, _, code := raqib(t, "seeds", "import", "--config", cfg)
	if code != 0 || !strings.Contains(out, "imported 1 new") {
		t.Fatalf("%d %s", code, out)
	}
	out, _, _ = raqib(t, "seeds", "import", "--config", cfg)
	if !strings.Contains(out, "imported 0 new seed documents (1 stored)") {
		t.Errorf("re-import: %s", out)
	}
}

func TestCheckReportsLine(t *testing.T) {
	cfg := writeConfig(t, "http://127.0.0.1:9", "server: {listen: 127.0.0.1:8080, lisen: x}\n")
	_, errOut, code := raqib(t, "check", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "config.yaml:11: server.lisen: unknown key") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	_, errOut, code = raqib(t, "export", "--format", "json", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != 2 || !strings.Contains(errOut, "nope.yaml") {
		t.Errorf("missing config: exit %d: %s", code, errOut)
	}
	if _, _, code := raqib(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
	if out, _, code := raqib(t, "version"); code != 0 || !strings.HasPrefix(out, "raqib ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// The daemon polls at start, refuses a second process on the same store,
// and stops cleanly on SIGTERM.
func TestDaemonAndLock(t *testing.T) {
	srv, _ := site(t)
	cfg := writeConfig(t, srv.URL, "server: {listen: \"127.0.0.1:0\"}\n")
	cmd := exec.Command(binary, "run", "--config", cfg)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "raqib started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	second := exec.Command(binary, "poll", "--once", "--config", cfg)
	start := time.Now()
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another raqib") {
		t.Errorf("second process: %v %s", err, out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second process took %v to fail", d)
	}
	// Read commands ask the daemon instead.
	var stdout, stderr bytes.Buffer
	list := exec.Command(binary, "feeds", "list", "--config", cfg)
	list.Stdout, list.Stderr = &stdout, &stderr
	if err := list.Run(); err != nil {
		t.Fatalf("feeds list beside the daemon: %v %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "asking it at http://127.0.0.1:") || !strings.Contains(stdout.String(), "utf8") {
		t.Errorf("feeds list beside the daemon:\n%s%s", stderr.String(), stdout.String())
	}
	var during exported
	waitUntil(t, func() bool {
		b, err := exec.Command(binary, "export", "--format", "json", "--limit", "0", "--config", cfg).Output()
		return err == nil && json.Unmarshal(b, &during) == nil && len(during.Items) == 6
	})
	readBeside := map[string]string{} // what the other read commands print, asking the daemon
	readCommands := [][]string{{"stories", "--since", "100000h"}, {"alerts", "list"}}
	for _, args := range readCommands {
		b, err := exec.Command(binary, append(args, "--config", cfg)...).Output()
		if err != nil {
			t.Fatalf("%v beside the daemon: %v", args, err)
		}
		readBeside[strings.Join(args, " ")] = string(b)
	}
	if !strings.Contains(readBeside["stories --since 100000h"], "story seed:") {
		t.Errorf("stories beside the daemon:\n%s", readBeside["stories --since 100000h"])
	}
	// The feeds are served where the log says; a reader's If-None-Match gets a 304.
	m := regexp.MustCompile(`http=(http://127.0.0.1:\d+/)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no address in the log:\n%s", logs.String())
	}
	var etag string
	waitUntil(t, func() bool {
		resp, err := http.Get(m[1] + "feeds/all.atom")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		etag = resp.Header.Get("ETag")
		return resp.StatusCode == 200 && strings.Contains(string(b), "مجلس الأمن يناقش الوضع في ليبيا")
	})
	req, _ := http.NewRequest("GET", m[1]+"feeds/all.atom", nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %v %v", resp.StatusCode, err)
	}
	if resp, err := http.Get(m[1] + "readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon did not stop within 10s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "raqib stopped") {
		t.Errorf("logs:\n%s", logs.String())
	}
	// The store is closed and holds what the start-up poll fetched.
	// (One of the seven, the Haftar item, is the seed's story and left out.)
	e := exportJSON(t, cfg, "--limit", "0")
	if len(e.Items) != 6 {
		t.Errorf("after the daemon: %d items", len(e.Items))
	}
	if !reflect.DeepEqual(e, during) {
		t.Errorf("export from the daemon differs from the store's:\n%+v\n%+v", during, e)
	}
	for _, args := range readCommands {
		out, errOut, code := raqib(t, append(args, "--config", cfg)...)
		if code != 0 || out != readBeside[strings.Join(args, " ")] {
			t.Errorf("%v from the daemon differs from the store's (%d %s):\n%s\n%s", args, code, errOut, readBeside[strings.Join(args, " ")], out)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "raqib.db.http")); !os.IsNotExist(err) {
		t.Errorf("the daemon left its address behind: %v", err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOPMLImportExport(t *testing.T) {
	cfg := writeConfig(t, "http://127.0.0.1:9", "")
	opml := filepath.Join(t.TempDir(), "desk.opml")
	writeFile(t, opml, `<?xml version="1.0"?><opml version="2.0"><head/><body>
<outline text="الجزيرة" xmlUrl="https://aljazeera.example/rss" language="ar"/>
<outline text="utf8" xmlUrl="http://127.0.0.1:9/utf8.xml"/>
<outline text="utf8" xmlUrl="https://other.example/feed"/></body></opml>`)
	out, errOut, code := raqib(t, "feeds", "import-opml", "--config", cfg, opml)
	if code != 0 || !strings.Contains(out, "3 feeds, 2 added") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := raqib(t, "check", "--config", cfg); code != 0 {
		t.Fatalf("config after import: %s", errOut)
	}
	out, _, _ = raqib(t, "feeds", "export-opml", "--config", cfg)
	for _, want := range []string{`text="الجزيرة"`, `xmlUrl="https://aljazeera.example/rss"`, `text="utf8-2"`, `xmlUrl="http://127.0.0.1:9/atom.xml"`} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
	if _, err := os.Stat(cfg + ".bak"); err != nil {
		t.Error("no backup of the configuration")
	}
	if _, _, code := raqib(t, "feeds", "import-opml", "--config", cfg, filepath.Join(t.TempDir(), "none.opml")); code != 2 {
		t.Errorf("missing file: exit %d", code)
	}
}
