package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/server"
	"github.com/raqib/raqib/storage"
)

func cmdItems(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "not-duplicate" {
		return usageErr("usage: raqib items not-duplicate [--config PATH] ITEM...")
	}
	fs, cfgPath := flags("items not-duplicate", "items not-duplicate [--config PATH] ITEM...", stderr)
	ids, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageErr("items not-duplicate: name the items (their ids, as _raqib and the API give them)")
	}
	log := newLogger(stderr, "warn")
	a, err := openApp(ctx, *cfgPath, log, false)
	if errors.Is(err, storage.ErrInUse) {
		return notDuplicateByDaemon(ctx, *cfgPath, ids, stdout, stderr)
	}
	if err != nil {
		return err
	}
	defer a.close()
	engine, err := newEngine(a.cfg)
	if err != nil {
		return err
	}
	p := &pipeline.Pipeline{Store: a.store, Log: log}
	if engine != nil {
		p.Matcher = engine
	}
	missing := 0
	for _, id := range ids {
		it, err := p.NotDuplicate(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			fmt.Fprintf(stderr, "raqib: items not-duplicate: no item %q\n", id)
			missing++
		case errors.Is(err, pipeline.ErrNotDuplicate):
			fmt.Fprintf(stdout, "%s: already a story of its own\n", id)
		case err != nil:
			return err
		default:
			fmt.Fprintf(stdout, "%s: a story of its own now (%s)\n", id, oneLine(it.Title, 60))
		}
	}
	// The alerts it raises go out now, as a retry's do.
	d, err := a.sharedDispatcher(ctx, "items not-duplicate", log)
	if err != nil {
		return err
	}
	if _, _, err := d.Flush(ctx, 1, 0); err != nil {
		return err
	}
	if missing > 0 {
		return &exitError{1, nil}
	}
	return nil
}

// parseWithArgs parses flags given before, between or after a command's
// arguments, and returns the arguments.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{2, errors.New("")}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// notDuplicateByDaemon asks the running daemon, which holds the store.
func notDuplicateByDaemon(ctx context.Context, cfgPath string, ids []string, stdout, stderr io.Writer) error {
	_, d, err := openRead(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	missing := 0
	for _, id := range ids {
		var r server.APINotDuplicate
		status, err := d.post(ctx, "/api/items/"+url.PathEscape(id)+"/not-duplicate", &r)
		switch {
		case err != nil:
			return err
		case status == http.StatusNotFound:
			fmt.Fprintf(stderr, "raqib: items not-duplicate: no item %q\n", id)
			missing++
		case !r.Changed:
			fmt.Fprintf(stdout, "%s: already a story of its own\n", id)
		default:
			fmt.Fprintf(stdout, "%s: a story of its own now (%s)\n", id, oneLine(r.Item.Title, 60))
		}
	}
	if missing > 0 {
		return &exitError{1, nil}
	}
	return nil
}

// post sends an API action and reads its JSON answer into out; a 404 is
// an answer, not an error.
func (d *daemon) post(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", d.base+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		return 0, err
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask the daemon at %s: %w", d.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if !strings.HasPrefix(string(msg), "no item") {
			return resp.StatusCode, fmt.Errorf("ask the daemon: POST %s: the daemon at %s does not know this action (an older raqib?)", path, d.base)
		}
		return resp.StatusCode, nil
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, fmt.Errorf("ask the daemon: POST %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("ask the daemon: POST %s: %w", path, err)
	}
	return resp.StatusCode, nil
}
