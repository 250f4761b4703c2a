// Package alerts turns rule matches into alerts: one per rule and story,
// queued in the store's outbox in the same transaction as the item, and
// delivered by a dispatcher to email, webhook and log channels with retries.
package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

// Engine matches items against the configured rules and makes their alerts.
// It implements pipeline.Matcher.
type Engine struct {
	matcher *rules.Matcher
	rules   []config.Rule
	feeds   []map[string]bool // per rule: the feeds it is limited to, or nil
	byName  map[string]*config.Rule
	Now     func() time.Time
}

// RuleError is a rule whose query does not parse, with where it is.
type RuleError struct {
	Index int
	Rule  string
	Err   error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %s: %v", e.Rule, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// NewEngine compiles the rules; the first one that does not parse is a *RuleError.
func NewEngine(rs []config.Rule) (*Engine, error) {
	e := &Engine{rules: rs, Now: time.Now, byName: map[string]*config.Rule{}}
	names := make([]string, len(rs))
	queries := make([]string, len(rs))
	for i, r := range rs {
		if _, err := rules.Parse(r.Query); err != nil {
			return nil, &RuleError{Index: i, Rule: r.Name, Err: err}
		}
		names[i], queries[i] = r.Name, r.Query
		e.byName[r.Name] = &rs[i]
		var fs map[string]bool
		if len(r.Feeds) > 0 {
			fs = map[string]bool{}
			for _, f := range r.Feeds {
				fs[f] = true
			}
		}
		e.feeds = append(e.feeds, fs)
	}
	m, err := rules.Compile(names, queries)
	if err != nil {
		return nil, err
	}
	e.matcher = m
	return e, nil
}

// AlertID is the stable id of the alert for one rule, story and channel: the
// outbox key that makes a story alert once per rule, and the idempotency key
// a webhook receiver sees on every retry.
func AlertID(rule, cluster, channel string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + cluster + "\x00" + channel))
	return "al_" + hex.EncodeToString(h[:12])
}

// Rules returns the names of the rules the item's text matches, in rule
// order, leaving out rules limited to other feeds. It only reads the
// engine, so the pipeline calls it without its lock.
func (e *Engine) Rules(it *storage.Item, t *rules.Text) []string {
	var names []string
	for _, i := range e.matcher.Match(t) {
		if fs := e.feeds[i]; fs != nil && !fs[it.Feed] {
			continue
		}
		names = append(names, e.rules[i].Name)
	}
	return names
}

// Alerts returns the alerts to queue for the rules the item matched
// (it.Rules), once its story (it.Cluster) is known. An item that repeats
// a seed document raises none: the desk knows that story.
func (e *Engine) Alerts(it *storage.Item) []*storage.Alert {
	if strings.HasPrefix(it.Cluster, "seed:") {
		return nil
	}
	var out []*storage.Alert
	now := e.Now()
	for _, name := range it.Rules {
		r, ok := e.byName[name]
		if !ok {
			continue
		}
		for _, ch := range r.Channels {
			a := &storage.Alert{
				ID: AlertID(r.Name, it.Cluster, ch), Rule: r.Name, Channel: ch,
				ItemID: it.ID, Cluster: it.Cluster, State: storage.AlertPending, Created: now,
			}
			if d := r.Digest.D(); d > 0 {
				a.Digest = now.Truncate(d).Add(d)
			}
			out = append(out, a)
		}
	}
	return out
}

func textnormHTML(s string) string { return textnorm.HTMLToText(s) }
