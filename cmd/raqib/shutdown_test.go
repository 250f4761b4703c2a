package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

// stormSite serves one feed of n distinct reports that all name Libya.
func stormSite(t *testing.T, n int) *httptest.Server {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>storm</title>`)
	for i := range n {
		fmt.Fprintf(&b, "<item><title>ليبيا: تقرير %d عن %s</title><link>http://news.example/%d</link><description>%s</description></item>",
			i, strings.Repeat(fmt.Sprintf("كلمة%d ", i*7), 3), i, strings.Repeat(fmt.Sprintf("نص%d خبر%d ليبيا ", i, i*3), 20))
	}
	b.WriteString("</channel></rss>")
	body := b.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	t.Cleanup(srv.Close)
	return srv
}

// silentSMTP accepts connections and never says a word: a mail server
// that hangs. It counts the connections.
func silentSMTP(t *testing.T) (string, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), &n
}

// TestShutdownIsBoundedDuringAnAlertStorm: with every channel hanging (a
// mail server that accepts and never answers, a webhook that never
// replies) and hundreds of alerts to send, SIGTERM ends `poll --once` and
// `run` within the bound, and every alert is still pending, its attempt
// not counted against it.
func TestShutdownIsBoundedDuringAnAlertStorm(t *testing.T) {
	const reports = 300
	feed := stormSite(t, reports)
	smtpAddr, smtpConns := silentSMTP(t)
	release := make(chan struct{})
	var hookCalls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookCalls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)
	host, port, _ := net.SplitHostPort(smtpAddr)
	for _, mode := range []string{"poll", "run"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`storage: {path: raqib.db}
poll: {schedule: "@every 1h", timeout: 20s, jitter: 0s}
feeds:
  - {name: storm, url: "%s/feed.xml", language: ar}
alerts:
  channels:
    - {name: mail, type: email, host: %s, port: %s, tls: none, from: raqib@example.org, to: [desk@example.org], timeout: 10m}
    - {name: hook, type: webhook, url: "%s/hook", secret: "s3cret", timeout: 10m}
  rules:
    - {name: libya, query: "ليبيا", channels: [mail, hook]}
`, feed.URL, host, port, hook.URL)), 0o600)
			before := smtpConns.Load()
			args := []string{"poll", "--once", "--config", cfg}
			if mode == "run" {
				args = []string{"run", "--config", cfg}
			}
			cmd := exec.Command(binary, args...)
			logs := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waitFor(t, 30*time.Second, func() bool { return smtpConns.Load() > before && hookCalls.Load() > 0 }, logs)
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s did not stop within 15 s of SIGTERM\n%s", mode, logs.String())
			}
			st, err := boltstore.Open(filepath.Join(dir, "raqib.db"))
			if err != nil {
				t.Fatalf("the store after the stop: %v", err)
			}
			defer st.Close()
			all, err := st.Alerts(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2*reports {
				t.Errorf("%d alerts stored, want one per report and channel: %d", len(all), 2*reports)
			}
			for _, a := range all {
				if a.State != storage.AlertPending || a.Attempts != 0 {
					t.Errorf("alert %s on %s: %s after %d attempts; a stop is not a failed attempt", a.ID, a.Channel, a.State, a.Attempts)
					break
				}
			}
		})
	}
}
