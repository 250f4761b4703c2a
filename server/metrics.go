package server

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/storage"
)

// Metrics are raqib's Prometheus metrics, all named raqib_*.
type Metrics struct {
	Registry     *prometheus.Registry
	polls        *prometheus.CounterVec
	fetchErrors  *prometheus.CounterVec
	items        prometheus.Counter
	duplicates   prometheus.Counter
	alertsSent   *prometheus.CounterVec
	alertsFailed *prometheus.CounterVec
	pollDuration prometheus.Histogram

	// Per feed, only when asked for: at tens of thousands of feeds they
	// are most of a scrape's series.
	feedPolls  *prometheus.CounterVec
	feedErrors *prometheus.CounterVec

	mu      sync.Mutex
	failing map[string]bool // feeds whose last poll failed
}

// NewMetrics registers the metrics; pending alerts and stored items are read
// from the store when scraped. perFeed adds series labelled by feed
// (server.metrics_per_feed); the fleet's series are always there.
func NewMetrics(st storage.Store, perFeed bool) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), failing: map[string]bool{}}
	m.polls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_polls_total", Help: "Feed polls by result (new, not_modified, unchanged, error, skipped)."}, []string{"result"})
	m.fetchErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_fetch_errors_total", Help: "Failed feed polls."}, nil)
	failing := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_feeds_failing", Help: "Feeds whose last poll failed."}, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(len(m.failing))
	})
	m.Registry.MustRegister(failing)
	if perFeed {
		m.feedPolls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_feed_polls_total", Help: "Feed polls by feed and result (server.metrics_per_feed)."}, []string{"feed", "result"})
		m.feedErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_feed_fetch_errors_total", Help: "Failed feed polls by feed (server.metrics_per_feed)."}, []string{"feed"})
		m.Registry.MustRegister(m.feedPolls, m.feedErrors)
	}
	m.items = prometheus.NewCounter(prometheus.CounterOpts{Name: "raqib_items_stored_total", Help: "Items stored since start."})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "raqib_duplicates_total", Help: "Stored items recognised as copies of a story already seen."})
	m.alertsSent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_alerts_sent_total", Help: "Alerts delivered, by channel."}, []string{"channel"})
	m.alertsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_alerts_failed_total", Help: "Failed alert delivery attempts, by channel."}, []string{"channel"})
	m.pollDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "raqib_poll_duration_seconds", Help: "Time to poll one feed: fetch, parse and store.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_alerts_pending", Help: "Alerts waiting in the outbox."}, func() float64 {
		as, err := st.Alerts(context.Background(), storage.AlertPending)
		if err != nil {
			return -1
		}
		return float64(len(as))
	})
	stored := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_items", Help: "Items in the store."}, func() float64 {
		n, err := st.ItemCount(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.Registry.MustRegister(m.polls, m.fetchErrors, m.items, m.duplicates, m.alertsSent, m.alertsFailed, m.pollDuration, pending, stored,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if f, ok := st.(leaseHolder); ok {
		// A fleet's daemon: what it is doing now, each daemon its own.
		held := func(alerts bool) func() float64 {
			return func() float64 {
				fl, al, err := f.Held(context.Background())
				switch {
				case err != nil:
					return -1
				case alerts:
					return float64(al)
				}
				return float64(fl)
			}
		}
		m.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_feed_leases", Help: "Feeds this daemon of the fleet is polling now."}, held(false)),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_alert_leases", Help: "Alerts this daemon of the fleet is delivering now."}, held(true)))
	}
	return m
}

// leaseHolder is a store several daemons share (storage/postgres).
type leaseHolder interface {
	Held(ctx context.Context) (feeds, alerts int, err error)
}

// ObservePoll records one feed poll (feeds.Poller.OnResult).
func (m *Metrics) ObservePoll(r feeds.Result) {
	result := "new"
	if r.Interrupted {
		return // a stop, not a poll
	}
	if r.Skipped == "" {
		m.mu.Lock()
		if r.Err != nil {
			m.failing[r.Feed] = true
		} else {
			delete(m.failing, r.Feed)
		}
		m.mu.Unlock()
	}
	switch {
	case r.Err != nil:
		result = "error"
		m.fetchErrors.WithLabelValues().Inc()
		if m.feedErrors != nil {
			m.feedErrors.WithLabelValues(r.Feed).Inc()
		}
	case r.Skipped != "":
		result = "skipped"
	case r.NotModified:
		result = "not_modified"
	case r.Unchanged:
		result = "unchanged"
	}
	m.polls.WithLabelValues(result).Inc()
	if m.feedPolls != nil {
		m.feedPolls.WithLabelValues(r.Feed, result).Inc()
	}
	if r.Skipped == "" {
		m.pollDuration.Observe(r.Took.Seconds())
	}
	m.items.Add(float64(r.New))
	m.duplicates.Add(float64(r.Duplicates))
}

// ObserveDelivery records one alert delivery attempt (alerts.Dispatcher.OnDelivery).
func (m *Metrics) ObserveDelivery(a *storage.Alert, err error) {
	if err == nil {
		m.alertsSent.WithLabelValues(a.Channel).Inc()
	} else {
		m.alertsFailed.WithLabelValues(a.Channel).Inc()
	}
}
