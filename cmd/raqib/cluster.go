package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// staleAfter is how long after its last heartbeat a daemon is taken for
// gone: three missed beats.
const staleAfter = 30 * time.Second

func cmdCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return usageErr("usage: raqib cluster status [--json] [--config PATH]")
	}
	fs, cfgPath := flags("cluster status", "cluster status [--json] [--config PATH]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if !cfg.Storage.Postgres() {
		return usageErr("cluster status: the store is a BoltDB file, which one daemon holds; several daemons share a PostgreSQL store (storage.driver postgres)")
	}
	a, err := openApp(ctx, *cfgPath, newLogger(stderr, "warn"), false)
	if err != nil {
		return err
	}
	defer a.close()
	daemons, err := a.fleet().Daemons(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		type row struct {
			Daemon any  `json:"daemon"`
			Up     bool `json:"up"`
		}
		out := []row{}
		for _, d := range daemons {
			out = append(out, row{d, now.Sub(d.Heartbeat) < staleAfter})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(daemons) == 0 {
		fmt.Fprintf(stdout, "no daemon has joined %s yet\n", a.storeName())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAEMON\tSTATE\tHEARTBEAT\tFEEDS POLLING\tALERTS SENDING\tSTARTED\tVERSION")
	for _, d := range daemons {
		state := "up"
		if now.Sub(d.Heartbeat) >= staleAfter {
			state = "gone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%d\t%d\t%s\t%s\n", d.ID, state, now.Sub(d.Heartbeat).Round(time.Second), d.FeedLeases, d.AlertLeases, d.Started.Local().Format(time.DateTime), d.Version)
	}
	return tw.Flush()
}
