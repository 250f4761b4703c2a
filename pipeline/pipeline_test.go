package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/corpus"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

var story = []string{
	"أعلنت وزارة الصحة في طرابلس مساء الثلاثاء ارتفاع عدد ضحايا الفيضانات التي ضربت مدينة درنة شرقي ليبيا إلى 42 قتيلا وعشرات المفقودين، فيما تواصل فرق الإنقاذ البحث عن ناجين.",
	"وقال المتحدث باسم الوزارة إن الأمطار الغزيرة التي هطلت على المنطقة خلال يومين تسببت في انهيار سدين رئيسيين وجرفت عددا من المباني السكنية القريبة من مجرى الوادي.",
	"وأضاف أن المستشفيات الميدانية استقبلت أكثر من ثلاثمئة مصاب، أغلبهم من النساء والأطفال، وأن الوزارة أرسلت قوافل طبية وأدوية إلى المدن المتضررة في الجبل الأخضر.",
}

var other = "افتتح معرض الرياض الدولي للكتاب أبوابه أمام الزوار بمشاركة أكثر من ألف وثمانمئة دار نشر من ثلاثين دولة، وتحل سلطنة عمان ضيف شرف على دورة هذا العام التي تستمر عشرة أيام."

func open(t *testing.T, path string) (*Pipeline, *boltstore.Bolt) {
	t.Helper()
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), st, 30*24*time.Hour, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

func item(feed, id, title, body string) *storage.Item {
	return &storage.Item{ID: id, Feed: feed, Title: title, Summary: "<p>" + strings.ReplaceAll(body, "\n", "</p><p>") + "</p>",
		Fetched: time.Now(), Keys: []string{"url:http://" + feed + "/" + id}}
}

func TestClustersAcrossRestartsAndSeeds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "raqib.db")
	p, st := open(t, path)
	seed, err := corpus.ParseFile("flood.txt", []byte("date 2025-09-12 "+strings.Join(story, "\n\n")))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.ImportSeeds(ctx, []*corpus.Doc{seed}); n != 1 || err != nil {
		t.Fatalf("seeds %d %v", n, err)
	}
	// One fetch: an original, and a copy of it in the same batch.
	res, err := p.Ingest(ctx, &storage.FeedState{Name: "a"}, []*storage.Item{
		item("a", "a1", "معرض الكتاب", other),
		item("a", "a2", "نسخة من خبر المعرض", other),
		item("a", "a3", "فيضانات درنة", story[0]),
	})
	if err != nil || len(res.Stored) != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	if res.Stored[1].DuplicateOf != "a1" || res.Stored[1].Similarity != 1 {
		t.Errorf("copy in the same batch: %+v", res.Stored[1])
	}
	if res.Stored[2].DuplicateOf != "seed:flood.txt" || res.Stored[2].Cluster != "seed:flood.txt" {
		t.Errorf("seed copy: dup of %q cluster %q", res.Stored[2].DuplicateOf, res.Stored[2].Cluster)
	}
	st.Close()

	// After a restart the index is rebuilt from the store.
	p, st = open(t, path)
	defer st.Close()
	if n, _ := p.ImportSeeds(ctx, []*corpus.Doc{seed}); n != 0 {
		t.Errorf("re-import added %d", n)
	}
	res, err = p.Ingest(ctx, &storage.FeedState{Name: "b"}, []*storage.Item{
		item("b", "b1", "الرياض تستضيف معرض الكتاب", other[:len(other)/2]+" المزيد من التفاصيل لاحقا"),
		item("b", "b2", "الفيضانات في ليبيا", strings.Join(story[1:], "\n")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Stored[0]; got.DuplicateOf != "a1" || got.Cluster != "a1" {
		t.Errorf("after restart: dup of %q cluster %q", got.DuplicateOf, got.Cluster)
	}
	if got := res.Stored[1]; got.DuplicateOf != "seed:flood.txt" {
		t.Errorf("seed tail copy: dup of %q", got.DuplicateOf)
	}
	c, err := st.Cluster(ctx, "a1")
	if err != nil || c.Size != 3 || len(c.Feeds) != 2 {
		t.Errorf("cluster a1: %+v %v", c, err)
	}
	c, _ = st.Cluster(ctx, "seed:flood.txt")
	if c.Size != 3 {
		t.Errorf("seed cluster size %d, want 3 (the seed and two copies)", c.Size)
	}
	// The same items again are not stored twice.
	res, _ = p.Ingest(ctx, &storage.FeedState{Name: "b"}, []*storage.Item{item("b", "b1", "x", other)})
	if len(res.Stored) != 0 {
		t.Errorf("re-ingest stored %d", len(res.Stored))
	}
}

func TestLanguageDetected(t *testing.T) {
	p, st := open(t, filepath.Join(t.TempDir(), "raqib.db"))
	defer st.Close()
	res, err := p.Ingest(context.Background(), &storage.FeedState{Name: "a"}, []*storage.Item{item("a", "1", "عنوان", other), item("a", "2", "Title", "An English report about the Kremlin and Libya.")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored[0].Language != "ar" || res.Stored[1].Language != "" {
		t.Errorf("languages %q %q", res.Stored[0].Language, res.Stored[1].Language)
	}
}

// Feeds fetched at once bring the same story: the items are prepared and
// matched concurrently, yet make one cluster and one alert per rule.
func TestConcurrentIngestsMakeOneStoryAndOneAlert(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := alerts.NewEngine([]config.Rule{{Name: "libya", Query: "ليبيا", Channels: []string{"log"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, st, 30*24*time.Hour, eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	const feeds = 8
	var wg sync.WaitGroup
	errs := make(chan error, feeds)
	for f := 0; f < feeds; f++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("f", f)
			_, err := p.Ingest(ctx, &storage.FeedState{Name: name}, []*storage.Item{
				item(name, name+"-story", "فيضانات درنة", strings.Join(story, "\n")),
				item(name, name+"-own", "خبر خاص "+name, fmt.Sprintf("%s %d", other, f)),
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	items, err := st.Items(ctx, storage.ListOptions{WithDuplicates: true})
	if err != nil || len(items) != 2*feeds {
		t.Fatalf("%d items, %v", len(items), err)
	}
	clusters := map[string]int{}
	for _, it := range items {
		if strings.HasSuffix(it.ID, "-story") {
			clusters[it.Cluster]++
			if len(it.Rules) != 1 || it.Rules[0] != "libya" {
				t.Errorf("%s matched %v", it.ID, it.Rules)
			}
		}
	}
	if len(clusters) != 1 {
		t.Errorf("the story made %d clusters: %v", len(clusters), clusters)
	}
	as, err := st.Alerts(ctx, "")
	if err != nil || len(as) != 1 {
		t.Errorf("%d alerts for one story, want 1 (%v)", len(as), err)
	}
}

// faulty is the real store with one lookup made to fail, as a disk error
// would in the middle of an ingest.
type faulty struct {
	storage.Store
	lookups, failAt int
}

func (f *faulty) LookupKeys(ctx context.Context, keys []string) (string, error) {
	if f.lookups++; f.lookups == f.failAt {
		return "", fmt.Errorf("injected read error")
	}
	return f.Store.LookupKeys(ctx, keys)
}

// An ingest that fails half-way leaves nothing of its items in the dedup
// index: the same items, ingested again, are new, not copies of themselves.
func TestFailedIngestLeavesNoIndexEntries(t *testing.T) {
	ctx := context.Background()
	p, st := open(t, filepath.Join(t.TempDir(), "raqib.db"))
	defer st.Close()
	items := func() []*storage.Item {
		return []*storage.Item{item("a", "a1", "الفيضانات", strings.Join(story, "\n")), item("a", "a2", "معرض الكتاب", other)}
	}
	// Two lookups of identity keys while preparing, then the first item's
	// text key, then the second's: the fourth fails, after the first item
	// was indexed.
	f := &faulty{Store: st, failAt: 4}
	p.Store = f
	if _, err := p.Ingest(ctx, &storage.FeedState{Name: "a"}, items()); err == nil {
		t.Fatal("the injected error did not fail the ingest")
	}
	if n := p.Detector.Index.Len(); n != 0 {
		t.Fatalf("%d documents left in the index by a failed ingest", n)
	}
	p.Store = st
	res, err := p.Ingest(ctx, &storage.FeedState{Name: "a"}, items())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Stored {
		if it.DuplicateOf != "" {
			t.Errorf("%s is a copy of %s after the failed ingest", it.ID, it.DuplicateOf)
		}
	}
}
