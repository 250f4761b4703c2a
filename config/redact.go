package config

import (
	"net/url"
	"sort"
	"strings"
)

// Feed URLs can carry credentials (http://user:pass@host/feed?apikey=…):
// they are used to fetch and shown nowhere else. RedactURL is a URL as raqib
// shows it, in its feeds, its API and its logs.

// credentialParam reports whether a query parameter's name looks like one
// that carries a credential.
func credentialParam(name string) bool {
	n := strings.ToLower(name)
	for _, part := range []string{"key", "token", "secret", "passw", "pwd", "signature", "auth", "credential", "session", "apikey"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	switch n {
	case "sig", "pw", "pass", "code", "s", "k", "p":
		return true
	}
	return false
}

// redacted stands for what is taken out.
const redacted = "REDACTED"

// RedactURL shows a URL without its user information and without the
// values of its query parameters named like credentials (key, token,
// secret, password, sig, auth and the like); the rest stays, so that the
// desk can still tell its feeds apart.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return RedactText(raw, URLSecrets(raw))
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name, vs := range q {
			if credentialParam(name) {
				for i := range vs {
					vs[i] = redacted
				}
			}
		}
		u.RawQuery = encodeSorted(q)
	}
	return u.String()
}

func encodeSorted(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			if v == redacted {
				b.WriteString(v)
			} else {
				b.WriteString(url.QueryEscape(v))
			}
		}
	}
	return b.String()
}

// URLSecrets are the credentials a URL carries, as they may appear in a
// text (an error that quotes the URL, escaped or not): for RedactText.
func URLSecrets(raw string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
			if e := url.QueryEscape(s); e != s {
				out = append(out, e)
			}
			if e := url.PathEscape(s); e != s {
				out = append(out, e)
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Unparsable: whatever follows the scheme up to the host, and the
		// whole query, may be secret.
		if i := strings.Index(raw, "@"); i >= 0 {
			start := strings.Index(raw, "://") + 3
			if start < 3 || start > i {
				start = 0
			}
			add(raw[start:i])
		}
		if i := strings.Index(raw, "?"); i >= 0 {
			add(raw[i+1:])
		}
		return out
	}
	if u.User != nil {
		add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		add(u.User.String())
	}
	// The values as written and as read, in each escaping an error may
	// quote them in ("a+b" may be a space or a plus).
	for _, kv := range strings.Split(u.RawQuery, "&") {
		name, v, _ := strings.Cut(kv, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !credentialParam(name) {
			continue
		}
		add(v)
		if d, err := url.QueryUnescape(v); err == nil {
			add(d)
		}
		if d, err := url.PathUnescape(v); err == nil {
			add(d)
		}
	}
	// Longest first, so that a secret that holds another goes whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// RedactText takes each secret out of s.
func RedactText(s string, secrets []string) string {
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, redacted)
	}
	return s
}
