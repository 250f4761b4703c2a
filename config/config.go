// Package config loads and validates raqib's YAML configuration.
//
// Every error a user can cause names the file, the line and the field, so that
// `raqib check` can be used as a linter for the configuration.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	Storage Storage `yaml:"storage"`
	Seeds   Seeds   `yaml:"seeds"`
	Poll    Poll    `yaml:"poll"`
	Dedup   Dedup   `yaml:"dedup"`
	Feeds   []Feed  `yaml:"feeds"`
	Alerts  Alerts  `yaml:"alerts"`
	Server  Server  `yaml:"server"`

	// Path is the configuration file's absolute path; Dir its folder, against
	// which relative paths inside the file are resolved.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`
	// Warnings are problems that do not stop raqib (a file holding secrets
	// that others can read).
	Warnings []string `yaml:"-"`
	// MissingEnv are the ${VAR} references of alert channels whose
	// variable is not set: only the commands that send alerts need them
	// (NeedSenders), so that a desk can list and export without the
	// senders' secrets in its environment.
	MissingEnv Errors `yaml:"-"`
}

// HasSecrets reports whether the configuration holds passwords, webhook
// secrets or an API token.
func (c *Config) HasSecrets() bool {
	if c.Server.Token != "" || dsnPassword.MatchString(c.Storage.DSN) {
		return true
	}
	for _, ch := range c.Alerts.Channels {
		if ch.Password != "" || ch.Secret != "" {
			return true
		}
	}
	return false
}

type Storage struct {
	// Driver is the engine: bolt (one file, one daemon; the default) or
	// postgres (one database that several daemons share).
	Driver    string   `yaml:"driver"`
	Path      string   `yaml:"path"` // bolt's file
	DSN       string   `yaml:"dsn"`  // postgres's connection string
	Retention Duration `yaml:"retention"`
}

// Storage drivers.
const (
	DriverBolt     = "bolt"
	DriverPostgres = "postgres"
)

// Postgres reports whether the store is a PostgreSQL database.
func (s Storage) Postgres() bool { return s.Driver == DriverPostgres }

type Seeds struct {
	Dir string `yaml:"dir"`
}

type Poll struct {
	Schedule string   `yaml:"schedule"`
	Timeout  Duration `yaml:"timeout"`
	Connect  Duration `yaml:"connect_timeout"`
	// Workers bounds the feeds parsed and stored at once: that work is
	// CPU, so 0 (the default) is one per core.
	Workers int `yaml:"workers"`
	// Connections bounds the requests in flight over all hosts; a request
	// waiting for a slow server holds a connection, not a worker.
	Connections int      `yaml:"connections"`
	PerHost     int      `yaml:"per_host"`
	MaxBody     Size     `yaml:"max_body"`
	Jitter      Duration `yaml:"jitter"`
	MaxBackof   Duration `yaml:"max_backoff"`
	UserAgent   string   `yaml:"user_agent"`
}

type Dedup struct {
	Window Duration `yaml:"window"`
}

type Feed struct {
	Name     string `yaml:"name"`
	URL      string `yaml:"url"`
	Schedule string `yaml:"schedule"`
	Language string `yaml:"language"`
	Enabled  *bool  `yaml:"enabled"`
	// Tags group feeds (a reader's folders, imported from OPML); a rule's
	// tags limit it to the feeds that carry one of them.
	Tags []string `yaml:"tags"`
	// SiteURL is the outlet's web site (OPML's htmlUrl).
	SiteURL string `yaml:"site_url"`
}

// IsEnabled reports whether the feed is polled; feeds are enabled unless said otherwise.
func (f Feed) IsEnabled() bool { return f.Enabled == nil || *f.Enabled }

type Alerts struct {
	Channels    []Channel `yaml:"channels"`
	Rules       []Rule    `yaml:"rules"`
	MaxAttempts int       `yaml:"max_attempts"`
}

// Channel holds the settings of every channel type; Validate checks that only
// the settings of the channel's own type are given.
type Channel struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// webhook
	URL     string   `yaml:"url"`
	Secret  string   `yaml:"secret"`
	Timeout Duration `yaml:"timeout"`
	// Payload is the webhook body's shape: "raqib" (the default: the alert
	// itself) or "standard" (Standard Webhooks: type, timestamp, data).
	Payload string `yaml:"payload"`
	// email
	Host     string   `yaml:"host"`
	Port     int      `yaml:"port"`
	TLS      string   `yaml:"tls"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	// Concurrency is how many messages the channel sends at once (0: the
	// default); each channel delivers in a lane of its own.
	Concurrency int `yaml:"concurrency"`
}

type Rule struct {
	Name     string   `yaml:"name"`
	Query    string   `yaml:"query"`
	Channels []string `yaml:"channels"`
	Feeds    []string `yaml:"feeds"`
	// Tags limit the rule to the feeds with one of these tags (added to
	// Feeds when the configuration is read).
	Tags   []string `yaml:"tags"`
	Digest Duration `yaml:"digest"`
}

type Server struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// BaseURL is where readers reach the server (behind a proxy, say):
	// the feeds' self links are built from it, not from the request.
	BaseURL string `yaml:"base_url"`
	// CORSOrigins are the web origins whose pages may read the API
	// (https://desk.example.org, or "*" for any); the public feeds are
	// open to every origin.
	CORSOrigins []string `yaml:"cors_origins"`
	// MetricsPerFeed adds /metrics series labelled by feed (off: at many
	// feeds they are most of a scrape).
	MetricsPerFeed bool `yaml:"metrics_per_feed"`
}

// Duration is a time.Duration that also accepts a day suffix ("30d", "1d12h").
type Duration time.Duration

func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

var dayPrefix = regexp.MustCompile(`^(\d+)d`)

// ParseDuration parses Go durations plus a leading whole number of days.
func ParseDuration(orig string) (time.Duration, error) {
	s := strings.TrimSpace(orig)
	var total time.Duration
	if m := dayPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("bad duration %q: at most %dd", orig, maxDays)
		}
		total = time.Duration(n) * 24 * time.Hour
		s = s[len(m[0]):]
		if s == "" {
			return total, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use e.g. 30s, 15m, 2h, 30d)", orig)
	}
	if v < 0 || v+total < 0 {
		return 0, fmt.Errorf("bad duration %q: negative", orig)
	}
	if v+total > maxDays*24*time.Hour {
		return 0, fmt.Errorf("bad duration %q: at most %dd", orig, maxDays)
	}
	return total + v, nil
}

// maxDays bounds a duration: a century is past any window or retention a
// desk means, and far below where a day count overflows.
const maxDays = 36500

// maxSize bounds a size setting, far below where a count overflows.
const maxSize = 1 << 40

// Size is a byte count that accepts KiB/MiB/GiB suffixes.
type Size int64

func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*z = Size(v)
	return nil
}

// ParseSize parses "10MiB", "512KiB", "1GiB", "10MB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult, s = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (use e.g. 10MiB, 512KiB)", s)
	}
	if n > maxSize/mult {
		return 0, fmt.Errorf("bad size %q: at most 1TiB", s)
	}
	return n * mult, nil
}

// Error is one problem found in the configuration, with where it is.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// Errors is every problem found; Load returns all of them at once so that a
// user fixes the file in one go.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Defaults fill what the file leaves out.
func defaults() Config {
	return Config{
		Storage: Storage{Driver: DriverBolt, Path: "raqib.db"},
		Seeds:   Seeds{Dir: "seeds"},
		Poll: Poll{
			Schedule:    "@every 15m",
			Timeout:     Duration(30 * time.Second),
			Connect:     Duration(10 * time.Second),
			Connections: 256,
			PerHost:     2,
			MaxBody:     Size(10 << 20),
			Jitter:      Duration(30 * time.Second),
			MaxBackof:   Duration(6 * time.Hour),
		},
		Dedup:  Dedup{Window: Duration(30 * 24 * time.Hour)},
		Alerts: Alerts{MaxAttempts: 10},
		Server: Server{Listen: "127.0.0.1:8080"},
	}
}

// Load reads, expands and validates the configuration at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(abs, data)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err == nil && fi.Mode().Perm()&0o044 != 0 && cfg.HasSecrets() && !referencesOnly(data) {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s holds secrets and others can read it (mode %v): chmod 600 it, or move the secrets to ${VAR} references", abs, fi.Mode().Perm()))
	}
	if w := cfg.openListen(); w != "" {
		cfg.Warnings = append(cfg.Warnings, w)
	}
	return cfg, nil
}

// openListen warns of a server that other machines reach with no token:
// the desk's pages and API answer them only when asked by IP address, and
// take no action from them.
func (c *Config) openListen() string {
	if c.Server.Token != "" || c.Server.Listen == "" {
		return ""
	}
	host, _, err := splitHostPort(c.Server.Listen)
	if err != nil {
		return ""
	}
	host = strings.Trim(host, "[]")
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return fmt.Sprintf("server.listen %s reaches other machines, and server.token is not set: the pages and API answer them only at an IP address (not by name), and take no action from them; set server.token", c.Server.Listen)
}

// dsnPassword finds a password written into a connection string, as a
// URL's user:password@ or a password= setting.
var dsnPassword = regexp.MustCompile(`://[^/@:]*:[^/@]+@|password\s*=`)

var envOnly = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)

// referencesOnly reports whether every secret in the file is a ${VAR}
// reference, so the file itself holds none.
func referencesOnly(data []byte) bool {
	var raw Config
	if yaml.Unmarshal(data, &raw) != nil {
		return false
	}
	literal := func(v string) bool { return v != "" && !envOnly.MatchString(v) }
	if literal(raw.Server.Token) || dsnPassword.MatchString(raw.Storage.DSN) {
		return false
	}
	for _, ch := range raw.Alerts.Channels {
		if literal(ch.Password) || literal(ch.Secret) {
			return false
		}
	}
	return true
}

// Parse is Load on bytes already read; file names the source in errors.
func Parse(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErrors(file, err)
	}
	cfg := defaults()
	cfg.Path = file
	cfg.Dir = filepath.Dir(file)
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Field: "file", Msg: "empty configuration"}}
	}
	root := doc.Content[0]
	var errs Errors
	add := func(line int, field, format string, args ...any) {
		errs = append(errs, Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	checkKeys(root, reflect.TypeOf(cfg), "", add)
	if ch := nodeAt(root, "alerts", "channels"); ch != nil {
		expandEnv(ch, func(line int, field, format string, args ...any) {
			cfg.MissingEnv = append(cfg.MissingEnv, Error{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...) + " (alert channels need it to send)"})
		})
	}
	expandEnv(root, add)
	if len(errs) > 0 {
		return nil, errs
	}
	if err := root.Decode(&cfg); err != nil {
		return nil, yamlErrors(file, err)
	}
	cfg.validate(root, add)
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.Storage.Path = cfg.Resolve(cfg.Storage.Path)
	cfg.Seeds.Dir = cfg.Resolve(cfg.Seeds.Dir)
	return &cfg, nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlErrors splits the YAML library's decode errors into located errors.
func yamlErrors(file string, err error) Errors {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out Errors
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		e := Error{File: file, Field: "yaml", Msg: m}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
		}
		out = append(out, e)
	}
	return out
}

// Resolve makes a path from the configuration absolute, relative to the file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// checkKeys reports mapping keys that no struct field takes, walking the
// node tree beside the Go type.
func checkKeys(n *yaml.Node, t reflect.Type, path string, add func(int, string, string, ...any)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
				names = append(names, tag)
			}
		}
		sort.Strings(names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				name := k.Value
				if name == "" {
					name = `""`
				}
				add(k.Line, join(path, name), "unknown key (known here: %s)", strings.Join(names, ", "))
				continue
			}
			checkKeys(v, ft, join(path, k.Value), add)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), add)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// NeedSenders is the error of a command that sends alerts when a channel's
// ${VAR} is not set, or nil.
func (c *Config) NeedSenders() error {
	if len(c.MissingEnv) == 0 {
		return nil
	}
	return c.MissingEnv
}

// expandEnv replaces ${VAR} in scalar values. Only the braced form is
// expanded so that a literal "$" in a password survives.
func expandEnv(n *yaml.Node, add func(int, string, string, ...any)) {
	if n.Kind == yaml.ScalarNode {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := os.LookupEnv(name)
			if !ok {
				add(n.Line, ref, "environment variable %s is not set", name)
			}
			return v
		})
		return
	}
	for _, c := range n.Content {
		expandEnv(c, add)
	}
}

// line finds the line of the value at a path of keys and indexes, or of the
// nearest parent that exists.
func line(n *yaml.Node, path ...any) int {
	last := n.Line
	for i := range path {
		c := nodeAt(n, path[:i+1]...)
		if c == nil {
			return last
		}
		last = c.Line
	}
	return last
}

// ValidateSchedule accepts standard 5-field cron specs and descriptors such as "@every 5m".
func ValidateSchedule(spec string) error {
	_, err := ParseSchedule(spec)
	return err
}

// ParseSchedule parses a cron spec or descriptor. A schedule that never
// fires (30 February) or fires more than once a second is refused: cron
// would take either without a word.
func ParseSchedule(spec string) (cron.Schedule, error) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	if every, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		if d, err := ParseDuration(every); err == nil && d < time.Second {
			return nil, fmt.Errorf("bad schedule %q: at most once a second", spec)
		}
	}
	s, err := p.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("bad schedule %q: %v (use a 5-field cron spec or @every 15m)", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("bad schedule %q: it never fires (no such day)", spec)
	}
	return s, nil
}

// Interval is about how often a schedule fires: the gap after its next
// firing.
func Interval(s cron.Schedule, now time.Time) time.Duration {
	next := s.Next(now)
	return s.Next(next).Sub(next)
}

// redactURL hides what a URL may carry as credentials: the user
// information and the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?@"); i >= 0 {
			return raw[:i] + "…"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("…")
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

func validURL(raw string, schemes ...string) error {
	shown := redactURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: cannot be parsed", shown)
	}
	raw = shown
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	if !ok {
		return fmt.Errorf("bad URL %q: scheme must be %s", raw, strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", raw)
	}
	return nil
}

var namePattern = regexp.MustCompile(`^[\p{L}\p{N}_.-]+$`)

func (c *Config) validate(root *yaml.Node, add func(int, string, string, ...any)) {
	switch c.Storage.Driver {
	case DriverBolt:
		if c.Storage.Path == "" {
			add(line(root, "storage", "path"), "storage.path", "must not be empty")
		}
	case DriverPostgres:
		if c.Storage.DSN == "" {
			add(line(root, "storage", "dsn"), "storage.dsn", "must name the PostgreSQL database (driver postgres), e.g. postgres://raqib@127.0.0.1/raqib or ${RAQIB_PG_DSN}")
		}
	default:
		add(line(root, "storage", "driver"), "storage.driver", "%q is not a driver: bolt (one file, the default) or postgres", c.Storage.Driver)
	}
	if err := ValidateSchedule(c.Poll.Schedule); err != nil {
		add(line(root, "poll", "schedule"), "poll.schedule", "%v", err)
	}
	if c.Poll.Timeout <= 0 {
		add(line(root, "poll", "timeout"), "poll.timeout", "must be positive")
	}
	if c.Poll.Workers < 0 {
		add(line(root, "poll", "workers"), "poll.workers", "must be 0 (one per core) or more")
	}
	if c.Poll.Connections < 1 {
		add(line(root, "poll", "connections"), "poll.connections", "must be at least 1")
	}
	if c.Poll.PerHost < 1 {
		add(line(root, "poll", "per_host"), "poll.per_host", "must be at least 1")
	}
	if c.Storage.Retention < 0 || (c.Storage.Retention > 0 && c.Storage.Retention < c.Dedup.Window) {
		add(line(root, "storage", "retention"), "storage.retention", "must be 0 (keep everything) or at least dedup.window (%s)", c.Dedup.Window.D())
	}
	if c.Dedup.Window <= 0 {
		add(line(root, "dedup", "window"), "dedup.window", "must be positive")
	}
	seen := map[string]int{}
	for i, f := range c.Feeds {
		field := fmt.Sprintf("feeds[%d]", i)
		switch {
		case f.Name == "":
			add(line(root, "feeds", i), field+".name", "missing")
		case !namePattern.MatchString(f.Name):
			add(line(root, "feeds", i, "name"), field+".name", "%q: use letters, digits, '_', '.', '-'", f.Name)
		case seen[f.Name] > 0:
			add(line(root, "feeds", i, "name"), field+".name", "duplicate feed name %q (first on line %d)", f.Name, seen[f.Name])
		default:
			seen[f.Name] = line(root, "feeds", i, "name")
		}
		if f.URL == "" {
			add(line(root, "feeds", i), field+".url", "missing")
		} else if err := validURL(f.URL, "http", "https"); err != nil {
			add(line(root, "feeds", i, "url"), field+".url", "%v", err)
		}
		if f.Schedule != "" {
			if err := ValidateSchedule(f.Schedule); err != nil {
				add(line(root, "feeds", i, "schedule"), field+".schedule", "%v", err)
			}
		}
	}
	chans := map[string]bool{}
	for i, ch := range c.Alerts.Channels {
		field := fmt.Sprintf("alerts.channels[%d]", i)
		at := func(key string) int { return line(root, "alerts", "channels", i, key) }
		if ch.Name == "" {
			add(at("name"), field+".name", "missing")
		} else if chans[ch.Name] {
			add(at("name"), field+".name", "duplicate channel name %q", ch.Name)
		}
		chans[ch.Name] = true
		allowed := map[string][]string{
			"log":     {},
			"webhook": {"url", "secret", "timeout", "concurrency", "payload"},
			"email":   {"host", "port", "tls", "username", "password", "from", "to", "timeout", "concurrency"},
		}
		keys, ok := allowed[ch.Type]
		if !ok {
			add(at("type"), field+".type", "%q: must be email, webhook or log", ch.Type)
			continue
		}
		node := nodeAt(root, "alerts", "channels", i)
		for j := 0; node != nil && j+1 < len(node.Content); j += 2 {
			k := node.Content[j].Value
			if k != "name" && k != "type" && !contains(keys, k) {
				add(node.Content[j].Line, field+"."+k, "not a setting of a %s channel", ch.Type)
			}
		}
		if ch.Concurrency < 0 || ch.Concurrency > 64 {
			add(at("concurrency"), field+".concurrency", "%d: must be 1 to 64 messages at once (leave it out for the default)", ch.Concurrency)
		}
		switch ch.Type {
		case "webhook":
			if err := validURL(ch.URL, "http", "https"); err != nil {
				add(at("url"), field+".url", "%v", err)
			}
			if ch.Payload != "" && ch.Payload != "raqib" && ch.Payload != "standard" {
				add(at("payload"), field+".payload", "%q: must be raqib (the alert itself) or standard (Standard Webhooks: type, timestamp, data)", ch.Payload)
			}
		case "email":
			if ch.Host == "" {
				add(at("host"), field+".host", "missing")
			}
			if ch.Port < 0 || ch.Port > 65535 {
				add(at("port"), field+".port", "%d is not a port", ch.Port)
			}
			if ch.TLS != "" && ch.TLS != "none" && ch.TLS != "starttls" && ch.TLS != "tls" {
				add(at("tls"), field+".tls", "%q: must be none, starttls or tls", ch.TLS)
			}
			if ch.From == "" {
				add(at("from"), field+".from", "missing")
			}
			if len(ch.To) == 0 {
				add(at("to"), field+".to", "needs at least one address")
			}
		}
	}
	rules := map[string]bool{}
	for i, r := range c.Alerts.Rules {
		field := fmt.Sprintf("alerts.rules[%d]", i)
		at := func(key string) int { return line(root, "alerts", "rules", i, key) }
		if r.Name == "" {
			add(at("name"), field+".name", "missing")
		} else if !namePattern.MatchString(r.Name) {
			add(at("name"), field+".name", "%q: use letters, digits, '_', '.', '-'", r.Name)
		} else if rules[r.Name] {
			add(at("name"), field+".name", "duplicate rule name %q", r.Name)
		}
		rules[r.Name] = true
		if strings.TrimSpace(r.Query) == "" {
			add(at("query"), field+".query", "missing")
		}
		for _, name := range r.Channels {
			if !chans[name] {
				add(at("channels"), field+".channels", "no channel named %q", name)
			}
		}
		for _, name := range r.Feeds {
			if seen[name] == 0 {
				add(at("feeds"), field+".feeds", "no feed named %q", name)
			}
		}
		for _, tag := range r.Tags {
			n := 0
			for _, f := range c.Feeds {
				if slices.Contains(f.Tags, tag) {
					n++
					if !slices.Contains(r.Feeds, f.Name) {
						c.Alerts.Rules[i].Feeds = append(c.Alerts.Rules[i].Feeds, f.Name)
					}
				}
			}
			if n == 0 {
				// Else the rule, its feeds list empty, would watch every feed.
				add(at("tags"), field+".tags", "no feed has the tag %q", tag)
			}
		}
	}
	if c.Server.Listen != "" {
		if _, _, err := splitHostPort(c.Server.Listen); err != nil {
			add(line(root, "server", "listen"), "server.listen", "%v", err)
		}
	}
	if b := c.Server.BaseURL; b != "" {
		if u, err := url.Parse(b); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			add(line(root, "server", "base_url"), "server.base_url", "%q: use an http(s) address with a host and no query, like https://news.example.org/raqib", b)
		}
		c.Server.BaseURL = strings.TrimRight(b, "/")
	}
	for i, o := range c.Server.CORSOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			add(line(root, "server", "cors_origins", i), fmt.Sprintf("server.cors_origins[%d]", i), "%q: an origin is a scheme and a host, like https://desk.example.org (or \"*\" for any)", o)
		}
		c.Server.CORSOrigins[i] = strings.TrimRight(o, "/")
	}
}

// RuleLine is the line of rule i's query, for errors found when rules are compiled.
func RuleLine(cfg *Config, i int) int {
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	return line(doc.Content[0], "alerts", "rules", i, "query")
}

func nodeAt(n *yaml.Node, path ...any) *yaml.Node {
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch p := p.(type) {
		case string:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
				}
			}
			n = next
		case int:
			if p >= len(n.Content) {
				return nil
			}
			n = n.Content[p]
		}
	}
	return n
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", 0, errors.New("listen address needs host:port, e.g. 127.0.0.1:8080")
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", s)
	}
	return s[:i], p, nil
}
