package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

func testAlertRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if as, err := s.Alerts(ctx, ""); err != nil || len(as) != 0 {
		t.Errorf("a new store's alerts: %d, %v", len(as), err)
	}
	full := &storage.Alert{ID: "al-1", Rule: "quake", Channel: "email", ItemID: "i1", Cluster: "i1", State: storage.AlertPending,
		Attempts: 1, NextTry: at(0.5), LastError: "421 busy", Created: at(0).Add(3 * time.Microsecond), Delivered: at(9), Digest: at(12), Batch: "digest-7"}
	bare := &storage.Alert{ID: "al-2", Rule: "region", Channel: "log", ItemID: "i2", Cluster: "i1", State: storage.AlertPending, Created: at(1)}
	wantFull, wantBare := *full, *bare
	i2 := plainItem("i2", 1, "url:i2")
	i2.Cluster, i2.DuplicateOf = "i1", "i1"
	commit(t, s, &storage.Batch{Items: []*storage.Item{plainItem("i1", 0, "url:i1"), i2}, Alerts: []*storage.Alert{full, bare}})
	check := func(what string, want ...*storage.Alert) {
		t.Helper()
		for _, w := range want {
			got, err := s.Alert(ctx, w.ID)
			if err != nil {
				t.Errorf("%s: Alert(%s): %v", what, w.ID, err)
				continue
			}
			checkFields(t, what+": Alert("+w.ID+")", got, w)
		}
		all, err := s.Alerts(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			for _, w := range want {
				if a.ID == w.ID {
					checkFields(t, what+": Alerts: "+a.ID, a, w)
				}
			}
		}
	}
	check("committed", &wantFull, &wantBare)

	// UpdateAlert saves every field of an alert but its id and creation.
	next := storage.Alert{ID: "al-1", Rule: "quake2", Channel: "webhook", ItemID: "i2", Cluster: "i9", State: storage.AlertDelivered,
		Attempts: 4, NextTry: at(2), LastError: "", Created: wantFull.Created, Delivered: at(2.5), Digest: at(13), Batch: "digest-8"}
	upd := next
	if err := s.UpdateAlert(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	check("updated", &next, &wantBare)
	// Zero fields too.
	cleared := storage.Alert{ID: "al-1", Rule: "quake", Channel: "email", ItemID: "i1", Cluster: "i1", State: storage.AlertFailed, Created: wantFull.Created}
	upd = cleared
	if err := s.UpdateAlert(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	check("cleared", &cleared, &wantBare)

	// UpdateAlerts saves several.
	a1 := wantFull
	a1.State, a1.Attempts, a1.LastError = storage.AlertPending, 0, ""
	a2 := wantBare
	a2.State, a2.Attempts, a2.LastError, a2.Delivered, a2.Batch = storage.AlertDelivered, 2, "retried", at(3), "digest-9"
	u1, u2 := a1, a2
	if err := s.UpdateAlerts(ctx, []*storage.Alert{&u1, &u2}); err != nil {
		t.Fatal(err)
	}
	check("updated together", &a1, &a2)
	if err := s.UpdateAlerts(ctx, nil); err != nil {
		t.Errorf("UpdateAlerts of none: %v", err)
	}
	check("after an update of none", &a1, &a2)

	_, err := s.Alert(ctx, "nosuch")
	wantNotFound(t, "Alert(nosuch)", err)
	if all, err := s.Alerts(ctx, ""); err != nil || !slices.Equal(sorted(alertIDs(all)), []string{"al-1", "al-2"}) {
		t.Errorf("Alerts after the updates: %v, %v; want each alert once", alertIDs(all), err)
	}
	if all, _, err := s.ListAlerts(ctx, storage.AlertListOptions{}); err != nil || !slices.Equal(alertIDs(all), []string{"al-2", "al-1"}) {
		t.Errorf("ListAlerts after the updates: %v, %v; want al-2, al-1", alertIDs(all), err)
	}
}

func testAlertStates(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var batch []*storage.Item
	var alerts []*storage.Alert
	for i, st := range []string{storage.AlertPending, storage.AlertPending, storage.AlertDelivered, storage.AlertFailed} {
		id := fmt.Sprint("i", i)
		batch = append(batch, plainItem(id, float64(i), "url:"+id))
		alerts = append(alerts, &storage.Alert{ID: []string{"p1", "p2", "d1", "f1"}[i], Rule: "r", Channel: "log", ItemID: id, Cluster: id, State: st, Created: at(float64(i))})
	}
	commit(t, s, &storage.Batch{Items: batch, Alerts: alerts})
	byID := map[string]*storage.Alert{}
	for _, a := range alerts {
		byID[a.ID] = a
	}
	check := func(what string, want map[string][]string) {
		t.Helper()
		all := 0
		for _, state := range []string{storage.AlertPending, storage.AlertDelivered, storage.AlertFailed} {
			all += len(want[state])
			as, err := s.Alerts(ctx, state)
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(alertIDs(as)); !sameStrings(got, sorted(want[state])) {
				t.Errorf("%s: Alerts(%s) = %v, want %v", what, state, got, sorted(want[state]))
			}
			for _, a := range as {
				if a.State != state {
					t.Errorf("%s: Alerts(%s) gave %s in state %s", what, state, a.ID, a.State)
				}
			}
			listed, _, err := s.ListAlerts(ctx, storage.AlertListOptions{State: state})
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(alertIDs(listed)); !sameStrings(got, sorted(want[state])) {
				t.Errorf("%s: ListAlerts(%s) = %v, want %v", what, state, got, sorted(want[state]))
			}
		}
		if as, err := s.Alerts(ctx, ""); err != nil || len(as) != all {
			t.Errorf("%s: Alerts() gave %d, %v; want %d", what, len(as), err, all)
		}
	}
	set := func(id, state string) *storage.Alert {
		a := *byID[id]
		a.State = state
		a.Attempts++
		if state == storage.AlertDelivered {
			a.Delivered = at(10)
		}
		byID[id] = &a
		return &a
	}
	check("committed", map[string][]string{storage.AlertPending: {"p1", "p2"}, storage.AlertDelivered: {"d1"}, storage.AlertFailed: {"f1"}})
	if err := s.UpdateAlert(ctx, set("p1", storage.AlertDelivered)); err != nil {
		t.Fatal(err)
	}
	check("p1 delivered", map[string][]string{storage.AlertPending: {"p2"}, storage.AlertDelivered: {"d1", "p1"}, storage.AlertFailed: {"f1"}})
	if err := s.UpdateAlert(ctx, set("f1", storage.AlertPending)); err != nil { // retried
		t.Fatal(err)
	}
	check("f1 retried", map[string][]string{storage.AlertPending: {"p2", "f1"}, storage.AlertDelivered: {"d1", "p1"}})
	if err := s.UpdateAlerts(ctx, []*storage.Alert{set("p2", storage.AlertFailed), set("f1", storage.AlertDelivered)}); err != nil {
		t.Fatal(err)
	}
	check("p2 failed, f1 delivered", map[string][]string{storage.AlertDelivered: {"d1", "p1", "f1"}, storage.AlertFailed: {"p2"}})
	for id, w := range byID {
		got, err := s.Alert(ctx, id)
		if err != nil {
			t.Errorf("Alert(%s): %v", id, err)
			continue
		}
		checkFields(t, "Alert("+id+")", got, w)
	}
}

// alertFixture commits 23 alerts created a minute apart, five at a time
// at one moment, in three states, one of them changed after its commit;
// it returns them as stored.
func alertFixture(t *testing.T, s storage.Store) map[string]*storage.Alert {
	t.Helper()
	ctx := t.Context()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	states := []string{storage.AlertPending, storage.AlertDelivered, storage.AlertDelivered, storage.AlertFailed}
	out := map[string]*storage.Alert{}
	for i := range 23 {
		id := fmt.Sprintf("i%02d", i)
		created := base.Add(time.Duration(i-i%5) * time.Minute)
		a := &storage.Alert{ID: fmt.Sprintf("a%02d", (i*7)%23), Rule: "r", Channel: "log", ItemID: id, Cluster: id, State: states[i%4], Created: created}
		w := *a
		out[a.ID] = &w
		commit(t, s, &storage.Batch{Items: []*storage.Item{{ID: id, Feed: "f", Title: id, Keys: []string{"url:" + id}, Cluster: id, Fetched: created}}, Alerts: []*storage.Alert{a}})
	}
	a, err := s.Alert(ctx, "a07")
	if err != nil {
		t.Fatal(err)
	}
	if a.State == storage.AlertFailed {
		t.Fatal("the fixture's a07 should not be failed")
	}
	a.State, a.Attempts = storage.AlertFailed, 3
	w := *a
	out[a.ID] = &w
	if err := s.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	return out
}

func testListAlerts(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if as, next, err := s.ListAlerts(ctx, storage.AlertListOptions{}); err != nil || len(as) != 0 || next != "" {
		t.Errorf("a new store's alerts: %d, next %q, %v", len(as), next, err)
	}
	fixture := alertFixture(t, s)
	for _, state := range []string{"", storage.AlertPending, storage.AlertDelivered, storage.AlertFailed} {
		var want []string
		for id, a := range fixture {
			if state == "" || a.State == state {
				want = append(want, id)
			}
		}
		if len(want) < 4 {
			t.Fatalf("the fixture holds %d alerts %q: too few to page", len(want), state)
		}
		whole, next, err := s.ListAlerts(ctx, storage.AlertListOptions{State: state})
		if err != nil {
			t.Fatal(err)
		}
		if next != "" {
			t.Errorf("alerts %q in one read: next %q, want none", state, next)
		}
		if got := sorted(alertIDs(whole)); !slices.Equal(got, sorted(want)) {
			t.Errorf("alerts %q: %v, want each of %v once", state, alertIDs(whole), sorted(want))
		}
		for i, a := range whole {
			if w := fixture[a.ID]; w != nil {
				checkFields(t, fmt.Sprintf("alerts %q [%d]", state, i), a, w)
			}
			if i > 0 && a.Created.After(whole[i-1].Created) {
				t.Errorf("alerts %q not newest first: %s (%v) after %s (%v)", state, a.ID, a.Created, whole[i-1].ID, whole[i-1].Created)
			}
		}
		// By pages, from each page's next, the same listing.
		for _, size := range []int{1, 3, 5} {
			var got []string
			opt := storage.AlertListOptions{State: state, Limit: size}
			for pages := 0; ; pages++ {
				as, next, err := s.ListAlerts(ctx, opt)
				if err != nil {
					t.Fatal(err)
				}
				if len(as) > size {
					t.Errorf("alerts %q: a page of %d, asked for %d", state, len(as), size)
				}
				got = append(got, alertIDs(as)...)
				if next == "" {
					break
				}
				if pages > len(want) {
					t.Errorf("alerts %q by pages of %d: still listing after %d pages", state, size, pages)
					break
				}
				opt.Before = next
			}
			if !sameStrings(got, alertIDs(whole)) {
				t.Errorf("alerts %q by pages of %d:\n got %v\nwant %v", state, size, got, alertIDs(whole))
			}
		}
		first, _, err := s.ListAlerts(ctx, storage.AlertListOptions{State: state, Limit: 2})
		if err != nil || !sameStrings(alertIDs(first), alertIDs(whole)[:2]) {
			t.Errorf("alerts %q, the first 2: %v, %v; want %v", state, alertIDs(first), err, alertIDs(whole)[:2])
		}
	}
	for _, bad := range []string{"zz", "not a cursor", "!!"} {
		for _, state := range []string{"", storage.AlertPending} {
			if _, _, err := s.ListAlerts(ctx, storage.AlertListOptions{State: state, Before: bad, Limit: 3}); !errors.Is(err, storage.ErrBadCursor) {
				t.Errorf("ListAlerts(state %q, before %q): error %v, want one that is storage.ErrBadCursor", state, bad, err)
			}
		}
	}
}
