// Command raqib is the media-monitoring daemon and its one-shot commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/feeds"
)

// exitError carries an exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

const usage = `raqib — media monitoring for Arabic news

Usage: raqib COMMAND [flags]

Commands:
  run                 the daemon: import seeds, poll on schedule, send alerts, serve HTTP
  poll --once         poll every enabled feed once, process everything, then exit
  check               validate the configuration and rules
  seeds import        (re)import the seed folder; idempotent
  feeds list          each feed's state: last success, last error, items, next poll
  feeds import-opml F add the feeds of an OPML file to the configuration
  feeds export-opml   the configured feeds as OPML 2.0 on stdout
  stories             the largest recent story clusters and the outlets that ran them
  export              the stream as a feed on stdout (--format json)
  alerts list         alerts and their delivery state (--pending, --failed)
  alerts retry ID     put an alert back in the outbox and attempt it now
  items not-duplicate ITEM
                      make an item wrongly merged into a story a story of its own
  match --query Q     test a rule query against files or standard input, like grep
  store backup FILE   write a consistent copy of the store, also while the daemon runs
  store check         read the whole store and report damage (--file PATH: another file)
  store copy --to postgres [--dsn DSN]
                      copy the BoltDB store into a PostgreSQL database (storage.dsn)
  cluster status      the daemons sharing a PostgreSQL store, their leases and heartbeats
  webhook secret      print a fresh webhook secret (Standard Webhooks form: whsec_...)
  version             print the version

Every command takes --config PATH (default ./config.yaml, or $RAQIB_CONFIG).
Run "raqib COMMAND --help" for a command's flags.
`

// groupUsage is what the commands that take a subcommand print for --help.
var groupUsage = map[string]string{
	"feeds":   "raqib feeds list|import-opml FILE|export-opml [--config PATH]",
	"alerts":  "raqib alerts list [--pending|--failed] | raqib alerts retry ID...",
	"seeds":   "raqib seeds import [--config PATH]",
	"items":   "raqib items not-duplicate [--config PATH] ITEM...",
	"store":   "raqib store check [--file PATH] | raqib store backup FILE | raqib store copy --to postgres [--dsn DSN] [--config PATH]",
	"cluster": "raqib cluster status [--json] [--config PATH]",
	"webhook": "raqib webhook secret",
}

func main() {
	stop := startProfiles()
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "raqib:", ee.err)
		}
		return ee.code
	}
	var ce config.Errors
	if errors.As(err, &ce) {
		fmt.Fprintln(stderr, "raqib: configuration errors:")
		fmt.Fprintln(stderr, ce.Error())
		return 2
	}
	fmt.Fprintln(stderr, "raqib:", err)
	return 1
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("")}
	}
	cmd, rest := args[0], args[1:]
	if u, ok := groupUsage[cmd]; ok && len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help") {
		fmt.Fprintf(stdout, "Usage: %s\n\nRun \"raqib %s SUBCOMMAND --help\" for a subcommand's flags.\n", u, cmd)
		return nil
	}
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "raqib", feeds.Version)
		return nil
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "poll":
		return cmdPoll(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr)
	case "seeds":
		if len(rest) == 0 || rest[0] != "import" {
			return usageErr("usage: raqib seeds import [--config PATH]")
		}
		return cmdSeedsImport(ctx, rest[1:], stdout, stderr)
	case "feeds":
		switch {
		case len(rest) > 0 && rest[0] == "list":
			return cmdFeedsList(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "import-opml":
			return cmdImportOPML(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "export-opml":
			return cmdExportOPML(ctx, rest[1:], stdout, stderr)
		}
		return usageErr("usage: raqib feeds list|import-opml FILE|export-opml [--config PATH]")
	case "stories":
		return cmdStories(ctx, rest, stdout, stderr)
	case "export":
		return cmdExport(ctx, rest, stdout, stderr)
	case "alerts":
		return cmdAlerts(ctx, rest, stdout, stderr)
	case "items":
		return cmdItems(ctx, rest, stdout, stderr)
	case "match":
		return cmdMatch(ctx, rest, os.Stdin, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, stdout, stderr)
	case "cluster":
		return cmdCluster(ctx, rest, stdout, stderr)
	case "webhook":
		if len(rest) != 1 || rest[0] != "secret" {
			return usageErr("usage: raqib webhook secret")
		}
		secret, err := alerts.NewWebhookSecret()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}

// flags makes a command's flag set with the common --config flag.
func flags(name, synopsis string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("RAQIB_CONFIG")
	if def == "" {
		def = "config.yaml"
	}
	cfg := fs.String("config", def, "configuration file (or $RAQIB_CONFIG)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: raqib %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs, cfg
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, errors.New("")}
	}
	if fs.NArg() > 0 {
		return usageErr("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
