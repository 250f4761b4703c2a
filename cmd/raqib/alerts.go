package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/raqib/raqib/storage"
)

func cmdAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		return usageErr("usage: raqib alerts list [--pending|--failed] | raqib alerts retry ID...")
	}
	if args[0] == "retry" {
		return cmdAlertsRetry(ctx, args[1:], stdout, stderr)
	}
	fs, cfgPath := flags("alerts list", "alerts list [--pending|--failed] [--limit N] [--config PATH]", stderr)
	pending := fs.Bool("pending", false, "only alerts waiting to be delivered")
	failed := fs.Bool("failed", false, "only alerts that failed for good")
	limit := fs.Int("limit", 100, "at most this many alerts, newest first; 0 for all")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *limit < 0 {
		return usageErr("alerts list: --limit must be 0 or more")
	}
	state := ""
	switch {
	case *pending && *failed:
		return usageErr("alerts list: --pending or --failed, not both")
	case *pending:
		state = storage.AlertPending
	case *failed:
		state = storage.AlertFailed
	}
	a, dm, err := openRead(ctx, *cfgPath, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	var as []*storage.Alert
	titles := map[string]string{} // item id -> title
	opt := storage.AlertListOptions{State: state, Limit: *limit}
	if dm != nil {
		if as, titles, err = dm.alerts(ctx, opt); err != nil {
			return err
		}
	} else {
		if as, _, err = a.store.ListAlerts(ctx, opt); err != nil {
			return err
		}
		for _, al := range as {
			if it, err := a.store.Item(ctx, al.ItemID); err == nil {
				titles[al.ItemID] = it.Title
			}
		}
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRULE\tCHANNEL\tATTEMPTS\tCREATED\tNEXT TRY\tTITLE\tLAST ERROR")
	for _, al := range as {
		title := titles[al.ItemID]
		next := "-"
		if al.State == storage.AlertPending {
			next = when(al.NextTry)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", al.ID, al.State, al.Rule, al.Channel, al.Attempts, when(al.Created), next, oneLine(title, 50), oneLine(al.LastError, 60))
	}
	return tw.Flush()
}

// cmdAlertsRetry puts alerts back in the outbox and attempts them now.
func cmdAlertsRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("alerts retry", "alerts retry [--config PATH] ID...", stderr)
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	if fs.NArg() == 0 {
		return usageErr("alerts retry: name the alerts to retry (see raqib alerts list)")
	}
	log := newLogger(stderr, "warn")
	a, err := openApp(ctx, *cfgPath, log, false)
	if err != nil {
		return err
	}
	defer a.close()
	d, err := a.sharedDispatcher(ctx, "alerts retry", log)
	if err != nil {
		return err
	}
	for _, id := range fs.Args() {
		al, err := a.store.Alert(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return &exitError{1, fmt.Errorf("alerts retry: no alert %q", id)}
		} else if err != nil {
			return err
		}
		// A retried digest alert leaves its old message: one is made
		// anew of the alerts retried with it.
		al.State, al.Attempts, al.NextTry, al.Batch = storage.AlertPending, 0, al.Created, ""
		if err := a.store.UpdateAlert(ctx, al); err != nil {
			return err
		}
	}
	if _, _, err := d.Flush(ctx, 1, 0); err != nil {
		return err
	}
	for _, id := range fs.Args() {
		al, _ := a.store.Alert(ctx, id)
		fmt.Fprintf(stdout, "%s: %s %s\n", id, al.State, al.LastError)
	}
	return nil
}
