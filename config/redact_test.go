package config

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pa55word@host.example/feed?apikey=SECRET&lang=ar": "http://REDACTED@host.example/feed?apikey=REDACTED&lang=ar",
		"https://host.example/rss?token=abc123&sig=zz&page=2":          "https://host.example/rss?page=2&sig=REDACTED&token=REDACTED",
		"https://host.example/rss":                                     "https://host.example/rss",
		"https://host.example/rss?Access_Key=k1&X-Auth=k2":             "https://host.example/rss?Access_Key=REDACTED&X-Auth=REDACTED",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", in, got, want)
		}
	}
	raw := "http://user:pa55word@host.example/feed?apikey=S3CRET+V&lang=ar"
	msg := `Get "http://user:***@host.example/feed?apikey=S3CRET+V&lang=ar": dial tcp: refused; apikey=S3CRET%2BV`
	got := RedactText(msg, URLSecrets(raw))
	for _, s := range []string{"user", "pa55word", "S3CRET"} {
		if strings.Contains(got, s) {
			t.Errorf("%q left in %s", s, got)
		}
	}
	if !strings.Contains(got, "host.example/feed") || !strings.Contains(got, "lang=ar") {
		t.Errorf("too much taken out: %s", got)
	}
}
