package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return cmdStoreCheck(ctx, args[1:], stdout, stderr)
		case "backup":
			return cmdStoreBackup(ctx, args[1:], stdout, stderr)
		}
	}
	return usageErr("usage: raqib store check [--file PATH] | raqib store backup FILE [--config PATH]")
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
	var n int64
	if d != nil {
		n, err = boltstore.WriteFileAtomically(target, func(w io.Writer) (int64, error) { return d.backup(ctx, w) })
	} else {
		n, err = a.store.BackupFile(ctx, target)
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
