package feeds

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8":            true,
		"2001:4860::8888":    true,
		"127.0.0.1":          false,
		"127.8.9.1":          false,
		"::1":                false,
		"::ffff:127.0.0.1":   false,
		"::ffff:10.1.2.3":    false,
		"10.0.0.1":           false,
		"172.16.5.4":         false,
		"192.168.1.1":        false,
		"100.64.0.1":         false,
		"169.254.169.254":    false,
		"fe80::1":            false,
		"fc00::1":            false,
		"fd12:3456::1":       false,
		"0.0.0.0":            false,
		"::":                 false,
		"0.1.2.3":            false,
		"255.255.255.255":    false,
		"224.0.0.1":          false,
		"64:ff9b::7f00:1":    false,
		"2002:7f00:1::1":     false,
		"::ffff:8.8.8.8":     true,
		"198.51.100.7":       true, // documentation range: not the desk's network
		"fec0::1":            true, // deprecated site-local, now global unicast
		"2606:4700:4700::11": true,
	} {
		if got := isPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

// secretService is an internal answer a public feed must never read.
func secretService(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version":"https://jsonfeed.org/version/1.1","title":"internal","items":[{"id":"1","content_text":"INTERNAL-SECRET"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestPublicFeedRedirectIntoPrivateNetworkThroughProxy has a public feed
// (news.example, reached through a forward proxy, as HTTP_PROXY would
// have it) answer with a 301 to 127.0.0.1: the target is checked, not the
// proxy, and the internal service is never asked.
func TestPublicFeedRedirectIntoPrivateNetworkThroughProxy(t *testing.T) {
	secret, hits := secretService(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Hostname() == "news.example" {
			http.Redirect(w, r, secret.URL+"/secret", http.StatusMovedPermanently)
			return
		}
		// Any other target is forwarded, as a real proxy would.
		out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 1<<16)
		n, _ := resp.Body.Read(buf)
		w.Write(buf[:n])
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	f := NewFetcher(FetchOptions{
		Proxy: http.ProxyURL(proxyURL),
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host == "news.example" {
				return []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil
			}
			return nil, errors.New("no such host")
		},
	})
	_, err := f.Fetch(context.Background(), Request{URL: "http://news.example/feed", Timeout: 5 * time.Second})
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("redirect to %s through the proxy: err = %v, want a refusal", secret.URL, err)
	}
	if strings.Contains(err.Error(), "INTERNAL-SECRET") {
		t.Errorf("the error echoes the internal answer: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the internal service was asked %d times", hits.Load())
	}
}

// TestPublicNameResolvingPrivateAtConnect is the DNS trick: the name is
// public when the feed is classified and private when it is dialled.
func TestPublicNameResolvingPrivateAtConnect(t *testing.T) {
	secret, hits := secretService(t)
	u, _ := url.Parse(secret.URL)
	var calls atomic.Int32
	f := NewFetcher(FetchOptions{
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if calls.Add(1) == 1 {
				return []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
		},
	})
	_, err := f.Fetch(context.Background(), Request{URL: "http://rebind.example:" + u.Port() + "/feed", Timeout: 5 * time.Second})
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("err = %v, want a refusal at connect time", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the internal service was asked %d times", hits.Load())
	}
}

// TestPrivateFeedStaysAllowed: a feed configured at a private address is
// the operator's, and it may redirect within the private network; but a
// feed configured at a public address that was moved (its stored URL now
// private) is still a public feed.
func TestPrivateFeedStaysAllowed(t *testing.T) {
	secret, hits := secretService(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, secret.URL+"/feed", http.StatusMovedPermanently)
	})
	intranet := httptest.NewServer(mux)
	defer intranet.Close()
	f := NewFetcher(FetchOptions{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil
		}})
	resp, err := f.Fetch(context.Background(), Request{URL: intranet.URL + "/old", Timeout: 5 * time.Second})
	if err != nil || !strings.Contains(string(resp.Body), "INTERNAL-SECRET") {
		t.Fatalf("private feed: %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("hits = %d", hits.Load())
	}
	_, err = f.Fetch(context.Background(), Request{URL: secret.URL + "/feed", Configured: "http://news.example/feed", Timeout: 5 * time.Second})
	if !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("a public feed's stored private URL: err = %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("hits = %d", hits.Load())
	}
}

// A public outlet's name whose answer adds one private address (whoever
// answers for the name can) does not make it a private feed: its redirect
// into the private network is refused, as is the name itself.
func TestMixedAnswerIsNotPrivate(t *testing.T) {
	secret, hits := secretService(t)
	u, _ := url.Parse(secret.URL)
	outlet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, secret.URL+"/secret", http.StatusMovedPermanently)
	}))
	defer outlet.Close()
	f := NewFetcher(FetchOptions{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("10.1.2.3")}, nil
		}})
	for _, target := range []string{"http://news.example:" + u.Port() + "/feed", outlet.URL + "/feed"} {
		_, err := f.Fetch(context.Background(), Request{URL: target, Configured: "http://news.example/feed", Timeout: 5 * time.Second})
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("%s: err = %v, want a refusal", target, err)
		}
	}
	if f.privateFeed(context.Background(), "http://news.example/feed") {
		t.Error("a name with a public address among its answers counts as private")
	}
	if hits.Load() != 0 {
		t.Errorf("the internal service was asked %d times", hits.Load())
	}
}

// A public feed that redirects to the proxy's own address (never proxied:
// it is loopback) does not get to ask the proxy as a server.
func TestRedirectToTheProxyItself(t *testing.T) {
	var asServer atomic.Int32
	var proxy *httptest.Server
	proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() { // asked as an origin server, not as a proxy
			asServer.Add(1)
			w.Write([]byte("PROXY-MANAGER-PAGE"))
			return
		}
		http.Redirect(w, r, proxy.URL+"/squid-internal-mgr/menu", http.StatusFound)
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	f := NewFetcher(FetchOptions{
		Proxy: func(r *http.Request) (*url.URL, error) {
			if h := r.URL.Hostname(); h == "127.0.0.1" || h == "localhost" {
				return nil, nil // as the environment's proxy settings never proxy loopback
			}
			return proxyURL, nil
		},
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil
		},
	})
	_, err := f.Fetch(context.Background(), Request{URL: "http://news.example/feed", Timeout: 5 * time.Second})
	if !errors.Is(err, ErrPrivateAddress) || asServer.Load() != 0 {
		t.Errorf("err = %v, the proxy asked as a server %d times", err, asServer.Load())
	}
}
