package pipeline

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// The pipeline decides which thread a development joins; the store
// records it.
func TestDevelopmentsJoinTheThreadsFirstStory(t *testing.T) {
	ctx := context.Background()
	p, st := open(t, filepath.Join(t.TempDir(), "raqib.db"))
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	mk := func(id, cluster, follows string, h int) *storage.Item {
		at := t0.Add(time.Duration(h) * time.Hour)
		return &storage.Item{ID: id, Feed: "f", Title: id, Cluster: cluster, Follows: follows, Keys: []string{"url:" + id}, Fetched: at}
	}
	if _, err := st.Commit(ctx, &storage.Batch{Items: []*storage.Item{mk("report", "report", "", 0), mk("copy", "report", "", 1)}}); err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, tc := range []struct {
		it   *storage.Item
		want *storage.Development
	}{
		{mk("update", "update", "copy", 24), &storage.Development{Story: "update", Thread: "report"}},         // follows a copy: the copy's story
		{mk("reaction", "reaction", "update", 30), &storage.Development{Story: "reaction", Thread: "report"}}, // a development's development: the first story
		{mk("joined", "report", "update", 31), nil},                                                           // an item that joined a story starts no thread
		{mk("lost", "lost", "nosuch", 32), nil},                                                               // follows nothing stored
		{mk("self", "self", "self", 33), nil},                                                                 // its own story
	} {
		got, err := p.development(ctx, tc.it, map[string]string{"self": "self"}, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.it.ID, got, tc.want)
		}
		b := &storage.Batch{Items: []*storage.Item{tc.it}}
		if got != nil {
			b.Developments = []storage.Development{*got}
			stored[got.Story] = got.Thread
		}
		if _, err := st.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Within one batch the store has not seen the batch's developments yet.
	batch, threads := map[string]string{"a": "a", "b": "b"}, map[string]string{"a": "report"}
	got, err := p.development(ctx, mk("b", "b", "a", 40), batch, threads)
	if err != nil || !reflect.DeepEqual(got, &storage.Development{Story: "b", Thread: "report"}) {
		t.Errorf("a development of the batch's development: %+v %v", got, err)
	}
	got, err = p.development(ctx, mk("c", "c", "b", 41), map[string]string{"b": "b", "c": "c"}, map[string]string{})
	if err != nil || !reflect.DeepEqual(got, &storage.Development{Story: "c", Thread: "b"}) {
		t.Errorf("a development of the batch's new story: %+v %v", got, err)
	}
	report, _ := st.Cluster(ctx, "report")
	if !reflect.DeepEqual(report.Developments, []string{"update", "reaction"}) {
		t.Errorf("the report's thread: %v", report.Developments)
	}
}

// Two feeds list one article (the same id and keys): the second listing is
// skipped, and the article stays in the dedup index, so that a later copy
// still joins its story.
func TestASkippedRelistingKeepsTheIndexEntry(t *testing.T) {
	ctx := context.Background()
	p, st := open(t, filepath.Join(t.TempDir(), "raqib.db"))
	defer st.Close()
	body := strings.Join(story, "\n")
	first := item("a", "same", "فيضانات درنة", body)
	again := item("b", "same", "فيضانات درنة", body)
	again.Keys = first.Keys
	// Both fetched before either commits, as two feeds polled at once (or
	// two daemons) are.
	commitFirst, err := p.Stage(ctx, []*storage.Item{first})
	if err != nil {
		t.Fatal(err)
	}
	commitAgain, err := p.Stage(ctx, []*storage.Item{again})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commitFirst(ctx, &storage.FeedState{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	res, err := commitAgain(ctx, &storage.FeedState{Name: "b"})
	if err != nil || len(res.Skipped) != 1 {
		t.Fatalf("the relisting: %+v %v", res, err)
	}
	copyOf := item("c", "copy", "درنة: ارتفاع عدد الضحايا", body+"\nوأكد مسؤول محلي الأرقام.")
	res, err = p.Ingest(ctx, &storage.FeedState{Name: "c"}, []*storage.Item{copyOf})
	if err != nil || len(res.Stored) != 1 {
		t.Fatalf("the copy: %+v %v", res, err)
	}
	if got := res.Stored[0]; got.Cluster != "same" {
		t.Errorf("the copy made story %q (%s), want the article's", got.Cluster, got.Reason)
	}
}
