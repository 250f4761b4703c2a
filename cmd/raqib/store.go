package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
	"github.com/raqib/raqib/storage/postgres"
)

func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return cmdStoreCheck(ctx, args[1:], stdout, stderr)
		case "backup":
			return cmdStoreBackup(ctx, args[1:], stdout, stderr)
		case "copy":
			return cmdStoreCopy(ctx, args[1:], stdout, stderr)
		}
	}
	return usageErr("usage: raqib store check [--file PATH] | raqib store backup FILE | raqib store copy --to postgres [--dsn DSN] [--config PATH]")
}

// cmdStoreCheck reads the whole store: bbolt's check of every page, then
// raqib's records against their indexes.
func cmdStoreCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("store check", "store check [--file PATH] [--config PATH]", stderr)
	file := fs.String("file", "", "check this store file (a backup, say) instead of storage.path")
	if err := parse(fs, args); err != nil {
		return err
	}
	path := *file
	if path == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		if cfg.Storage.Postgres() {
			return usageErr("store check: the store is a PostgreSQL database (storage.driver postgres), which checks its own pages; check a BoltDB file with --file PATH")
		}
		path = cfg.Storage.Path
	}
	st, err := boltstore.Open(path)
	if errors.Is(err, storage.ErrInUse) {
		return fmt.Errorf("%w: the daemon holds it; check a copy instead: raqib store backup COPY && raqib store check --file COPY", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Check(ctx, func(p string) { fmt.Fprintln(stdout, p) })
	if err != nil {
		return err
	}
	if n > 0 {
		return &exitError{1, fmt.Errorf("store %s: %d problems: %s", path, n, "restore the last backup, or move the file aside to start an empty store")}
	}
	fmt.Fprintf(stdout, "store %s: every page and record checked, no problem found\n", path)
	return nil
}

// cmdStoreBackup writes a consistent copy of the store, from the store
// itself or, while the daemon holds it, through the daemon's API; then it
// checks the copy.
func cmdStoreBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("store backup", "store backup FILE [--config PATH]", stderr)
	var target string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if target == "" {
		return usageErr("usage: raqib store backup FILE [--config PATH]")
	}
	a, d, err := openRead(ctx, *cfgPath, stderr)
	if err != nil {
		return err
	}
	if a.cfg.Storage.Path == target {
		a.close()
		return usageErr("store backup: %s is the store itself; name another file", target)
	}
	if a.bolt == nil && d == nil {
		a.close()
		return usageErr("store backup: the store is a PostgreSQL database (storage.driver postgres): back it up with pg_dump")
	}
	var n int64
	if d != nil {
		n, err = boltstore.WriteFileAtomically(target, func(w io.Writer) (int64, error) { return d.backup(ctx, w) })
	} else {
		n, err = a.bolt.BackupFile(ctx, target)
		a.close()
	}
	if err != nil {
		return fmt.Errorf("back up to %s: %w", target, err)
	}
	st, err := boltstore.Open(target)
	if err != nil {
		return fmt.Errorf("the backup %s does not open: %w", target, err)
	}
	defer st.Close()
	problems, err := st.Check(ctx, func(p string) { fmt.Fprintln(stderr, "backup: "+p) })
	if err == nil && problems > 0 {
		err = fmt.Errorf("%d problems", problems)
	}
	if err != nil {
		return fmt.Errorf("the backup %s does not check out: %w", target, err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes), checked\n", a.cfg.Storage.Path, target, n)
	return nil
}

// backup streams the daemon's store copy into w.
func (d *daemon) backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", d.base+"api/backup", nil)
	if err != nil {
		return 0, err
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	hc := *d.hc
	hc.Timeout = 0 // a large store takes its time; ctx bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask the daemon at %s: %w", d.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("ask the daemon: GET /api/backup: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("the daemon sent %d bytes of %d", n, resp.ContentLength)
	}
	return n, err
}

// cmdStoreCopy copies the BoltDB store (storage.path) into an empty
// PostgreSQL database, for a desk moving to several daemons.
func cmdStoreCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("store copy", "store copy --to postgres [--dsn DSN] [--config PATH]", stderr)
	to := fs.String("to", "", "the engine to copy into: postgres")
	dsn := fs.String("dsn", "", "the database to copy into (default: storage.dsn; prefer that, from an environment variable: a --dsn with a password is visible to others in ps)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to != config.DriverPostgres {
		return usageErr("store copy: --to postgres names the engine to copy into (the only one besides bolt)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	target := cmp.Or(*dsn, cfg.Storage.DSN)
	if target == "" {
		return usageErr("store copy: name the database to copy into: --dsn postgres://... or storage.dsn")
	}
	src, err := boltstore.Open(cfg.Storage.Path)
	if errors.Is(err, storage.ErrInUse) {
		return fmt.Errorf("%w: stop the daemon before copying its store", err)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, target)
	if err != nil {
		return err
	}
	defer dst.Close()
	start := time.Now()
	n, err := copyStore(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", cfg.Storage.Path, postgres.Redact(target), err)
	}
	fmt.Fprintf(stdout, "copied %s to %s: %d feeds, %d seeds, %d stories, %d items, %d keys, %d alerts, in %s\n",
		cfg.Storage.Path, postgres.Redact(target), n.feeds, n.seeds, n.stories, n.items, n.keys, n.alerts, time.Since(start).Round(time.Millisecond))
	return nil
}

type copied struct{ feeds, seeds, stories, items, keys, alerts int }

// emptyTarget refuses a database that holds any record: a copy merged
// into another store's records would be neither store.
func emptyTarget(ctx context.Context, dst storage.Store) error {
	held := func(what string) error {
		return fmt.Errorf("the target holds %s already: copy into an empty database (drop and recreate it)", what)
	}
	if items, err := dst.ItemCount(ctx); err != nil || items > 0 {
		return cmp.Or(err, held(fmt.Sprint(items, " items")))
	}
	if feeds, err := dst.Feeds(ctx); err != nil || len(feeds) > 0 {
		return cmp.Or(err, held(fmt.Sprint(len(feeds), " feeds")))
	}
	if seeds, err := dst.Seeds(ctx); err != nil || len(seeds) > 0 {
		return cmp.Or(err, held(fmt.Sprint(len(seeds), " seeds")))
	}
	if stories, err := dst.Clusters(ctx, time.Time{}, 1); err != nil || len(stories) > 0 {
		return cmp.Or(err, held("stories"))
	}
	if alerts, _, err := dst.ListAlerts(ctx, storage.AlertListOptions{Limit: 1}); err != nil || len(alerts) > 0 {
		return cmp.Or(err, held("alerts"))
	}
	return nil
}

// copyStore moves every record of src into dst, which must be empty, a
// few hundred records a transaction.
func copyStore(ctx context.Context, src storage.Dumper, dst interface {
	storage.Store
	storage.Loader
}) (copied, error) {
	var n copied
	if err := emptyTarget(ctx, dst); err != nil {
		return n, err
	}
	const batch = 500
	recs := make([]storage.Record, 0, batch)
	err := src.Dump(ctx, func(r storage.Record) error {
		switch {
		case r.Feed != nil:
			n.feeds++
		case r.Seed != nil:
			n.seeds++
		case r.Story != nil:
			n.stories++
		case r.Item != nil:
			n.items++
		case r.Key != nil:
			n.keys++
		case r.Alert != nil:
			n.alerts++
		}
		if recs = append(recs, r); len(recs) == batch {
			err := dst.Load(ctx, recs)
			recs = recs[:0]
			return err
		}
		return nil
	})
	if err == nil && len(recs) > 0 {
		err = dst.Load(ctx, recs)
	}
	if err == nil {
		err = dst.Loaded(ctx)
	}
	return n, err
}
