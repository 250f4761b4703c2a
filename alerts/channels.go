package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/textnorm"
)

// ItemInfo is what an alert says about an item.
type ItemInfo struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	URL         string    `json:"url,omitempty"`
	Feed        string    `json:"feed"`
	Published   time.Time `json:"published,omitzero"`
	Summary     string    `json:"summary,omitempty"`
	Language    string    `json:"language,omitempty"`
	Cluster     string    `json:"cluster"`
	ClusterSize int       `json:"cluster_size"`
	Outlets     []string  `json:"outlets,omitempty"`
}

// Notification is one message to a channel: one item, or a digest of several.
type Notification struct {
	ID      string     `json:"-"` // idempotency key
	Rule    string     `json:"rule"`
	Created time.Time  `json:"created"` // when the alert was queued, with its item
	Item    *ItemInfo  `json:"item,omitempty"`
	Items   []ItemInfo `json:"items,omitempty"` // a digest
	Digest  bool       `json:"digest,omitempty"`
}

// all lists the notification's items, one or many.
func (n *Notification) all() []ItemInfo {
	if n.Item != nil {
		return []ItemInfo{*n.Item}
	}
	return n.Items
}

// Sender delivers notifications to one channel.
type Sender interface {
	Send(ctx context.Context, n *Notification) error
}

// DeliveryError says whether a failure may succeed on retry.
type DeliveryError struct {
	Err        error
	Permanent  bool
	RetryAfter time.Duration
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// DefaultEmailTimeout is an email channel's timeout when it sets none.
const DefaultEmailTimeout = 30 * time.Second

// NewSender builds the sender for a configured channel.
func NewSender(ch config.Channel, log *slog.Logger) (Sender, error) {
	switch ch.Type {
	case "log":
		return &LogSender{Log: log}, nil
	case "webhook":
		key, err := WebhookKey(ch.Secret)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", ch.Name, err)
		}
		timeout := ch.Timeout.D()
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		// A redirect is not followed: a 301 or 302 would turn the POST
		// into a GET whose 200 (a landing page) marked the alert
		// delivered, and a 307 would hand the signed payload to wherever
		// the receiver points. The 3xx fails the delivery and names where
		// the receiver moved.
		client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		return &WebhookSender{URL: ch.URL, Key: key, Client: client, Standard: ch.Payload == "standard"}, nil
	case "email":
		return &EmailSender{Channel: ch}, nil
	}
	return nil, fmt.Errorf("channel %s: unknown type %q", ch.Name, ch.Type)
}

// LogSender writes alerts to the daemon's log.
type LogSender struct{ Log *slog.Logger }

func (s *LogSender) Send(_ context.Context, n *Notification) error {
	for _, it := range n.all() {
		s.Log.Info("ALERT", "rule", n.Rule, "title", it.Title, "url", it.URL, "feed", it.Feed, "story", it.Cluster, "outlets", it.ClusterSize)
	}
	return nil
}

// WebhookKey is the HMAC key of a secret: the base64 bytes after a
// "whsec_" prefix (the Standard Webhooks form, which the spec's libraries
// take as it is), padded or not, standard or URL-safe alphabet, as those
// libraries accept; or, with no prefix, the secret's own bytes (what
// raqib always took, and what the libraries take with their "raw" option).
func WebhookKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		rest = strings.TrimSpace(rest)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err := enc.DecodeString(rest); err == nil && len(key) > 0 {
				return key, nil
			}
		}
		return nil, errors.New("secret: the part after whsec_ is not base64 (make one with \"raqib webhook secret\")")
	}
	return []byte(secret), nil
}

// NewWebhookSecret makes a secret in the Standard Webhooks form: whsec_
// and 32 random bytes in base64 (the spec asks for 24 to 64).
func NewWebhookSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key), nil
}

// Sign computes the Standard Webhooks signature header value.
func Sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookSender POSTs signed JSON.
type WebhookSender struct {
	URL    string
	Key    []byte
	Client *http.Client
	Now    func() time.Time
	// Standard wraps the alert in the Standard Webhooks payload shape
	// (payload: standard).
	Standard bool
}

// StandardPayload is the Standard Webhooks payload shape: what happened,
// when, and the alert as data.
type StandardPayload struct {
	Type      string        `json:"type"`
	Timestamp time.Time     `json:"timestamp"`
	Data      *Notification `json:"data"`
}

func (s *WebhookSender) Send(ctx context.Context, n *Notification) error {
	var payload any = n
	if s.Standard {
		kind := "alert.created"
		if n.Digest {
			kind = "alert.digest"
		}
		payload = StandardPayload{Type: kind, Timestamp: n.Created.UTC(), Data: n}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return &DeliveryError{Err: err, Permanent: true}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return &DeliveryError{Err: err, Permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "raqib")
	req.Header.Set("webhook-id", n.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if len(s.Key) > 0 {
		req.Header.Set("webhook-signature", Sign(s.Key, n.ID, ts, body))
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, which may carry a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &DeliveryError{Err: fmt.Errorf("webhook %s: %w", redact(s.URL), err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c <= 299:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return &DeliveryError{Err: fmt.Errorf("webhook %s: HTTP %d", redact(s.URL), c), RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case c >= 300 && c <= 399:
		return &DeliveryError{Err: fmt.Errorf("webhook %s: HTTP %d to %s (not followed, not retried: set the channel's url to where the receiver is)", redact(s.URL), c, redact(resp.Header.Get("Location"))), Permanent: true}
	default:
		return &DeliveryError{Err: fmt.Errorf("webhook %s: HTTP %d (not retried: the receiver refuses this request)", redact(s.URL), c), Permanent: true}
	}
}

// redact hides a URL's credentials and query, which may carry a token.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User != nil {
		u.User = url.User("…")
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// EmailSender sends multipart text and HTML mail through SMTP.
type EmailSender struct {
	Channel config.Channel
	// TLSConfig overrides the TLS settings (tests use it to trust their server).
	Options []mail.Option
}

var htmlMail = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><body>
<p>raqib: rule <b>{{.Rule}}</b></p>
{{range .Items}}<div{{if .Arabic}} dir="rtl" lang="ar"{{else if .Language}} lang="{{.Language}}"{{end}} style="margin:1em 0">
<h3><a href="{{.URL}}">{{.Title}}</a></h3>
<p>{{.Summary}}</p>
<p style="color:#666">{{.Feed}}{{if gt .ClusterSize 1}} · {{.ClusterSize}} outlets ran this story{{end}}</p>
</div>
{{end}}</body></html>`))

type mailItem struct {
	ItemInfo
	Arabic bool
}

func (s *EmailSender) Send(ctx context.Context, n *Notification) error {
	ch := s.Channel
	items := n.all()
	m := mail.NewMsg()
	if err := m.From(ch.From); err != nil {
		return &DeliveryError{Err: fmt.Errorf("email from %q: %w", ch.From, err), Permanent: true}
	}
	if err := m.To(ch.To...); err != nil {
		return &DeliveryError{Err: fmt.Errorf("email to %v: %w", ch.To, err), Permanent: true}
	}
	subject := fmt.Sprintf("[raqib] %s: %s", n.Rule, items[0].Title)
	if len(items) > 1 {
		subject = fmt.Sprintf("[raqib] %s: %d stories, first: %s", n.Rule, len(items), items[0].Title)
	}
	m.Subject(subject)
	m.SetMessageIDWithValue(n.ID + "@raqib")
	m.SetDate()
	var text strings.Builder
	mi := make([]mailItem, len(items))
	for i, it := range items {
		fmt.Fprintf(&text, "%s\n%s\n%s (%s)\n\n", it.Title, it.URL, it.Summary, it.Feed)
		mi[i] = mailItem{ItemInfo: it, Arabic: it.Language == "ar" || textnorm.ArabicShare(it.Title) > 0.5}
	}
	m.SetBodyString(mail.TypeTextPlain, text.String())
	var h bytes.Buffer
	if err := htmlMail.Execute(&h, struct {
		Rule  string
		Items []mailItem
	}{n.Rule, mi}); err != nil {
		return &DeliveryError{Err: err, Permanent: true}
	}
	m.AddAlternativeString(mail.TypeTextHTML, h.String())

	timeout := ch.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultEmailTimeout
	}
	opts := []mail.Option{mail.WithTimeout(timeout)}
	if ch.Port > 0 {
		opts = append(opts, mail.WithPort(ch.Port))
	}
	switch ch.TLS {
	case "none":
		opts = append(opts, mail.WithTLSPortPolicy(mail.NoTLS))
	case "tls":
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPortPolicy(mail.TLSMandatory))
	}
	if ch.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(ch.Username), mail.WithPassword(ch.Password))
	}
	opts = append(opts, s.Options...)
	c, err := mail.NewClient(ch.Host, opts...)
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("email via %s: %w", ch.Host, err), Permanent: true}
	}
	// go-mail honours ctx while it dials only; a server that then stops
	// answering would hold the send, and a shutdown, for the whole
	// timeout. The send goes on in the background until its own timeout
	// ends it; the alert stays pending, and is sent again under its id.
	sent := make(chan error, 1)
	go func() { sent <- c.DialAndSendWithContext(ctx, m) }()
	select {
	case err = <-sent:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err != nil {
		var se *mail.SendError
		permanent := errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500
		return &DeliveryError{Err: fmt.Errorf("email via %s:%d: %w", ch.Host, ch.Port, err), Permanent: permanent}
	}
	return nil
}
