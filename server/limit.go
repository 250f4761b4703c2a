package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An expensive answer (a feed, an /api listing) is built whole in memory,
// since a feed's head and its ETag say things of all its entries, and it
// was then held until its reader had taken it. Readers that ask and never
// read each held one for as long as the write timeout let them, with no
// bound on how many: memory grew with the number of such readers, and the
// builds they set off all at once starved the rest of the server. So:
//
//   - a few answers are built at once, a few more requests wait for that
//     (each waiting request holds nothing built), and the rest are told to
//     come back (503 with Retry-After) at once rather than queued;
//   - built answers waiting for their readers hold at most a byte budget
//     between them; past it, a request is told to come back;
//   - a reader that takes nothing of its answer for a while is cut, so
//     that its share of the budget goes to readers that read.
//
// Health checks and metrics go through none of this: they must answer
// while feeds are busy.

const (
	// DefaultBuildingPerCPU is how many expensive answers are built at once
	// per CPU when Server.MaxBuilding is 0. A build renders on every core:
	// more builds at once served no more answers a second, held more
	// memory, and kept the health check waiting behind them for a core.
	DefaultBuildingPerCPU = 1
	// DefaultQueuedPerBuilding is how many requests may wait for a build
	// slot, per slot, when Server.MaxQueued is 0.
	DefaultQueuedPerBuilding = 4
	// DefaultQueueWait is how long a request waits for a build slot before
	// it is told to come back: long enough for the builds before it, short
	// enough that a reader is not left hanging.
	DefaultQueueWait = 2 * time.Second
	// DefaultAnswerBudget bounds the bytes of built answers held at once
	// while their readers take them.
	DefaultAnswerBudget = 64 << 20
	// DefaultWriteStall: a reader that takes nothing for this long is cut.
	DefaultWriteStall = 10 * time.Second
	// DefaultWriteTimeout bounds the writing of one answer, however
	// steadily its reader reads.
	DefaultWriteTimeout = 60 * time.Second
)

// writeChunk is how much of an answer is written under one deadline: a
// reader that reads gets a fresh deadline for each chunk.
const writeChunk = 64 << 10

var (
	errQueueFull = errors.New("too many requests are waiting")
	errQueueWait = errors.New("no build slot came free in time")
	errBudget    = errors.New("the memory for answers is in use")
)

// limiter is the state behind Server's limits.
type limiter struct {
	slots     chan struct{} // one for each answer being built
	waiting   atomic.Int64
	maxQueued int64
	wait      time.Duration

	mu     sync.Mutex
	held   int64 // bytes of built answers held for their readers
	budget int64
	// last is the size of the last answer held for a path (and encoding):
	// a request is refused before it is built when the budget has no room
	// for one like it, rather than built and thrown away.
	last map[string]int64

	rejected  *prometheus.CounterVec
	writesCut prometheus.Counter
}

func (s *Server) limits() *limiter {
	s.limOnce.Do(func() {
		n := s.MaxBuilding
		if n <= 0 {
			n = DefaultBuildingPerCPU * runtime.GOMAXPROCS(0)
		}
		q := int64(s.MaxQueued)
		switch {
		case q == 0:
			q = int64(DefaultQueuedPerBuilding * n)
		case q < 0:
			q = 0
		}
		s.lim = &limiter{slots: make(chan struct{}, n), maxQueued: q, wait: orDefault(s.QueueWait, DefaultQueueWait),
			budget: s.AnswerBudget, last: map[string]int64{}}
		if s.lim.budget <= 0 {
			s.lim.budget = DefaultAnswerBudget
		}
		s.lim.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raqib_http_busy_total", Help: "Feed and API requests answered 503 busy, by reason (queue: no build slot in time; memory: the budget for answers was in use)."}, []string{"reason"})
		s.lim.writesCut = prometheus.NewCounter(prometheus.CounterOpts{Name: "raqib_http_writes_cut_total", Help: "Answers not written whole: their readers stalled past the write deadline or went away."})
		if s.Metrics != nil {
			s.lim.register(s.Metrics.Registry)
		}
	})
	return s.lim
}

// register reports the limiter in reg. A second server on the same
// registry is not reported: its metrics would have the same names.
func (l *limiter) register(reg *prometheus.Registry) {
	reg.Register(l.rejected)
	reg.Register(l.writesCut)
	reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_http_building", Help: "Feed and API answers being built."},
		func() float64 { return float64(len(l.slots)) }))
	reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_http_waiting", Help: "Feed and API requests waiting for a build slot."},
		func() float64 { return float64(l.waiting.Load()) }))
	reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "raqib_http_answer_bytes_held", Help: "Bytes of built answers held while their readers take them."},
		l.heldBytes))
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ticket is an expensive request's hold on the limiter: a build slot
// until its answer is built, then its answer's bytes until written.
type ticket struct {
	l    *limiter
	key  string
	slot bool
	held int64
}

type ticketKey struct{}

// enter takes a build slot for a request, waiting in the queue if there
// is room in it.
func (l *limiter) enter(ctx context.Context, key string) (*ticket, error) {
	if !l.room(key) {
		return nil, errBudget
	}
	t := &ticket{l: l, key: key, slot: true}
	select {
	case l.slots <- struct{}{}:
		return t, nil
	default:
	}
	if l.waiting.Add(1) > l.maxQueued {
		l.waiting.Add(-1)
		return nil, errQueueFull
	}
	defer l.waiting.Add(-1)
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return t, nil
	case <-timer.C:
		return nil, errQueueWait
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// room reports whether the budget has room for an answer like the last
// one of key.
func (l *limiter) room(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	free := l.budget - l.held
	return l.held == 0 || free >= l.last[key] // as hold lets an answer larger than the budget through
}

// built gives the build slot back: the answer is built.
func (t *ticket) built() {
	if t.slot {
		t.slot = false
		<-t.l.slots
	}
}

// hold takes n bytes of the budget for the built answer, or reports that
// they are not free.
func (t *ticket) hold(n int64) bool {
	l := t.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last[t.key] = n
	// One answer larger than the whole budget is still served when nothing
	// else is held, or it could never be.
	if l.held > 0 && l.held+n > l.budget {
		return false
	}
	l.held += n
	t.held += n
	return true
}

// done gives back all the ticket holds.
func (t *ticket) done() {
	t.built()
	if t.held > 0 {
		t.l.mu.Lock()
		t.l.held -= t.held
		t.l.mu.Unlock()
		t.held = 0
	}
}

func (l *limiter) heldBytes() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(l.held)
}

// limited puts an expensive handler behind the limiter.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path
		if acceptsGzip(r) {
			key += " gzip"
		}
		t, err := s.limits().enter(r.Context(), key)
		if err != nil {
			if r.Context().Err() == nil {
				s.busy(w, r, err)
			}
			return
		}
		defer t.done()
		h(w, r.WithContext(context.WithValue(r.Context(), ticketKey{}, t)))
	}
}

// busy tells a reader to come back: after the queue's wait when builds
// are all taken, after the write stall when the budget is (by then the
// answers held for readers that stalled have been let go).
func (s *Server) busy(w http.ResponseWriter, r *http.Request, why error) {
	after, reason := orDefault(s.QueueWait, DefaultQueueWait), "queue"
	if errors.Is(why, errBudget) {
		after, reason = orDefault(s.WriteStall, DefaultWriteStall), "memory"
	}
	s.limits().rejected.WithLabelValues(reason).Inc()
	s.Log.Debug("http request refused: busy", "path", r.URL.Path, "reason", why)
	h := w.Header()
	for k := range h {
		delete(h, k) // what an answer had set for itself (ETag, Content-Length)
	}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
	h.Set("Cache-Control", "no-store")
	http.Error(w, "busy: "+why.Error()+"; try again later", http.StatusServiceUnavailable)
}

func acceptsGzip(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
}

// A gzip writer's state is most of a megabyte: compressing an answer
// whole, with writers kept for the next answer, holds one for each build
// slot at most, where compressing while writing held one for every reader.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func gzipped(body []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(body) / 4)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&out)
	zw.Write(body)
	zw.Close()
	zw.Reset(nil)
	gzipWriters.Put(zw)
	return out.Bytes()
}

// write writes an answer a chunk at a time, each under a deadline: a
// reader that stops reading is cut after the write stall, and any reader
// after the write timeout.
func (s *Server) write(w http.ResponseWriter, b []byte) {
	rc := http.NewResponseController(w)
	stall := orDefault(s.WriteStall, DefaultWriteStall)
	end := time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout))
	deadline := func() error {
		d := time.Now().Add(stall)
		if d.After(end) {
			d = end
		}
		if err := rc.SetWriteDeadline(d); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	var err error
	for len(b) > 0 && err == nil {
		if err = deadline(); err == nil {
			n := min(len(b), writeChunk)
			_, err = w.Write(b[:n])
			b = b[n:]
		}
	}
	if err == nil {
		// What the connection's buffer still holds goes out under the
		// deadline too, not after the handler, under none.
		if err = deadline(); err == nil {
			if err = rc.Flush(); err == nil || errors.Is(err, http.ErrNotSupported) {
				rc.SetWriteDeadline(time.Time{}) // for the connection's next request
				return
			}
		}
	}
	s.limits().writesCut.Inc()
	s.Log.Debug("http answer not written whole: its reader stalled or went away", "error", err)
}
