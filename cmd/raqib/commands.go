package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/corpus"
	"github.com/raqib/raqib/export"
	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
	"github.com/raqib/raqib/storage/postgres"
)

// app is what most commands need: configuration, store and pipeline.
type app struct {
	cfg        *config.Config
	store      storage.Store
	bolt       *boltstore.Bolt // the store, when it is a BoltDB file
	daemon     string          // this process's id in the fleet, once joined
	engine     *alerts.Engine
	pipe       *pipeline.Pipeline
	dispatcher *alerts.Dispatcher
	log        *slog.Logger
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &exitError{2, err}
	}
	return cfg, nil
}

// openApp loads the configuration and opens the store; withPipeline also
// builds the dedup index, imports the seeds and readies the alert
// dispatcher.
func openApp(ctx context.Context, path string, log *slog.Logger, withPipeline bool) (*app, error) {
	a, err := openStore(ctx, path, log, withPipeline)
	if err != nil || !withPipeline {
		return a, err
	}
	if err := a.openPipeline(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// openStore is openApp without the pipeline; withDispatcher readies the
// alert dispatcher (and checks the rules' channels).
func openStore(ctx context.Context, path string, log *slog.Logger, withDispatcher bool) (*app, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	engine, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, engine: engine}
	st, err := a.openEngine(ctx)
	if err != nil {
		return nil, err
	}
	a.store = st
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if !withDispatcher {
		return a, nil
	}
	if err := cfg.NeedSenders(); err != nil {
		st.Close()
		return nil, err
	}
	if a.dispatcher, err = newDispatcher(cfg, st, log); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// openPipeline builds the dedup index from the store and imports the seeds.
func (a *app) openPipeline(ctx context.Context) error {
	var matcher pipeline.Matcher
	if a.engine != nil {
		matcher = a.engine
	}
	pipe, err := pipeline.New(ctx, a.store, a.cfg.Dedup.Window.D(), matcher, a.log)
	if err != nil {
		return err
	}
	tuneGC(a.log)
	pipe.OnCommit = func(*storage.CommitResult) { a.dispatcher.Wake() }
	a.pipe = pipe
	if _, err := a.importSeeds(ctx); err != nil {
		return err
	}
	return nil
}

// onFirstIngest is the pipeline as an Ingester that is built when the
// first feed with news needs it: a cycle where every feed answers 304
// never loads the dedup index, and one with news starts fetching while
// the index loads.
type onFirstIngest struct {
	a    *app
	once sync.Once
	err  error
}

func (l *onFirstIngest) load(ctx context.Context) error {
	l.once.Do(func() {
		if l.err = l.a.openPipeline(ctx); l.err != nil {
			l.err = fmt.Errorf("load the pipeline: %w", l.err)
		}
	})
	return l.err
}

func (l *onFirstIngest) Ingest(ctx context.Context, feed *storage.FeedState, items []*storage.Item) (*storage.CommitResult, error) {
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l.a.pipe.Ingest(ctx, feed, items)
}

func (l *onFirstIngest) Stage(ctx context.Context, items []*storage.Item) (func(context.Context, *storage.FeedState) (*storage.CommitResult, error), error) {
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l.a.pipe.Stage(ctx, items)
}

// newEngine compiles the alert rules; a rule that does not parse is a
// configuration error naming its line.
func newEngine(cfg *config.Config) (*alerts.Engine, error) {
	if len(cfg.Alerts.Rules) == 0 {
		return nil, nil
	}
	e, err := alerts.NewEngine(cfg.Alerts.Rules)
	var re *alerts.RuleError
	if errors.As(err, &re) {
		return nil, config.Errors{{File: cfg.Path, Line: config.RuleLine(cfg, re.Index), Field: fmt.Sprintf("alerts.rules[%d].query", re.Index), Msg: re.Err.Error()}}
	}
	return e, err
}

func newDispatcher(cfg *config.Config, st storage.Store, log *slog.Logger) (*alerts.Dispatcher, error) {
	senders, concurrency, timeouts := map[string]alerts.Sender{}, map[string]int{}, map[string]time.Duration{}
	for _, ch := range cfg.Alerts.Channels {
		s, err := alerts.NewSender(ch, log)
		if err != nil {
			return nil, &exitError{2, err}
		}
		senders[ch.Name], concurrency[ch.Name] = s, ch.Concurrency
		t := ch.Timeout.D()
		switch {
		case ch.Type == "email":
			// go-mail's timeout runs once while it connects and greets and
			// again while it sends, so a send may take twice it; given up
			// sooner, the send goes on and delivers, and the alert is
			// sent again, a copy an attempt.
			timeouts[ch.Name] = 2*cmp.Or(t, alerts.DefaultEmailTimeout) + 5*time.Second
		case t > 0:
			// The send cannot outlast its client's timeout; a little
			// more leaves room for the item's lookups.
			timeouts[ch.Name] = t + 5*time.Second
		}
	}
	return &alerts.Dispatcher{Store: st, Senders: senders, Concurrency: concurrency, Timeouts: timeouts, MaxAttempts: cfg.Alerts.MaxAttempts, Log: log}, nil
}

func (a *app) close() {
	if a.store == nil {
		return // a read command asking the daemon
	}
	if err := a.store.Close(); err != nil {
		a.log.Error("close store", "error", err)
	}
}

// closeWithin closes the store unless that takes longer than d (a read
// still running holds it): the process is about to exit, and the file
// holds what was committed either way.
func (a *app) closeWithin(d time.Duration) {
	if a.store == nil {
		return
	}
	st := a.store
	a.store = nil // the deferred close has nothing left to do
	closed := make(chan struct{})
	go func() {
		if err := st.Close(); err != nil {
			a.log.Error("close store", "error", err)
		}
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(d):
		a.log.Warn("store still busy at exit; leaving it to the operating system")
	}
}

func (a *app) importSeeds(ctx context.Context) (int, error) {
	if _, err := os.Stat(a.cfg.Seeds.Dir); errors.Is(err, os.ErrNotExist) {
		a.log.Warn("no seed folder; nothing to import", "seeds.dir", a.cfg.Seeds.Dir)
		return 0, nil
	}
	docs, err := corpus.Load(ctx, a.cfg.Seeds.Dir)
	if err != nil {
		return 0, err
	}
	n, err := a.pipe.ImportSeeds(ctx, docs)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		a.log.Info("imported seeds", "new", n, "total", len(docs))
	}
	return n, nil
}

// maintain prunes items past storage.retention and forgets the dedup
// index's entries past the window, when the index was loaded.
func (a *app) maintain(ctx context.Context) (int, error) {
	if a.pipe != nil {
		return a.pipe.Maintain(ctx, a.cfg.Storage.Retention.D())
	}
	return pipeline.Prune(ctx, a.store, a.cfg.Storage.Retention.D(), time.Now(), a.log)
}

// openEngine opens the store storage.driver names.
func (a *app) openEngine(ctx context.Context) (storage.Store, error) {
	if a.cfg.Storage.Postgres() {
		st, err := postgres.Open(ctx, a.cfg.Storage.DSN)
		if err != nil {
			return nil, err
		}
		st.Log = a.log
		return st, nil
	}
	st, err := boltstore.Open(a.cfg.Storage.Path)
	if err != nil {
		return nil, err
	}
	a.bolt = st
	return st, nil
}

// storeName is the store as messages name it.
func (a *app) storeName() string {
	if a.cfg.Storage.Postgres() {
		return "postgres " + postgres.Redact(a.cfg.Storage.DSN)
	}
	return a.cfg.Storage.Path
}

// joinFleet names this process among the daemons sharing the store, if
// they can share it, so that it leases what it polls and sends; the
// dispatcher leases in its name.
func (a *app) joinFleet(ctx context.Context, role string) error {
	f := a.fleet()
	if f == nil {
		return nil
	}
	host, _ := os.Hostname()
	now := time.Now()
	d := storage.Daemon{ID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), strconv.FormatInt(now.UnixMilli(), 36)), Host: host, PID: os.Getpid(), Version: feeds.Version + " " + role, Started: now}
	if err := f.Join(ctx, d); err != nil {
		return err
	}
	a.daemon = d.ID
	if a.dispatcher != nil {
		a.dispatcher.Leases = f
	}
	a.log.Info("joined the fleet", "daemon", d.ID)
	return nil
}

// sharedDispatcher is a one-shot command's dispatcher: in a fleet it joins
// and leases what it sends, so that a daemon sending the same alert at the
// same moment does not send it too.
func (a *app) sharedDispatcher(ctx context.Context, role string, log *slog.Logger) (*alerts.Dispatcher, error) {
	d, err := newDispatcher(a.cfg, a.store, log)
	if err != nil {
		return nil, err
	}
	if f := a.fleet(); f != nil {
		if err := a.joinFleet(ctx, role); err != nil {
			return nil, err
		}
		d.Leases = f
	}
	return d, nil
}

// fleet is the store when several daemons may share it.
func (a *app) fleet() storage.Fleet {
	f, _ := a.store.(storage.Fleet)
	return f
}

func (a *app) poller() *feeds.Poller {
	p := a.cfg.Poll
	var leases feeds.FeedLeaser
	if f := a.fleet(); f != nil {
		leases = f
	}
	return &feeds.Poller{
		Leases:     leases,
		Daemon:     a.daemon,
		Store:      a.store,
		Fetcher:    feeds.NewFetcher(feeds.FetchOptions{UserAgent: p.UserAgent, ConnectTimeout: p.Connect.D(), MaxBody: int64(p.MaxBody), PerHost: p.PerHost}),
		Ingester:   a.pipe,
		Timeout:    p.Timeout.D(),
		MaxBackoff: p.MaxBackof.D(),
		Workers:    cmp.Or(p.Workers, runtime.GOMAXPROCS(0)),
		Log:        a.log,
	}
}

func enabledFeeds(cfg *config.Config) []config.Feed {
	var out []config.Feed
	for _, f := range cfg.Feeds {
		if f.IsEnabled() {
			out = append(out, f)
		}
	}
	return out
}

func cmdPoll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("poll", "poll --once [--config PATH]", stderr)
	once := fs.Bool("once", false, "poll every enabled feed once, then exit (required)")
	quiet := fs.Bool("quiet", false, "print only failing feeds and the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*once {
		return usageErr("poll: only --once is supported; the daemon is \"raqib run\"")
	}
	log := newLogger(stderr, "warn")
	a, err := openStore(ctx, *cfgPath, log, true)
	if err != nil {
		return err
	}
	defer a.close()
	start := time.Now()
	if err := a.joinFleet(ctx, "poll --once"); err != nil {
		return err
	}
	list := enabledFeeds(a.cfg)
	poller := a.poller()
	lazy := &onFirstIngest{a: a}
	poller.Ingester = lazy
	// On a terminal, a progress bar (feeds done of all, new items, errors)
	// instead of a line per feed; quiet when the output goes elsewhere.
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !*quiet {
		bar := progressbar.NewOptions(len(list), progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetDescription("polling"))
		var newItems, errs atomic.Int64
		poller.OnResult = func(r feeds.Result) {
			newItems.Add(int64(r.New))
			if r.Err != nil {
				errs.Add(1)
			}
			bar.Describe(fmt.Sprintf("polling: %d new items, %d errors", newItems.Load(), errs.Load()))
			bar.Add(1)
		}
		*quiet = true
		defer bar.Finish()
	}
	// In a fleet, a feed polled by anyone since this run began counts as
	// polled: runs started together share the work.
	results := poller.PollAllSince(ctx, list, a.cfg.Poll.Connections, true, start)
	var items, stored, dups, failed, cut int
	var storeErr error
	for _, r := range results {
		if r.StoreFailed && storeErr == nil {
			storeErr = r.Err
		}
		items += r.Items
		stored += r.New
		dups += r.Duplicates
		switch {
		case r.Interrupted:
			cut++
			continue
		case r.Err != nil:
			failed++
		}
		if !*quiet || r.Err != nil {
			fmt.Fprintln(stdout, describe(r))
		}
	}
	fmt.Fprintf(stdout, "polled %d feeds: %d items seen, %d new (%d duplicates of known stories), %d failed\n", len(results)-cut, items, stored, dups, failed)
	if ctx.Err() != nil {
		// A signal: what was committed stays, the rest waits for the next
		// run; no delivery round starts (pending alerts stay pending).
		return fmt.Errorf("interrupted: %d of %d feeds not polled (polled on the next run); alerts not yet delivered stay pending", cut, len(results))
	}
	if errors.Is(storeErr, boltstore.ErrDamaged) {
		return storeErr
	}
	if lazy.err != nil {
		return lazy.err
	}
	if storeErr != nil {
		return fmt.Errorf("the store %s cannot be written (disk full? read-only?): %w", a.storeName(), storeErr)
	}
	if n, err := a.maintain(ctx); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(stdout, "pruned %d items older than storage.retention\n", n)
	}
	delivered, pending, err := a.dispatcher.Flush(ctx, 3, 200*time.Millisecond)
	if ctx.Err() != nil {
		return errors.New("interrupted while delivering alerts: those not delivered stay pending and go out on the next run (raqib alerts list --pending)")
	}
	if err != nil {
		return err
	}
	if delivered+pending > 0 {
		fmt.Fprintf(stdout, "alerts: %d delivered, %d pending (retried on the next run)\n", delivered, pending)
	}
	if n, err := a.dispatcher.Waiting(ctx); err == nil && n > 0 {
		fmt.Fprintf(stdout, "alerts: %d held for digests, sent as one message each when their windows close\n", n)
	}
	return ctx.Err()
}

func describe(r feeds.Result) string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%-20s error: %v", r.Feed, r.Err)
	case r.Skipped != "":
		return fmt.Sprintf("%-20s skipped: %s", r.Feed, r.Skipped)
	case r.NotModified:
		return fmt.Sprintf("%-20s not modified (304)", r.Feed)
	case r.Unchanged:
		return fmt.Sprintf("%-20s unchanged body", r.Feed)
	}
	return fmt.Sprintf("%-20s %d items, %d new, %d duplicates", r.Feed, r.Items, r.New, r.Duplicates)
}

func cmdCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("check", "check [--config PATH]", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if _, err := newEngine(cfg); err != nil {
		return err
	}
	if err := cfg.NeedSenders(); err != nil {
		return err
	}
	for _, ch := range cfg.Alerts.Channels {
		if _, err := alerts.NewSender(ch, nil); err != nil {
			return &exitError{2, err}
		}
	}
	if _, err := os.Stat(cfg.Seeds.Dir); err != nil {
		fmt.Fprintf(stdout, "warning: seeds.dir %s: %v\n", cfg.Seeds.Dir, err)
	} else if _, err := corpus.Load(context.Background(), cfg.Seeds.Dir); err != nil {
		return &exitError{2, err}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d feeds, %d channels, %d rules)\n", cfg.Path, len(cfg.Feeds), len(cfg.Alerts.Channels), len(cfg.Alerts.Rules))
	return nil
}

func cmdSeedsImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("seeds import", "seeds import [--config PATH]", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr, "warn")
	a, err := openApp(ctx, *cfgPath, log, false)
	if err != nil {
		return err
	}
	defer a.close()
	a.pipe, err = pipeline.New(ctx, a.store, a.cfg.Dedup.Window.D(), nil, log)
	if err != nil {
		return err
	}
	n, err := a.importSeeds(ctx)
	if err != nil {
		return err
	}
	all, err := a.store.Seeds(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d new seed documents (%d stored) from %s\n", n, len(all), a.cfg.Seeds.Dir)
	return nil
}

func cmdFeedsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("feeds list", "feeds list [--config PATH] [--failing] [--sort name|items|failures|last-success]", stderr)
	failing := fs.Bool("failing", false, "only feeds whose last poll failed")
	sortBy := fs.String("sort", "", "order by name, items, failures or last-success (default: as configured)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch *sortBy {
	case "", "name", "items", "failures", "last-success":
	default:
		return usageErr("feeds list: --sort %q: use name, items, failures or last-success", *sortBy)
	}
	a, d, err := openRead(ctx, *cfgPath, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	var states map[string]*storage.FeedState // from the daemon, when it runs
	if d != nil {
		if states, err = d.feedStates(ctx); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tSTATE\tLAST SUCCESS\tITEMS\tNEXT POLL\tLAST ERROR")
	now := time.Now()
	type row struct {
		f  config.Feed
		st *storage.FeedState
	}
	var rows []row
	for _, f := range a.cfg.Feeds {
		var st *storage.FeedState
		if d != nil {
			st = states[f.Name]
		} else if st, err = a.store.Feed(ctx, f.Name); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if st == nil {
			st = &storage.FeedState{Name: f.Name}
		}
		rows = append(rows, row{f, st})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].st, rows[j].st
		switch *sortBy {
		case "name":
			return a.Name < b.Name
		case "items":
			return a.Items > b.Items
		case "failures":
			return a.Failures > b.Failures
		case "last-success":
			return a.LastSuccess.Before(b.LastSuccess)
		}
		return false
	})
	for _, r := range rows {
		f, st := r.f, r.st
		state := "ok"
		switch {
		case !f.IsEnabled():
			state = "disabled in config"
		case st.Disabled != "":
			state = "disabled: " + st.Disabled
		case st.LastPoll.IsZero():
			state = "never polled"
		case st.LastError != "":
			state = fmt.Sprintf("failing (%d)", st.Failures)
		}
		if *failing && st.LastError == "" && st.Disabled == "" {
			continue
		}
		lastErr := config.RedactText(st.LastError, append(config.URLSecrets(f.URL), config.URLSecrets(st.URL)...)) // older errors may quote credentials
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", f.Name, config.RedactText(state, config.URLSecrets(f.URL)), when(st.LastSuccess), st.Items, nextPoll(a.cfg, f, st, now), oneLine(lastErr, 80))
	}
	return tw.Flush()
}

func cmdImportOPML(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("feeds import-opml", "feeds import-opml [--dry-run] [--config PATH] FILE.opml", stderr)
	dry := fs.Bool("dry-run", false, "say what would be added, and change nothing")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageErr("feeds import-opml: name one OPML file")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	file, err := os.Open(files[0])
	if err != nil {
		return &exitError{2, err}
	}
	defer file.Close()
	list, problems, err := feeds.ReadOPML(file)
	for _, p := range problems {
		fmt.Fprintf(stderr, "raqib: %s: %s\n", files[0], p)
	}
	if err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", files[0], err)}
	}
	added, err := config.AddFeeds(cfg.Path, list, *dry)
	if err != nil {
		return err
	}
	for _, f := range added {
		tags := ""
		if len(f.Tags) > 0 {
			tags = "  [" + strings.Join(f.Tags, ", ") + "]"
		}
		fmt.Fprintf(stdout, "  + %-28s %s%s\n", f.Name, config.RedactURL(f.URL), tags)
	}
	verb := "added to"
	if *dry {
		verb = "would be added to"
	}
	fmt.Fprintf(stdout, "%s: %d feeds, %d %s %s (%d already there, %d outlines skipped)\n", files[0], len(list), len(added), verb, cfg.Path, len(list)-len(added), len(problems))
	return nil
}

func cmdExportOPML(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("feeds export-opml", "feeds export-opml [--config PATH]", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return feeds.WriteOPML(stdout, cfg.Feeds, time.Now())
}

func nextPoll(cfg *config.Config, f config.Feed, st *storage.FeedState, now time.Time) string {
	if !f.IsEnabled() || st.Disabled != "" {
		return "-"
	}
	spec := f.Schedule
	if spec == "" {
		spec = cfg.Poll.Schedule
	}
	sched, err := config.ParseSchedule(spec)
	if err != nil {
		return "?"
	}
	next := sched.Next(now)
	if st.RetryAfter.After(next) {
		next = st.RetryAfter
	}
	return when(next)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// oneLine is s on one line of at most n characters, without the control
// characters (a terminal's escapes) a stored title might hold.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func cmdStories(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("stories", "stories [--config PATH] [--since 24h] [--limit 20]", stderr)
	since := fs.String("since", "7d", "only stories updated within this long")
	limit := fs.Int("limit", 20, "how many stories")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := config.ParseDuration(*since)
	if err != nil {
		return usageErr("--since: %v", err)
	}
	a, dm, err := openRead(ctx, *cfgPath, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	var stories []export.Story
	if dm != nil {
		stories, err = dm.stories(ctx, *since, *limit)
	} else {
		stories, err = export.Stories(ctx, a.store, time.Now().Add(-d), *limit)
	}
	if err != nil {
		return err
	}
	for _, c := range stories {
		if c.Size < 2 && len(c.Developments) == 0 {
			continue
		}
		sort.Strings(c.Feeds)
		fmt.Fprintf(stdout, "%3d  %s  %s\n     story %s; outlets: %s\n", c.Size, when(c.Updated), oneLine(c.Title, 90), c.ID, strings.Join(c.Feeds, ", "))
		for _, it := range c.Items {
			sim := "first seen"
			if it.DuplicateOf != "" {
				sim = fmt.Sprintf("similarity %.2f", it.Similarity)
			}
			fmt.Fprintf(stdout, "       - %-14s %s (%s)\n", it.Feed, oneLine(it.Title, 70), sim)
		}
		for _, it := range c.Developments {
			fmt.Fprintf(stdout, "       > %-14s %s  %s (a development: story %s)\n", it.Feed, when(it.Date()), oneLine(it.Title, 60), it.ID)
		}
	}
	return nil
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("export", "export --format json|rss|atom [--rule NAME] [--all] [--limit N] [--config PATH]", stderr)
	format := fs.String("format", "json", "json, rss or atom")
	all := fs.Bool("all", false, "include items recognised as duplicates")
	limit := fs.Int("limit", 100, "at most this many items, newest first; 0 for all")
	rule := fs.String("rule", "", "only items that matched the rule NAME")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, ok := export.Writers[*format]; !ok {
		return usageErr("export: --format %q: use json, rss or atom", *format)
	}
	if *limit < 0 {
		return usageErr("export: --limit must be 0 or more")
	}
	a, d, err := openRead(ctx, *cfgPath, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if *rule != "" && !hasRule(a.cfg, *rule) {
		return usageErr("export: no rule named %q in %s", *rule, a.cfg.Path)
	}
	opt := storage.ListOptions{Limit: *limit, WithDuplicates: *all, Rule: *rule}
	return export.Stream(stdout, *format, export.StreamMeta(a.cfg.Feeds, *rule, ""), exportPages(ctx, a, d, opt))
}

// exportPages reads what export.Load lists a page at a time, from the
// store or through the daemon's API, so that an export of every item
// holds a page in memory, not the whole history.
func exportPages(ctx context.Context, a *app, d *daemon, opt storage.ListOptions) func() ([]export.Entry, error) {
	left, done := opt.Limit, false
	return func() ([]export.Entry, error) {
		if done {
			return nil, nil
		}
		page := opt
		page.Limit = apiPage
		if left > 0 {
			page.Limit = min(page.Limit, left)
		}
		var entries []export.Entry
		if d == nil {
			var err error
			if entries, err = export.Load(ctx, a.store, page); err != nil {
				return nil, err
			}
			if len(entries) > 0 {
				opt.Before = a.store.Cursor(entries[len(entries)-1].Item)
			}
		} else {
			items, next, err := d.items(ctx, page)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				entries = append(entries, export.Entry{Item: it.Item, Cluster: &storage.Cluster{ID: it.Cluster, Size: it.ClusterSize, Feeds: it.Outlets, Updated: it.ClusterUpdated}})
			}
			opt.Before = next
		}
		if left > 0 {
			left -= len(entries)
		}
		done = len(entries) < page.Limit || opt.Limit > 0 && left <= 0
		return entries, nil
	}
}

func hasRule(cfg *config.Config, name string) bool {
	for _, r := range cfg.Alerts.Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
