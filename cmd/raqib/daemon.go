package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/export"
	"github.com/raqib/raqib/server"
	"github.com/raqib/raqib/storage"
)

// The daemon holds the store for as long as it runs, and BoltDB lets no
// other process open it, even to read. So that a desk can still list its
// feeds and export while it runs, the daemon writes where its HTTP API
// listens beside the store, and the read commands ask it there.

// addrFile is where a running daemon notes its API's address.
func addrFile(cfg *config.Config) string { return cfg.Storage.Path + ".http" }

// noteAddr writes the API's address for the read commands; the returned
// function takes it away.
func noteAddr(cfg *config.Config, l net.Listener) (func(), error) {
	host, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1" // listening everywhere: loopback is one of them
	}
	path := addrFile(cfg)
	if err := os.WriteFile(path, []byte("http://"+net.JoinHostPort(host, port)+"/\n"), 0o600); err != nil {
		return nil, fmt.Errorf("note the API's address in %s: %w", path, err)
	}
	return func() { os.Remove(path) }, nil
}

// daemon is a running daemon's API, as the read commands use it.
type daemon struct {
	base  string
	token string
	hc    *http.Client
}

// openRead opens the store for a read command, or, when the daemon holds
// it, returns the daemon to ask instead (and says so on stderr).
func openRead(ctx context.Context, cfgPath string, stderr io.Writer) (*app, *daemon, error) {
	a, err := openApp(ctx, cfgPath, newLogger(stderr, "warn"), false)
	if err == nil || !errors.Is(err, storage.ErrInUse) {
		return a, nil, err
	}
	cfg, cerr := loadConfig(cfgPath)
	if cerr != nil {
		return nil, nil, err
	}
	b, rerr := os.ReadFile(addrFile(cfg))
	if rerr != nil {
		return nil, nil, fmt.Errorf("%w; the daemon that holds it serves no API to ask instead (server.listen)", err)
	}
	// The daemon is on this machine: gzip would only cost both ends CPU
	// (a page of 1,000 items took 120 ms to serve gzipped, 70 ms plain).
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}
	d := &daemon{base: strings.TrimSpace(string(b)), token: cfg.Server.Token, hc: hc}
	fmt.Fprintf(stderr, "raqib: the daemon holds %s; asking it at %s\n", cfg.Storage.Path, d.base)
	return &app{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, d, nil
}

// get reads an API path's JSON into out.
func (d *daemon) get(ctx context.Context, path string, q url.Values, out any) error {
	u := d.base + strings.TrimPrefix(path, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("ask the daemon at %s: %w", d.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("ask the daemon: GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	// goccy/go-json reads an Arabic article's JSON about five times as
	// fast as encoding/json, and the same (storage.FuzzDecodeJSON).
	if err := fastjson.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("ask the daemon: GET %s: %w", path, err)
	}
	return nil
}

// feedStates are the feeds' states, by name.
func (d *daemon) feedStates(ctx context.Context) (map[string]*storage.FeedState, error) {
	var r struct {
		Feeds []server.APIFeed `json:"feeds"`
	}
	if err := d.get(ctx, "/api/feeds", nil, &r); err != nil {
		return nil, err
	}
	out := map[string]*storage.FeedState{}
	for _, f := range r.Feeds {
		out[f.Name] = f.State
	}
	return out, nil
}

// apiLimit is a listing's length as the API takes it: 0 (all) and more
// than it lists become its most.
func apiLimit(n int) string {
	if n <= 0 || n > server.MaxLimit {
		n = server.MaxLimit
	}
	return fmt.Sprint(n)
}

// apiPage is how many items or alerts the read commands list at a time,
// from the store or through the API (its most).
var apiPage = server.MaxLimit

// items is a page of what export.Load lists, from /api/items: at most
// opt.Limit items (0: the API's most) after opt.Before.
// items lists a page of /api/items, and where the next page starts.
func (d *daemon) items(ctx context.Context, opt storage.ListOptions) ([]server.APIItem, string, error) {
	q := url.Values{"limit": {apiLimit(opt.Limit)}}
	if opt.Rule != "" {
		q.Set("rule", opt.Rule)
	}
	if opt.WithDuplicates {
		q.Set("all", "1")
	}
	if opt.Before != "" {
		q.Set("before", opt.Before)
	}
	var r struct {
		Items []server.APIItem `json:"items"`
		Next  string           `json:"next"`
	}
	if err := d.get(ctx, "/api/items", q, &r); err != nil {
		return nil, "", err
	}
	return r.Items, r.Next, nil
}

// stories lists what export.Stories lists, from /api/stories.
func (d *daemon) stories(ctx context.Context, since string, limit int) ([]export.Story, error) {
	var r struct {
		Stories []server.APIStory `json:"stories"`
	}
	q := url.Values{"since": {since}, "limit": {apiLimit(limit)}, "items": {"1"}}
	if err := d.get(ctx, "/api/stories", q, &r); err != nil {
		return nil, err
	}
	out := make([]export.Story, 0, len(r.Stories))
	for _, st := range r.Stories {
		s := export.Story{Cluster: st.Cluster}
		for _, it := range st.Items {
			s.Items = append(s.Items, it.Item())
		}
		for _, it := range st.DevelopedBy {
			s.Developments = append(s.Developments, it.Item())
		}
		out = append(out, s)
	}
	return out, nil
}

// alerts lists what Store.ListAlerts lists, with their items' titles,
// from /api/alerts, a page at a time.
func (d *daemon) alerts(ctx context.Context, opt storage.AlertListOptions) ([]*storage.Alert, map[string]string, error) {
	q := url.Values{}
	if opt.State != "" {
		q.Set("state", opt.State)
	}
	var as []*storage.Alert
	titles := map[string]string{}
	for {
		n := apiPage
		if opt.Limit > 0 {
			n = min(n, opt.Limit-len(as))
		}
		q.Set("limit", fmt.Sprint(n))
		var r struct {
			Alerts []server.APIAlert `json:"alerts"`
			Next   string            `json:"next"`
		}
		if err := d.get(ctx, "/api/alerts", q, &r); err != nil {
			return nil, nil, err
		}
		for _, a := range r.Alerts {
			as = append(as, a.Alert)
			titles[a.ItemID] = a.ItemTitle
		}
		if r.Next == "" || len(as) == opt.Limit {
			return as, titles, nil
		}
		q.Set("before", r.Next)
	}
}
