package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `storage:
  path: data/raqib.db
seeds:
  dir: seeds
poll:
  schedule: "*/10 * * * *"
  timeout: 20s
dedup:
  window: 7d
feeds:
  - name: bbc-arabic
    url: https://feeds.bbci.co.uk/arabic/rss.xml
    language: ar
  - name: local
    url: http://127.0.0.1:8000/feed.xml
    schedule: "@every 5m"
    enabled: false
alerts:
  channels:
    - name: hook
      type: webhook
      url: https://hooks.example.org/x
      secret: ${RAQIB_TEST_SECRET}
  rules:
    - name: libya
      query: ليبيا OR Libya
      channels: [hook]
      feeds: [bbc-arabic]
server:
  listen: 127.0.0.1:9090
`

func TestPostgresStorage(t *testing.T) {
	t.Setenv("RAQIB_TEST_PG", "postgres://raqib:pw@127.0.0.1/raqib")
	cfg, err := Parse("config.yaml", []byte(strings.Replace(good, "  path: data/raqib.db", "  driver: postgres\n  dsn: ${RAQIB_TEST_PG}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Storage.Postgres() || cfg.Storage.DSN != "postgres://raqib:pw@127.0.0.1/raqib" || !cfg.HasSecrets() {
		t.Errorf("storage %+v, secrets %v", cfg.Storage, cfg.HasSecrets())
	}
	if cfg, err := Parse("config.yaml", []byte(good)); err != nil || cfg.Storage.Postgres() || cfg.Storage.Driver != DriverBolt {
		t.Errorf("the default driver: %+v %v", cfg.Storage, err)
	}
}

func TestLoadGood(t *testing.T) {
	t.Setenv("RAQIB_TEST_SECRET", "s3cr$t")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Path != filepath.Join(dir, "data/raqib.db") || cfg.Seeds.Dir != filepath.Join(dir, "seeds") {
		t.Errorf("relative paths not resolved against the file's folder: %q %q", cfg.Storage.Path, cfg.Seeds.Dir)
	}
	if cfg.Alerts.Channels[0].Secret != "s3cr$t" {
		t.Errorf("secret = %q, want the environment's value", cfg.Alerts.Channels[0].Secret)
	}
	if cfg.Dedup.Window.D() != 7*24*time.Hour || cfg.Poll.Timeout.D() != 20*time.Second {
		t.Errorf("durations: window %v timeout %v", cfg.Dedup.Window.D(), cfg.Poll.Timeout.D())
	}
	if cfg.Feeds[1].IsEnabled() || !cfg.Feeds[0].IsEnabled() {
		t.Error("enabled flags wrong")
	}
	if cfg.Poll.MaxBody != 10<<20 || cfg.Poll.PerHost != 2 {
		t.Errorf("defaults not applied: %+v", cfg.Poll)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Setenv("RAQIB_TEST_SECRET", "x")
	cases := []struct {
		name, from, to string
		want           string // in the message, with the line
	}{
		{"unknown key", "  timeout: 20s", "  timout: 20s", ":7: poll.timout: unknown key"},
		{"bad url", "url: https://feeds.bbci.co.uk/arabic/rss.xml", "url: ftp://feeds.example/rss", ":12: feeds[0].url: bad URL"},
		{"bad cron", `"*/10 * * * *"`, `"*/10 * *"`, ":6: poll.schedule: bad schedule"},
		{"bad duration", "timeout: 20s", "timeout: twenty", ":7: yaml: bad duration \"twenty\""},
		{"negative workers", "  timeout: 20s", "  timeout: 20s\n  workers: -1", ":8: poll.workers: must be 0 (one per core) or more"},
		{"no connections", "  timeout: 20s", "  timeout: 20s\n  connections: 0", ":8: poll.connections: must be at least 1"},
		{"unknown driver", "  path: data/raqib.db", "  path: data/raqib.db\n  driver: sqlite", ":3: storage.driver: \"sqlite\" is not a driver"},
		{"postgres without a dsn", "  path: data/raqib.db", "  driver: postgres", ":2: storage.dsn: must name the PostgreSQL database"},
		{"dsn from an unset variable", "  path: data/raqib.db", "  driver: postgres\n  dsn: ${RAQIB_NOT_SET_ANYWHERE}", ":3: ${RAQIB_NOT_SET_ANYWHERE}: environment variable"},
		{"bad window", "window: 7d", "window: 7days", ":9: yaml: bad duration \"7days\""},
		{"duplicate feed", "name: local", "name: bbc-arabic", ":14: feeds[1].name: duplicate feed name \"bbc-arabic\" (first on line 11)"},
		{"unset variable", "${RAQIB_TEST_SECRET}", "${RAQIB_NOT_SET_ANYWHERE}", ":23: ${RAQIB_NOT_SET_ANYWHERE}: environment variable"},
		{"unset variable outside channels", "listen: 127.0.0.1:9090", "listen: ${RAQIB_NOT_SET_ANYWHERE}", ":30: ${RAQIB_NOT_SET_ANYWHERE}: environment variable"},
		{"unknown channel", "channels: [hook]", "channels: [mail]", ":27: alerts.rules[0].channels: no channel named \"mail\""},
		{"wrong setting for type", "      secret: ${RAQIB_TEST_SECRET}", "      host: smtp.example.org", ":23: alerts.channels[0].host: not a setting of a webhook channel"},
		{"bad listen", "listen: 127.0.0.1:9090", "listen: localhost", ":30: server.listen"},
		{"window that overflows", "window: 7d", "window: 213504d", ":9: yaml: bad duration \"213504d\": at most 36500d"},
		{"duration past a century", "window: 7d", "window: 1000000h", ":9: yaml: bad duration \"1000000h\": at most 36500d"},
		{"size that overflows", "  timeout: 20s", "  timeout: 20s\n  max_body: 99999999999999GiB", ":8: yaml: bad size \"99999999999999\": at most 1TiB"},
		{"a schedule that never fires", `"*/10 * * * *"`, `"0 0 30 2 *"`, ":6: poll.schedule: bad schedule \"0 0 30 2 *\": it never fires"},
		{"a schedule under a second", `"*/10 * * * *"`, `"@every 500ms"`, ":6: poll.schedule: bad schedule \"@every 500ms\": at most once a second"},
		{"bad base_url", "listen: 127.0.0.1:9090", "listen: 127.0.0.1:9090\n  base_url: news.example.org/raqib", ":31: server.base_url: \"news.example.org/raqib\": use an http(s) address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(good, c.from, c.to, 1)
			if src == good {
				t.Fatalf("case does not change the file: %q", c.from)
			}
			cfg, err := Parse("/etc/raqib/config.yaml", []byte(src))
			if err == nil {
				err = cfg.NeedSenders() // a channel's unset variable
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want config.Errors", err)
			}
			if !strings.Contains(err.Error(), "/etc/raqib/config.yaml"+c.want) {
				t.Errorf("error\n%v\ndoes not contain %q", err, c.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "1d12h": 36 * time.Hour, "15m": 15 * time.Minute, "90s": 90 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "3 days", "-5m", "10x"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Feeds) < 5 {
		t.Errorf("the shipped config should list real feeds to start with, has %d", len(cfg.Feeds))
	}
}

func TestSecretsInAReadableFileWarn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	literal := strings.Replace(good, "${RAQIB_TEST_SECRET}", "hunter2-literal", 1)
	for _, c := range []struct {
		text string
		mode os.FileMode
		warn bool
	}{
		{literal, 0o644, true},
		{literal, 0o600, false},
		{good, 0o644, false}, // only a ${VAR} reference: the file holds no secret
	} {
		t.Setenv("RAQIB_TEST_SECRET", "from-env")
		os.WriteFile(path, []byte(c.text), c.mode)
		os.Chmod(path, c.mode)
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(cfg.Warnings) > 0; got != c.warn {
			t.Errorf("mode %v, literal %v: warnings %v", c.mode, c.text == literal, cfg.Warnings)
		}
		for _, w := range cfg.Warnings {
			if strings.Contains(w, "hunter2") {
				t.Errorf("warning shows the secret: %s", w)
			}
		}
	}
}

func TestURLErrorsHideCredentials(t *testing.T) {
	src := strings.Replace(good, "url: https://hooks.example.org/x", "url: ftp://user:pa55word@hooks.example.org/x?token=abc123", 1)
	_, err := Parse("c.yaml", []byte(src))
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "abc123") {
		t.Errorf("error shows credentials: %v", err)
	}
}

// A server other machines reach without a token is warned of; one on
// loopback, or with a token, is not.
func TestOpenListenWarns(t *testing.T) {
	for _, c := range []struct {
		listen, token string
		warn          bool
	}{
		{"127.0.0.1:8080", "", false},
		{"[::1]:8080", "", false},
		{"localhost:8080", "", false},
		{"0.0.0.0:8080", "", true},
		{":8080", "", true},
		{"192.0.2.7:8080", "", true},
		{"0.0.0.0:8080", "t0ken", false},
	} {
		cfg := &Config{Server: Server{Listen: c.listen, Token: c.token}}
		if w := cfg.openListen(); (w != "") != c.warn || (c.warn && !strings.Contains(w, "server.token")) {
			t.Errorf("listen %q, token %q: warning %q", c.listen, c.token, w)
		}
	}
}
