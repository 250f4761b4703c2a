package storagetest

import (
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// fullFeed is a feed state with every field set.
func fullFeed(name string, n int) *storage.FeedState {
	return &storage.FeedState{
		Name:          name,
		URL:           "https://example.com/" + name + "/moved.xml",
		ConfiguredURL: "https://example.com/" + name + ".xml",
		ETag:          `"etag-` + name + `"`,
		LastModified:  "Mon, 02 Nov 2026 08:00:00 GMT",
		BodyHash:      "body-" + name,
		LastPoll:      at(1 + float64(n)),
		LastSuccess:   at(0.5),
		LastStatus:    200 + n,
		LastError:     "حدث خطأ " + name,
		LastErrorAt:   at(0.25).Add(123 * time.Microsecond),
		Failures:      3 + n,
		RetryAfter:    at(2.75),
		Disabled:      "410 Gone",
		Items:         40 + n,
		Polls:         700 + n,
		FetchMS:       1234 + int64(n),
	}
}

func testFeedRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if fs, err := s.Feeds(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("a new store's feeds: %d, %v", len(fs), err)
	}
	a := fullFeed("agency", 1)
	if err := s.PutFeed(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Feed(ctx, "agency")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "Feed(agency)", got, a)

	// PutFeed replaces a feed's state, zero fields too.
	a = &storage.FeedState{Name: "agency", URL: "https://example.com/agency.xml", Polls: 1}
	if err := s.PutFeed(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err = s.Feed(ctx, "agency")
	if err != nil {
		t.Fatal(err)
	}
	checkFields(t, "Feed(agency) replaced", got, a)

	// PutFeeds saves several, new and known.
	a2, b, c := fullFeed("agency", 4), fullFeed("daily", 2), fullFeed("portal", 3)
	if err := s.PutFeeds(ctx, []*storage.FeedState{a2, b, c}); err != nil {
		t.Fatal(err)
	}
	want := map[string]*storage.FeedState{"agency": a2, "daily": b, "portal": c}
	all, err := s.Feeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range all {
		seen[f.Name]++
		if w := want[f.Name]; w == nil {
			t.Errorf("Feeds lists %q, which was never put", f.Name)
		} else {
			checkFields(t, "Feeds: "+f.Name, f, w)
		}
	}
	for name := range want {
		if seen[name] != 1 {
			t.Errorf("Feeds lists %s %d times", name, seen[name])
		}
		got, err := s.Feed(ctx, name)
		if err != nil {
			t.Errorf("Feed(%s): %v", name, err)
			continue
		}
		checkFields(t, "Feed("+name+")", got, want[name])
	}
	if err := s.PutFeeds(ctx, nil); err != nil {
		t.Errorf("PutFeeds of none: %v", err)
	}
}

func testFeedNotFound(t *testing.T, s storage.Store) {
	_, err := s.Feed(t.Context(), "nosuch")
	wantNotFound(t, "Feed(nosuch) in a new store", err)
	if err := s.PutFeed(t.Context(), fullFeed("agency", 0)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Feed(t.Context(), "nosuch")
	wantNotFound(t, "Feed(nosuch)", err)
	_, err = s.Feed(t.Context(), "agenc")
	wantNotFound(t, "Feed(agenc), a prefix of a feed's name", err)
}
