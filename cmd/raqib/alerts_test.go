package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hook is a webhook receiver that can be down; it records webhook-ids.
type hook struct {
	down atomic.Bool
	mu   sync.Mutex
	ids  map[string]int
	body []string
}

func newHook(t *testing.T) (*hook, *httptest.Server) {
	h := &hook{ids: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("webhook-signature") == "" {
			t.Error("unsigned webhook")
		}
		h.mu.Lock()
		h.ids[r.Header.Get("webhook-id")]++
		h.body = append(h.body, string(b))
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return h, srv
}

func (h *hook) count() (ids, deliveries int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.ids {
		deliveries += n
	}
	return len(h.ids), deliveries
}

func alertConfig(hookURL string) string {
	return fmt.Sprintf(`alerts:
  channels:
    - {name: hook, type: webhook, url: "%s", secret: "s3cret"}
  rules:
    - {name: libya, query: "ليبيا OR درنة", channels: [hook]}
    - {name: sudan, query: "السودان", channels: [hook]}
`, hookURL)
}

// poll --once with the receiver down leaves alerts pending; the next run
// delivers each exactly once.
func TestPollOnceAlertsPendingThenDelivered(t *testing.T) {
	srv, _ := site(t)
	h, hsrv := newHook(t)
	cfg := writeConfig(t, srv.URL, alertConfig(hsrv.URL))
	h.down.Store(true)
	out, errOut, code := raqib(t, "poll", "--once", "--config", cfg)
	if code != 0 || !strings.Contains(out, "2 pending") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, _ = raqib(t, "alerts", "list", "--pending", "--config", cfg)
	if !strings.Contains(out, "libya") || !strings.Contains(out, "sudan") || !strings.Contains(out, "HTTP 502") {
		t.Errorf("alerts list:\n%s", out)
	}
	h.down.Store(false)
	out, _, _ = raqib(t, "poll", "--once", "--config", cfg)
	if !strings.Contains(out, "2 delivered, 0 pending") {
		t.Errorf("second run:\n%s", out)
	}
	raqib(t, "poll", "--once", "--config", cfg)
	if ids, n := h.count(); ids != 2 || n != 2 {
		t.Errorf("receiver got %d ids in %d deliveries, want 2 and 2", ids, n)
	}
	var payload struct {
		Rule string `json:"rule"`
		Item struct {
			Title string `json:"title"`
		} `json:"item"`
	}
	json.Unmarshal([]byte(h.body[0]), &payload)
	if payload.Rule == "" || payload.Item.Title == "" {
		t.Errorf("payload %s", h.body[0])
	}
}

// The daemon killed with alerts pending delivers them after restart.
func TestDaemonKilledWithPendingAlerts(t *testing.T) {
	srv, _ := site(t)
	h, hsrv := newHook(t)
	cfg := writeConfig(t, srv.URL, alertConfig(hsrv.URL)+"server: {listen: \"127.0.0.1:0\"}\n")
	h.down.Store(true)
	start := func() (*exec.Cmd, *syncBuffer) { return startDaemon(t, cfg) }
	cmd, logs := start()
	waitFor(t, 10*time.Second, func() bool { return strings.Count(logs.String(), "alert delivery failed") >= 2 }, logs)
	cmd.Process.Kill() // SIGKILL: no clean shutdown
	cmd.Wait()
	if ids, _ := h.count(); ids != 0 {
		t.Fatal("delivered while down")
	}
	h.down.Store(false)
	cmd, logs = start()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 10*time.Second, func() bool { ids, _ := h.count(); return ids == 2 }, logs)
	time.Sleep(300 * time.Millisecond)
	if ids, n := h.count(); ids != 2 || n != 2 {
		t.Errorf("after restart: %d ids, %d deliveries", ids, n)
	}
}

// startDaemon runs `raqib run` on cfg, its log in the buffer.
func startDaemon(t *testing.T, cfg string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, "run", "--config", cfg)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, logs
}

func waitFor(t *testing.T, d time.Duration, ok func() bool, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadRuleIsAConfigError(t *testing.T) {
	cfg := writeConfig(t, "http://127.0.0.1:9", `alerts:
  channels: [{name: log, type: log}]
  rules:
    - {name: broken, query: '"مجلس الأمن', channels: [log]}
`)
	_, errOut, code := raqib(t, "check", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "config.yaml:14: alerts.rules[0].query") || !strings.Contains(errOut, "position 1: unbalanced quote") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestMatchCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.txt", dir+"/b.txt"
	writeFile(t, a, "التقى حفتر الرئيس الروسي في الكرملين")
	writeFile(t, b, "افتتح معرض الكتاب")
	out, _, code := raqib(t, "match", "--query", "الكرملين حفتر", a, b)
	if code != 0 || !strings.Contains(out, a+":") || strings.Contains(out, b) || !strings.Contains(out, "[الكرملين]") {
		t.Errorf("exit %d: %s", code, out)
	}
	if _, _, code := raqib(t, "match", "--query", "ليبيا", b); code != 1 {
		t.Errorf("no match: exit %d", code)
	}
	if _, errOut, code := raqib(t, "match", "--query", "(غزة", b); code != 2 || !strings.Contains(errOut, "position 1") {
		t.Errorf("bad query: exit %d %s", code, errOut)
	}
}

// Secrets never show in check output, poll output, logs, alert errors or
// the API.
func TestSecretsStayHidden(t *testing.T) {
	srv, _ := site(t)
	h, hsrv := newHook(t)
	h.down.Store(true)
	secrets := []string{"whsec-hunter2", "smtp-pa55word", "api-t0ken", "q-s3cret", "feeduser", "f33d-pa55", "SECRETKEY1", "SECRETKEY2"}
	withCreds := strings.Replace(srv.URL, "http://", "http://feeduser:f33d-pa55@", 1)
	feedsWithCreds := fmt.Sprintf("  - {name: keyed, url: \"%s/seedcopy.xml?apikey=SECRETKEY1&lang=ar\"}\n"+
		"  - {name: dead, url: \"http://feeduser:f33d-pa55@127.0.0.1:9/feed?token=SECRETKEY2&lang=ar\"}\n", withCreds)
	cfg := writeConfig(t, srv.URL, feedsWithCreds+fmt.Sprintf(`alerts:
  channels:
    - {name: hook, type: webhook, url: "%s/hook?key=q-s3cret", secret: "whsec-hunter2"}
    - {name: mail, type: email, host: 127.0.0.1, port: 9, tls: none, username: u, password: "smtp-pa55word", from: a@b.example, to: [c@d.example]}
  rules:
    - {name: libya, query: "ليبيا", channels: [hook, mail]}
server: {listen: "127.0.0.1:0", token: "api-t0ken"}
`, hsrv.URL))
	var all strings.Builder
	for _, args := range [][]string{{"check"}, {"poll", "--once"}, {"alerts", "list"}, {"feeds", "list"}, {"export", "--format", "json", "--all"},
		{"export", "--format", "atom", "--all"}, {"export", "--format", "rss", "--all"}} {
		out, errOut, _ := raqib(t, append(args, "--config", cfg)...)
		all.WriteString(out + errOut)
	}
	if !strings.Contains(all.String(), "webhook") || !strings.Contains(all.String(), "email via 127.0.0.1") ||
		!strings.Contains(all.String(), "127.0.0.1:9") || !strings.Contains(all.String(), "seedcopy.xml?apikey=REDACTED&amp;lang=ar") {
		t.Fatalf("the failures should be reported:\n%s", all.String())
	}
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Errorf("secret %q shown:\n%s", s, all.String())
		}
	}
}
