package feeds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// A feed the desk configured at a public address may not reach the
// desk's own network: a public feed that redirects to 127.0.0.1 or 10.x
// (or whose name resolves there) would have raqib read an internal service
// and republish it. A feed configured at a private address is the
// operator's choice and reaches what it names.

// ErrPrivateAddress is a public feed's attempt to reach a private address.
var ErrPrivateAddress = errors.New("refused: a feed at a public address may not reach a private one")

// nonPublic are the ranges a public feed may not reach, beyond what
// netip tells (loopback, private, link-local, unspecified, multicast).
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// isPublic reports whether a public feed may reach ip.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Resolver looks up a host's addresses (a test gives its own: there is no
// DNS to ask in a test).
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

func systemResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// lookup resolves host, or reads an address literal.
func (f *Fetcher) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	return f.resolve(ctx, host)
}

// privateFeed reports whether a feed's configured address is private: an
// address literal or localhost, or a name whose every address is private
// (an intranet's), the operator's choice. A name with any public address
// is public: else whoever answers for a public outlet's name could add
// one private address to its answer and lift the guard. The answer is
// kept for a while per host.
func (f *Fetcher) privateFeed(ctx context.Context, configured string) bool {
	u, err := url.Parse(configured)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	f.mu.Lock()
	c, ok := f.private[host]
	f.mu.Unlock()
	if ok && time.Since(c.at) < privateTTL {
		return c.private
	}
	lctx, cancel := context.WithTimeout(ctx, f.opt.ConnectTimeout)
	defer cancel()
	ips, err := f.lookup(lctx, host)
	private := len(ips) > 0
	for _, ip := range ips {
		private = private && !isPublic(ip)
	}
	if err == nil {
		f.mu.Lock()
		f.private[host] = privateAnswer{private: private, at: time.Now()}
		f.mu.Unlock()
	}
	return private
}

// privateTTL is how long a configured host's answer is kept.
const privateTTL = 10 * time.Minute

type privateAnswer struct {
	private bool
	at      time.Time
}

// dialPublic is a public feed's dial: the name is resolved here and every
// address it gives must be public, then one of those very addresses is
// dialled, so that a name that resolves to a public address when checked
// and a private one when dialled gets nowhere. The proxy, when there is
// one, is the operator's and is dialled as it is.
func (f *Fetcher) dialPublic(dialer *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if f.isProxy(addr) {
			return dialer.DialContext(ctx, network, addr)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := f.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if !isPublic(ip) {
				return nil, fmt.Errorf("%w (%s is %s)", ErrPrivateAddress, host, ip)
			}
		}
		var last error = fmt.Errorf("%s: no address", host)
		for _, ip := range ips {
			c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			last = err
		}
		return nil, last
	}
}

// proxyPublic is a public feed's proxy choice: through a proxy, raqib
// dials the proxy, not the feed, so the feed's host is checked here.
func (f *Fetcher) proxyPublic(req *http.Request) (*url.URL, error) {
	p, err := f.opt.Proxy(req)
	if err == nil && p == nil && f.isProxy(canonicalAddr(req.URL)) {
		// Not proxied (a proxy never is for loopback), so dialled as a
		// server: the proxy's own address, which dialPublic lets through
		// as the proxy's.
		return nil, fmt.Errorf("%w (%s is the proxy's)", ErrPrivateAddress, req.URL.Host)
	}
	if err != nil || p == nil {
		return p, err
	}
	ips, err := f.lookup(req.Context(), req.URL.Hostname())
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if !isPublic(ip) {
			return nil, fmt.Errorf("%w (%s is %s)", ErrPrivateAddress, req.URL.Hostname(), ip)
		}
	}
	f.proxies.Store(canonicalAddr(p), true)
	return p, nil
}

func (f *Fetcher) isProxy(addr string) bool {
	_, ok := f.proxies.Load(addr)
	return ok
}

// canonicalAddr is a proxy URL's host:port as the transport dials it.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}
