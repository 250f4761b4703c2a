package storagetest

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
)

// t0 is the fixtures' clock, where a test does not need the real one
// (pruning does: its tombstones are laid at the time of the prune).
var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// at is t0 plus h hours.
func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

// now is the real time, to the microsecond.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func commit(t *testing.T, s storage.Store, b *storage.Batch) *storage.CommitResult {
	t.Helper()
	res, err := s.Commit(t.Context(), b)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if res == nil {
		t.Fatal("commit gave no result")
	}
	return res
}

func itemIDs(items []*storage.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func alertIDs(as []*storage.Alert) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func clusterIDs(cs []*storage.Cluster) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// sorted is a sorted copy of ids, for comparing sets.
func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// sameStrings compares string lists, nil and empty alike.
func sameStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// fieldDiffs compares two structs (pointers to them) field by field,
// every exported field but those named in skip: times with Equal, slices
// with nil and empty alike, the rest with reflect.DeepEqual. Reflection
// keeps a field added to a type from going unchecked.
func fieldDiffs(got, want any, skip ...string) []string {
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	var out []string
	for i := range gv.NumField() {
		f := gv.Type().Field(i)
		if !f.IsExported() || slices.Contains(skip, f.Name) {
			continue
		}
		g, w := gv.Field(i), wv.Field(i)
		if !sameValue(g, w) {
			out = append(out, fmt.Sprintf("%s = %v, want %v", f.Name, show(g), show(w)))
		}
	}
	return out
}

func sameValue(g, w reflect.Value) bool {
	if gt, ok := g.Interface().(time.Time); ok {
		return gt.Equal(w.Interface().(time.Time))
	}
	if g.Kind() == reflect.Slice && g.Len() == 0 && w.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(g.Interface(), w.Interface())
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprintf("%v", v.Interface())
}

// checkFields reports every field of got that is not want's.
func checkFields(t *testing.T, what string, got, want any, skip ...string) {
	t.Helper()
	if reflect.ValueOf(got).IsNil() {
		t.Errorf("%s: nil", what)
		return
	}
	for _, d := range fieldDiffs(got, want, skip...) {
		t.Errorf("%s: %s", what, d)
	}
}

// The fields no lookup of an item or a seed gives back: they are read
// with Fingerprint and Fingerprints, and a seed's story with Cluster.
var (
	itemSkip = []string{"Fingerprint", "Samples"}
	seedSkip = []string{"Fingerprint", "Samples", "Story"}
)

func checkItem(t *testing.T, what string, got, want *storage.Item) {
	t.Helper()
	checkFields(t, what, got, want, itemSkip...)
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: error %v, want one that is storage.ErrNotFound", what, err)
	}
}

func mustParse(t *testing.T, q string) rules.Node {
	t.Helper()
	n, err := rules.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newestFirst is the listings' order: by Date, then by Seq, newest first.
func newestFirst(items []*storage.Item) []*storage.Item {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b *storage.Item) int {
		if c := b.Date().Compare(a.Date()); c != 0 {
			return c
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	return out
}

// listFunc is Items or RuleStories.
type listFunc func(s storage.Store) func(t *testing.T, opt storage.ListOptions) ([]*storage.Item, error)

func items(s storage.Store) func(*testing.T, storage.ListOptions) ([]*storage.Item, error) {
	return func(t *testing.T, opt storage.ListOptions) ([]*storage.Item, error) { return s.Items(t.Context(), opt) }
}

func ruleStories(s storage.Store) func(*testing.T, storage.ListOptions) ([]*storage.Item, error) {
	return func(t *testing.T, opt storage.ListOptions) ([]*storage.Item, error) {
		return s.RuleStories(t.Context(), opt)
	}
}

// byPages reads a listing a page of size at a time, each page after the
// cursor of the last item of the page before, and returns what it
// listed. maxPages stops a listing that never ends.
func byPages(t *testing.T, s storage.Store, list listFunc, opt storage.ListOptions, size, maxPages int) []string {
	t.Helper()
	page := opt
	page.Limit = size
	var got []string
	for n := 0; ; n++ {
		items, err := list(s)(t, page)
		if err != nil {
			t.Fatalf("%+v: %v", page, err)
		}
		if len(items) > size {
			t.Errorf("%+v gave a page of %d items", page, len(items))
		}
		got = append(got, itemIDs(items)...)
		if len(items) < size {
			return got
		}
		if n > maxPages {
			t.Errorf("%+v: still listing after %d pages", opt, n)
			return got
		}
		page.Before = s.Cursor(items[len(items)-1])
	}
}
