package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

// farm serves feeds whose items appear over time, some of them copies of
// others (wire stories other outlets republish), some matching the rule.
type farm struct {
	start  time.Time
	frozen atomic.Int64 // when set, no more items appear after this many
	feeds  int
}

var stories = []string{
	"أعلنت وزارة الصحة في طرابلس ارتفاع عدد ضحايا الفيضانات في مدينة درنة شرقي ليبيا إلى قتلى ومفقودين، فيما تواصل فرق الإنقاذ البحث عن ناجين تحت الأنقاض في الأحياء القريبة من الوادي",
	"افتتح معرض الرياض الدولي للكتاب أبوابه أمام الزوار بمشاركة أكثر من ألف وثمانمئة دار نشر من ثلاثين دولة وتحل سلطنة عمان ضيف شرف على دورة هذا العام التي تستمر عشرة أيام",
	"ارتفعت أسعار النفط في الأسواق العالمية اليوم بعد بيانات أظهرت تراجع المخزونات الأمريكية للأسبوع الثالث على التوالي وسط توقعات بزيادة الطلب خلال فصل الشتاء المقبل في أوروبا وآسيا",
}

// itemsAt lists feed f's items: one new item every 150 ms per feed; item n
// of feed f tells story (n*7+f*3)%k in its own words, with copies: every
// story's text is shared by the feeds that carry it.
func (fm *farm) count() int {
	n := int(time.Since(fm.start)/(150*time.Millisecond)) + 1
	if fz := int(fm.frozen.Load()); fz > 0 && n > fz {
		n = fz
	}
	return n
}

func (fm *farm) body(f int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>f</title><link>http://farm/</link><description>d</description>`)
	for n := fm.count() - 1; n >= 0; n-- {
		story := n % 40 // 40 distinct stories, each carried by every feed
		text := storyText(story)
		fmt.Fprintf(&b, "<item><title>خبر %d</title><link>http://outlet%d.example/%d</link><guid>outlet%d-%d</guid><description>%s</description></item>", story, f, n, f, n, text)
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

// storyText is story k's text: 40 words drawn from the vocabulary of the
// sample stories, so different stories share little; every third one
// mentions درنة and matches the rule.
func storyText(k int) string {
	words := strings.Fields(strings.Join(stories, " "))
	r := rand.New(rand.NewPCG(uint64(k), 99))
	var out []string
	for i := 0; i < 40; i++ {
		w := words[r.IntN(len(words))]
		if w == "درنة" || w == "النفط" {
			w = "الخبر"
		}
		out = append(out, w)
	}
	if k%3 == 0 {
		out = append(out, "درنة")
	}
	return strings.Join(out, " ")
}

// TestKillNineLosesNothing kills the daemon with SIGKILL at random moments,
// checks the database after every kill, and at the end that every item is
// stored once and every alert delivered, each story's under one id.
func TestKillNineLosesNothing(t *testing.T) {
	fm := &farm{start: time.Now(), feeds: 4}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f int
		fmt.Sscanf(r.URL.Path, "/f%d.xml", &f)
		w.Write([]byte(fm.body(f)))
	}))
	defer site.Close()

	var mu sync.Mutex
	var reliable atomic.Bool
	ids := map[string]int{}                  // webhook-id -> deliveries
	storyIDs := map[string]map[string]bool{} // rule+cluster -> webhook-ids
	rng := rand.New(rand.NewPCG(7, 7))       // the receiver's, under mu
	killRng := rand.New(rand.NewPCG(8, 8))   // the kill loop's
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !reliable.Load() && rng.IntN(5) == 0 {
			w.WriteHeader(http.StatusServiceUnavailable) // a flaky receiver
			return
		}
		var p struct {
			Rule string `json:"rule"`
			Item struct {
				Cluster string `json:"cluster"`
			} `json:"item"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &p)
		id := r.Header.Get("webhook-id")
		ids[id]++
		key := p.Rule + "/" + p.Item.Cluster
		if storyIDs[key] == nil {
			storyIDs[key] = map[string]bool{}
		}
		storyIDs[key][id] = true
	}))
	defer hook.Close()

	var feedsYAML strings.Builder
	for f := 0; f < fm.feeds; f++ {
		fmt.Fprintf(&feedsYAML, "  - {name: outlet%d, url: \"%s/f%d.xml\"}\n", f, site.URL, f)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`storage: {path: raqib.db}
seeds: {dir: seeds}
poll: {schedule: "@every 1s", timeout: 5s, jitter: 0s}
feeds:
%s
alerts:
  channels: [{name: hook, type: webhook, url: "%s", secret: s}]
  rules: [{name: floods, query: "درنة OR النفط", channels: [hook]}]
server: {listen: "127.0.0.1:0"}
`, feedsYAML.String(), hook.URL))
	dbPath := filepath.Join(dir, "raqib.db")

	checkDB := func(round int) {
		db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		defer db.Close()
		db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("round %d: bbolt check: %v", round, err)
			}
			return nil
		})
	}
	start := func() (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(binary, "run", "--config", cfgPath)
		logs := &syncBuffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, logs
	}
	kills := 0
	for round := 0; round < 22; round++ {
		cmd, _ := start()
		time.Sleep(time.Duration(100+killRng.IntN(700)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		if round%2 == 0 || round > 18 {
			checkDB(round)
		}
	}
	// Stop the farm growing, run once more to the end, and stop cleanly.
	fm.frozen.Store(int64(fm.count()))
	reliable.Store(true)
	total := fm.count() * fm.feeds
	cmd, logs := start()
	addr := regexp.MustCompile(`http=(http://127.0.0.1:\d+/)`)
	var base string
	waitUntil(t, func() bool {
		if m := addr.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	var state string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var items struct {
			Items []any `json:"items"`
		}
		var alerts struct {
			Alerts []map[string]any `json:"alerts"`
		}
		if getJSON(base+"api/items?all=1&limit=1000", &items) == nil && getJSON(base+"api/alerts?state=pending", &alerts) == nil {
			if len(items.Items) == total && len(alerts.Alerts) == 0 {
				break
			}
			state = fmt.Sprintf("%d of %d items, pending alerts %v", len(items.Items), total, alerts.Alerts)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last run did not finish: %s\n%s", state, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	checkDB(99)

	st, err := boltstore.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	items, _ := st.Items(ctx, storage.ListOptions{WithDuplicates: true})
	seen := map[string]int{}
	for _, it := range items {
		seen[it.URL]++
	}
	for u, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times", u, n)
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct items stored, the farm served %d", len(seen), total)
	}
	all, _ := st.Alerts(ctx, "")
	mu.Lock()
	defer mu.Unlock()
	for _, a := range all {
		if a.State != storage.AlertDelivered {
			t.Errorf("alert %s is %s: %s", a.ID, a.State, a.LastError)
		}
		if ids[a.ID] == 0 {
			t.Errorf("alert %s marked delivered but never received", a.ID)
		}
	}
	for key, set := range storyIDs {
		if len(set) != 1 {
			t.Errorf("story %s alerted under %d ids", key, len(set))
		}
	}
	redelivered := 0
	for _, n := range ids {
		redelivered += n - 1
	}
	if len(all) == 0 {
		t.Fatal("no alerts: the test proves nothing about them")
	}
	t.Logf("%d kills; %d items; %d alerts, %d redeliveries under the same id", kills, len(items), len(all), redelivered)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
