package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

// longStore is a real store with enough long items that a feed of them
// weighs about a megabyte and a half.
func longStore(t *testing.T, n int) storage.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "raqib.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sentence := "عقد مجلس الأمن الدولي جلسة طارئة لمناقشة تطورات الوضع الأمني في ليبيا بعد اشتباكات عنيفة في العاصمة طرابلس. "
	now := time.Now().UTC().Truncate(time.Second)
	b := &storage.Batch{}
	for i := range n {
		id := fmt.Sprintf("long%05d", i)
		when := now.Add(-time.Duration(i) * time.Minute)
		b.Items = append(b.Items, &storage.Item{ID: id, Feed: "a", Title: "خبر " + id, URL: "https://a.example/" + id, Cluster: id,
			Summary: fmt.Sprint(i, " ", strings.Repeat(sentence, 12)), Language: "ar", Published: when, Fetched: when, Keys: []string{"url:" + id}})
	}
	if _, err := st.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return st
}

// fullBuffers stands for readers whose network buffers have filled: on
// loopback the kernel takes megabytes of an answer that nobody reads, and
// a reader far away holds far less in flight.
type fullBuffers struct{ net.Listener }

func (l fullBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

func startServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener = fullBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// slowReader sends a request and reads nothing of the answer.
func slowReader(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		t.Fatal(err)
	}
	return c
}

// status reads an answer's status line from a slow reader, and its head
// too when it is a 503 (a small answer, all there); of a 200 it reads no
// more than the status.
func status(c net.Conn) (code string, head string, err error) {
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(c, b); err != nil {
		return "", "", err
	}
	code = string(b[len("HTTP/1.1 "):])
	if code != "503" {
		return code, "", nil
	}
	var rest bytes.Buffer
	one := make([]byte, 1)
	for !bytes.HasSuffix(rest.Bytes(), []byte("\r\n\r\n")) {
		if _, err := c.Read(one); err != nil {
			return code, rest.String(), err
		}
		rest.Write(one)
	}
	return code, rest.String(), nil
}

// liveHeap is the heap's live bytes once it has stopped changing.
func liveHeap() uint64 {
	read := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	prev, steady := read(), 0
	for range 100 {
		time.Sleep(50 * time.Millisecond)
		cur := read()
		if max(cur, prev)-min(cur, prev) < 256<<10 {
			if steady++; steady == 4 {
				return cur
			}
		} else {
			steady = 0
		}
		prev = cur
	}
	return prev
}

// Readers that ask for a large feed and never read it once held an answer
// each, with no bound: memory grew with their number. Now what they hold
// is the answer budget, the rest are told to come back, the health check
// answers meanwhile, and once they are gone feeds are served again.
func TestSlowReadersHoldBoundedMemory(t *testing.T) {
	const readers = 60
	const budget = 4 << 20
	s := &Server{Config: &config.Config{}, Store: longStore(t, 600), Log: quiet,
		MaxBuilding: 2, MaxQueued: 4, QueueWait: time.Second, AnswerBudget: budget, WriteStall: time.Minute}
	srv := startServer(t, s)
	const path = "/feeds/all.atom?limit=1000"
	r := get(t, srv.URL+path, nil)
	whole := body(t, r)
	if r.StatusCode != 200 || len(whole) < 1<<20 {
		t.Fatalf("a reader that reads: %d, %d bytes", r.StatusCode, len(whole))
	}
	before := liveHeap()

	addr := srv.Listener.Addr().String()
	conns := make([]net.Conn, readers)
	for i := range conns {
		conns[i] = slowReader(t, addr, path)
	}
	// Every one answered (its status line in), the server has built all
	// it will for them.
	codes := map[string]int{}
	var heads []string
	for _, c := range conns {
		code, head, err := status(c)
		if err != nil {
			t.Fatalf("a slow reader's answer: %v", err)
		}
		codes[code]++
		if code == "503" {
			heads = append(heads, head)
		}
	}
	held := int64(liveHeap()) - int64(before)
	t.Logf("answers %v; heap %d MiB before, %+d KiB with the slow readers", codes, before>>20, held>>10)
	// The budget, and as much again for what a build leaves behind.
	if held > 2*budget {
		t.Errorf("%d slow readers hold %d MiB of heap; the budget is %d MiB", readers, held>>20, budget>>20)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz with slow readers: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	if codes["200"] == 0 || codes["503"] < readers/2 || codes["200"]+codes["503"] != readers {
		t.Errorf("answers to %d slow readers: %v", readers, codes)
	}
	for _, h := range heads {
		if !strings.Contains(h, "\r\nRetry-After: ") {
			t.Errorf("a 503 without Retry-After:\n%s", h)
			break
		}
	}

	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := get(t, srv.URL+path, nil)
		b := body(t, r)
		if r.StatusCode == 200 && b == whole {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow readers gone, a reader gets %d", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The cut readers' handlers give their bytes back as their writes
	// fail, which may come a moment after the next reader is served.
	for s.limits().heldBytes() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.limits().heldBytes(); n != 0 {
		t.Errorf("the slow readers gone, %v bytes still held", n)
	}
}

// A reader that stops reading is cut after the write stall, and its share
// of the budget goes to the next reader.
func TestStalledReaderIsCut(t *testing.T) {
	s := &Server{Config: &config.Config{}, Store: longStore(t, 600), Log: quiet, AnswerBudget: 1, WriteStall: 300 * time.Millisecond}
	srv := startServer(t, s)
	const path = "/feeds/all.json?limit=1000"
	c := slowReader(t, srv.Listener.Addr().String(), path)
	defer c.Close()
	if code, _, err := status(c); code != "200" {
		t.Fatalf("the first reader: %q %v", code, err)
	}
	// Its answer fills the budget: until it is cut, others come back later.
	r := get(t, srv.URL+path, nil)
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" {
		t.Errorf("while the budget is held: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := get(t, srv.URL+path, nil)
		if b := body(t, r); r.StatusCode == 200 && strings.HasSuffix(b, "}\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled reader not cut: %d", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The stalled reader's connection is closed: what it reads now ends.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the stalled reader's connection is still open after %d bytes", n)
	}
}

// blockingStore holds its listings until let go, to keep builds under way.
type blockingStore struct {
	storage.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Items(ctx context.Context, opt storage.ListOptions) ([]*storage.Item, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.Items(ctx, opt)
}

// Past the builds under way and the queue, a request is told at once to
// come back; one that waits too long in the queue too; the health check
// and the other requests are not held up.
func TestBusyBuildsAnswer503(t *testing.T) {
	st := &blockingStore{Store: longStore(t, 10), entered: make(chan struct{}, 10), release: make(chan struct{})}
	s := &Server{Config: &config.Config{}, Store: st, Log: quiet, MaxBuilding: 1, MaxQueued: 1, QueueWait: 300 * time.Millisecond}
	srv := startServer(t, s)
	type answer struct {
		code int
		body string
	}
	answers := make([]chan answer, 2)
	for i := range answers {
		answers[i] = make(chan answer, 1)
		go func() {
			resp, err := http.Get(srv.URL + "/feeds/all.rss")
			if err != nil {
				t.Error(err)
				answers[i] <- answer{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] <- answer{resp.StatusCode, string(b)}
		}()
		if i == 0 {
			<-st.entered // the first builds
		}
	}
	for s.limits().waiting.Load() != 1 { // the second waits
		time.Sleep(time.Millisecond)
	}
	r := get(t, srv.URL+"/api/items", nil)
	if b := body(t, r); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" || !strings.Contains(b, errQueueFull.Error()) {
		t.Errorf("past the queue: %d, Retry-After %q: %s", r.StatusCode, r.Header.Get("Retry-After"), b)
	}
	for _, path := range []string{"/healthz", "/readyz", "/"} {
		if r := get(t, srv.URL+path, nil); r.StatusCode != 200 {
			t.Errorf("%s while feeds are busy: %d", path, r.StatusCode)
		}
	}
	if a := <-answers[1]; a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, errQueueWait.Error()) {
		t.Errorf("the request that waited past the queue's wait: %d %s", a.code, a.body)
	}
	close(st.release)
	if a := <-answers[0]; a.code != 200 {
		t.Errorf("the build under way: %d", a.code)
	}
	if r := get(t, srv.URL+"/feeds/all.rss", nil); r.StatusCode != 200 {
		t.Errorf("the builds done: %d", r.StatusCode)
	}
}
