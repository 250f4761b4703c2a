// Package feeds fetches, parses and schedules news feeds.
package feeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is raqib's version, sent in the User-Agent.
var Version = "0.1.0"

// FetchOptions configure a Fetcher.
type FetchOptions struct {
	UserAgent      string
	ConnectTimeout time.Duration
	MaxBody        int64
	PerHost        int
	// AllowLinkLocal lets feeds configured at private addresses reach
	// link-local ones (cloud metadata services live there).
	AllowLinkLocal bool
	// Proxy picks a request's proxy; nil is the environment's
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// Resolve looks up hosts; nil is the system's resolver.
	Resolve Resolver
}

// Fetcher performs polite conditional GETs with limits.
type Fetcher struct {
	opt     FetchOptions
	client  *http.Client // feeds configured at private addresses
	public  *http.Client // feeds configured at public ones: no private address
	resolve Resolver

	mu      sync.Mutex
	hosts   map[string]chan struct{}
	private map[string]privateAnswer // configured host -> private?
	proxies sync.Map                 // proxy host:port -> true
}

// NewFetcher builds a Fetcher; zero options take safe defaults.
func NewFetcher(opt FetchOptions) *Fetcher {
	if opt.UserAgent == "" {
		opt.UserAgent = "raqib/" + Version + " (media monitor; +https://github.com/raqib/raqib)"
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 10 * time.Second
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = 10 << 20
	}
	if opt.PerHost <= 0 {
		opt.PerHost = 2
	}
	if opt.Proxy == nil {
		opt.Proxy = http.ProxyFromEnvironment
	}
	f := &Fetcher{opt: opt, hosts: map[string]chan struct{}{}, private: map[string]privateAnswer{}, resolve: opt.Resolve}
	if f.resolve == nil {
		f.resolve = systemResolver
	}
	dialer := &net.Dialer{Timeout: opt.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !opt.AllowLinkLocal {
		dialer.Control = refuseLinkLocal
	}
	transport := func(proxy func(*http.Request) (*url.URL, error), dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
		return &http.Transport{
			Proxy:                 proxy,
			DialContext:           dial,
			TLSHandshakeTimeout:   opt.ConnectTimeout,
			ResponseHeaderTimeout: 0, // the request context's total timeout bounds it
			// A feed's headers are a few hundred bytes; Go's default of
			// 10 MB, times every connection in flight, is a hostile
			// server's to fill.
			MaxResponseHeaderBytes: maxHeaderBytes,
			MaxIdleConnsPerHost:    opt.PerHost,
			IdleConnTimeout:        90 * time.Second,
			ForceAttemptHTTP2:      true,
		}
	}
	// Two transports, so that a connection one made is never lent to the
	// other's requests from its pool.
	f.client = &http.Client{Transport: transport(opt.Proxy, dialer.DialContext), CheckRedirect: checkRedirect}
	f.public = &http.Client{Transport: transport(f.proxyPublic, f.dialPublic(dialer)), CheckRedirect: checkRedirect}
	return f
}

// refuseLinkLocal stops connections to link-local addresses, where cloud
// metadata services live, whatever name resolved to them.
func refuseLinkLocal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("refusing to connect to link-local address %s", host)
	}
	return nil
}

type redirectsKey struct{}

// redirects records the statuses of a request's redirect hops.
type redirects struct{ statuses []int }

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after 10 redirects (a redirect loop?)")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect to %s: not http or https", req.URL.Redacted())
	}
	if r, ok := req.Context().Value(redirectsKey{}).(*redirects); ok && req.Response != nil {
		r.statuses = append(r.statuses, req.Response.StatusCode)
	}
	return nil
}

// Request is one conditional GET.
type Request struct {
	URL string
	// Configured is the feed's address in the configuration ("" for URL):
	// a private one may reach private addresses, a public one may not.
	Configured   string
	ETag         string
	LastModified string
	// Timeout bounds the request, body included, once it has its host
	// slot: waiting behind a slow feed on the same host is not the feed's fault.
	Timeout time.Duration
	// BeforeBody, when set, is called once the headers say a body follows
	// (2xx), before it is read; the poller waits there for a worker, so
	// that the bodies held in memory are bounded by its workers, not by
	// the requests in flight. The wait does not count against Timeout.
	BeforeBody func(context.Context) error
	// Took, when set, receives how long the request ran once it had its
	// host slot, without the wait in BeforeBody: the server's time, which
	// orders the next cycle's feeds, not raqib's own queues.
	Took *time.Duration
}

// Response is the outcome of a successful fetch (2xx or 304).
type Response struct {
	Status       int
	Body         []byte
	ContentType  string
	ETag         string
	LastModified string
	FinalURL     string
	// PermanentURL is set when every redirect hop was permanent (301/308):
	// the feed has moved and its stored URL should follow.
	PermanentURL string
}

// NotModified reports a 304.
func (r *Response) NotModified() bool { return r.Status == http.StatusNotModified }

// HTTPError is a non-success status.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration // from the Retry-After header, if any
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusGone:
		msg += ": the feed is gone for good; remove it from the configuration"
	case http.StatusNotFound:
		msg += ": check the feed's URL"
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += ": the server refuses raqib (needs credentials, or blocks the User-Agent)"
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return msg
}

// ErrTooLarge is returned when a body passes the size cap.
var ErrTooLarge = errors.New("body too large")

// Fetch performs one conditional GET.
func (f *Fetcher) Fetch(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", r.URL, err)
	}
	release, err := f.acquireHost(ctx, strings.ToLower(u.Host))
	if err != nil {
		return nil, err
	}
	defer release()
	clock := startClock(ctx, r.Timeout)
	defer func() {
		if r.Took != nil {
			*r.Took = clock.ran()
		}
		clock.stop()
	}()
	ctx = clock.ctx

	hops := &redirects{}
	ctx = context.WithValue(ctx, redirectsKey{}, hops)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", r.URL, err)
	}
	req.Header.Set("User-Agent", f.opt.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, application/json;q=0.8, text/xml;q=0.8, */*;q=0.5")
	if r.ETag != "" {
		req.Header.Set("If-None-Match", r.ETag)
	}
	if r.LastModified != "" {
		req.Header.Set("If-Modified-Since", r.LastModified)
	}
	configured := r.Configured
	if configured == "" {
		configured = r.URL
	}
	client := f.public
	if f.privateFeed(ctx, configured) {
		client = f.client
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, clock.describe(err)
	}
	defer resp.Body.Close()

	out := &Response{
		Status:       resp.StatusCode,
		ContentType:  resp.Header.Get("Content-Type"),
		ETag:         validator(resp.Header.Get("ETag")),
		LastModified: validator(resp.Header.Get("Last-Modified")),
		FinalURL:     resp.Request.URL.String(),
	}
	if len(hops.statuses) > 0 {
		permanent := true
		for _, s := range hops.statuses {
			permanent = permanent && (s == http.StatusMovedPermanently || s == http.StatusPermanentRedirect)
		}
		if permanent {
			out.PermanentURL = out.FinalURL
		}
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if r.BeforeBody != nil {
		clock.pause()
		err := r.BeforeBody(ctx)
		clock.resume()
		if err != nil {
			return nil, err
		}
	}
	// The transport has already undone gzip, so the cap counts decompressed
	// bytes and a gzip bomb stops at the cap.
	body, err := readBody(resp, f.opt.MaxBody+1)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", clock.describe(err))
	}
	if int64(len(body)) > f.opt.MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes (raise poll.max_body if the feed is really that big)", ErrTooLarge, f.opt.MaxBody)
	}
	out.Body = body
	return out, nil
}

// readBody reads at most limit bytes of the body, into a buffer of the
// announced length when there is one (growing one by doubling copies a
// large feed several times over).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, limit)
	if n := resp.ContentLength; n > 0 && n < limit {
		// Room for bytes.Buffer's last read, the one that finds EOF.
		buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
		_, err := buf.ReadFrom(r)
		return buf.Bytes(), err
	}
	return io.ReadAll(r)
}

// errTimedOut ends a request that ran past its Timeout.
var errTimedOut = errors.New("poll.timeout reached")

// clock is a request's Timeout, which can stop while the request waits on
// raqib rather than on the server.
type clock struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil: no timeout
	left   time.Duration
	since  time.Time
	start  time.Time
	paused time.Duration
}

func startClock(parent context.Context, timeout time.Duration) *clock {
	now := time.Now()
	c := &clock{left: timeout, since: now, start: now}
	c.ctx, c.cancel = context.WithCancelCause(parent)
	if timeout > 0 {
		c.timer = time.AfterFunc(timeout, func() { c.cancel(errTimedOut) })
	}
	return c
}

func (c *clock) pause() {
	now := time.Now()
	if c.timer != nil && c.timer.Stop() {
		c.left -= now.Sub(c.since)
	}
	c.since = now
}

func (c *clock) resume() {
	now := time.Now()
	c.paused += now.Sub(c.since)
	c.since = now
	if c.timer != nil && c.ctx.Err() == nil {
		c.timer.Reset(max(c.left, 0))
	}
}

// ran is the time since the clock started, without its pauses.
func (c *clock) ran() time.Duration { return time.Since(c.start) - c.paused }

func (c *clock) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(nil)
}

// describe says what a network error means for the feed.
func (c *clock) describe(err error) error {
	if context.Cause(c.ctx) == errTimedOut {
		return fmt.Errorf("timed out (poll.timeout): %w", err)
	}
	return describeNetError(err)
}

func describeNetError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Errorf("timed out (poll.timeout): %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("body cut short (truncated transfer or gzip stream): %w", err)
	}
	return err
}

// acquireHost waits for one of the host's connection slots.
func (f *Fetcher) acquireHost(ctx context.Context, host string) (func(), error) {
	f.mu.Lock()
	sem, ok := f.hosts[host]
	if !ok {
		sem = make(chan struct{}, f.opt.PerHost)
		f.hosts[host] = sem
	}
	f.mu.Unlock()
	release, err := take(ctx, sem)
	if err != nil {
		return nil, fmt.Errorf("waiting for a connection slot to %s: %w", host, err)
	}
	return release, nil
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maxHeaderBytes bounds a feed server's response headers.
const maxHeaderBytes = 64 << 10

// validator is an ETag or Last-Modified to keep in the feed's state and
// send back, or "" for one longer than any server means (a hostile one
// would have raqib store it and repeat it on every poll).
func validator(v string) string {
	if len(v) > 1024 {
		return ""
	}
	return v
}
