package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/export"
	"github.com/raqib/raqib/server"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

// The read commands page through the daemon's API: what they list is what
// export.Load and the alert listing list from the store, however many
// pages it takes.
func TestDaemonItemsByPages(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var items []*storage.Item
	var alerts []*storage.Alert
	for i := 0; i < 11; i++ {
		id := fmt.Sprintf("item%02d", i)
		it := &storage.Item{ID: id, Feed: fmt.Sprint("f", i%2), Title: id, Keys: []string{"url:" + id}, Cluster: id, Fetched: base, Published: base.Add(time.Duration(i%7) * time.Hour)}
		if i%3 == 2 { // a copy of the item before: in the story, out of the stream
			it.Cluster, it.DuplicateOf = items[i-1].Cluster, items[i-1].ID
		}
		if i%2 == 0 {
			it.Rules = []string{"libya"}
			state := storage.AlertDelivered
			if i%4 == 0 {
				state = storage.AlertPending
			}
			alerts = append(alerts, &storage.Alert{ID: "a" + id, Rule: "libya", Channel: "log", ItemID: id, Cluster: it.Cluster, State: state, Created: it.Published})
		}
		items = append(items, it)
	}
	if _, err := st.Commit(ctx, &storage.Batch{Items: items, Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&server.Server{Config: &config.Config{Alerts: config.Alerts{Rules: []config.Rule{{Name: "libya", Query: "ليبيا"}}}}, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: func() bool { return true }}).Handler())
	defer srv.Close()
	d := &daemon{base: srv.URL + "/", hc: srv.Client()}
	defer func(n int) { apiPage = n }(apiPage)
	apiPage = 2
	ids := func(next func() ([]export.Entry, error)) []string {
		var out []string
		for {
			page, err := next()
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return out
			}
			for _, e := range page {
				out = append(out, e.Item.ID)
			}
		}
	}
	for _, opt := range []storage.ListOptions{{}, {WithDuplicates: true}, {Rule: "libya"}, {Rule: "libya", WithDuplicates: true}, {WithDuplicates: true, Limit: 5}, {Limit: 1}, {Limit: 4}} {
		want, err := export.Load(ctx, st, opt)
		if err != nil {
			t.Fatal(err)
		}
		var wantIDs []string
		for _, e := range want {
			wantIDs = append(wantIDs, e.Item.ID)
		}
		fromStore := ids(exportPages(ctx, &app{store: st}, nil, opt))
		throughAPI := ids(exportPages(ctx, nil, d, opt))
		if len(wantIDs) < 1 || !reflect.DeepEqual(fromStore, wantIDs) || !reflect.DeepEqual(throughAPI, wantIDs) {
			t.Errorf("%+v by pages of %d: from the store %v, through the API %v; in one read %v", opt, apiPage, fromStore, throughAPI, wantIDs)
		}
	}
	for _, opt := range []storage.AlertListOptions{{}, {State: storage.AlertPending}, {State: storage.AlertDelivered, Limit: 1}, {Limit: 5}} {
		want, _, err := st.ListAlerts(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		got, titles, err := d.alerts(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("alerts %+v through the API by pages of %d: %d, from the store %d", opt, apiPage, len(got), len(want))
		}
		for _, a := range got {
			if titles[a.ItemID] != a.ItemID {
				t.Errorf("alert %s: item title %q", a.ID, titles[a.ItemID])
			}
		}
	}
}
