package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/raqib/raqib/alerts"
	"github.com/raqib/raqib/config"
)

// A stored title's terminal escapes do not reach the terminal.
func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"عنوان  الخبر\nالثاني", 40, "عنوان الخبر الثاني"},
		{"\x1b]0;pwned\a\x1b[2J\x1b[31mRED", 40, "]0;pwned [2J [31mRED"},
		{"abcdef", 4, "abc…"},
	} {
		if got := oneLine(c.in, c.n); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// An email send may take twice its client's timeout (go-mail's runs once
// to connect and greet, once to send): the dispatcher waits that long
// before it counts the attempt failed and sends again.
func TestEmailSendTimeoutOutlastsTheClient(t *testing.T) {
	cfg := &config.Config{Alerts: config.Alerts{Channels: []config.Channel{
		{Name: "mail", Type: "email", Host: "127.0.0.1", From: "a@example.org", To: []string{"b@example.org"}, Timeout: config.Duration(40 * time.Second)},
		{Name: "mail2", Type: "email", Host: "127.0.0.1", From: "a@example.org", To: []string{"b@example.org"}},
		{Name: "hook", Type: "webhook", URL: "http://127.0.0.1:1/", Secret: "s", Timeout: config.Duration(40 * time.Second)},
	}}}
	d, err := newDispatcher(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{"mail": 85 * time.Second, "mail2": 2*alerts.DefaultEmailTimeout + 5*time.Second, "hook": 45 * time.Second} {
		if got := d.Timeouts[name]; got != want {
			t.Errorf("%s: the dispatcher waits %v, want %v", name, got, want)
		}
	}
}
