package server

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/storage/boltstore"
)

// TestMetricsCardinality: at 20,000 feeds the per-feed labels made about
// 100,000 series. The fleet's series stay whatever the feed count; the
// per-feed ones come only with server.metrics_per_feed.
func TestMetricsCardinality(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	series := func(perFeed bool) (int, string) {
		m := NewMetrics(st, perFeed)
		for i := range 20000 {
			r := feeds.Result{Feed: fmt.Sprint("feed-", i), New: 1, Took: time.Millisecond}
			switch i % 4 {
			case 1:
				r.NotModified = true
			case 2:
				r.Err = errors.New("HTTP 500")
			}
			m.ObservePoll(r)
		}
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		n := 0
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, "raqib_") {
				n++
			}
		}
		return n, rec.Body.String()
	}
	n, body := series(false)
	if n > 100 || !strings.Contains(body, `raqib_polls_total{result="error"} 5000`) || !strings.Contains(body, "raqib_feeds_failing 5000") || !strings.Contains(body, "raqib_fetch_errors_total 5000") {
		t.Errorf("fleet metrics: %d raqib_ series\n%s", n, body)
	}
	n, body = series(true)
	if n < 20000 || !strings.Contains(body, `raqib_feed_polls_total{feed="feed-2",result="error"} 1`) || !strings.Contains(body, `raqib_feed_fetch_errors_total{feed="feed-2"} 1`) {
		t.Errorf("with metrics_per_feed: %d series", n)
	}
}
