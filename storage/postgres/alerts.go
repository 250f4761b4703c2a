package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/raqib/raqib/storage"
)

// alertColumns are alerts as the columns of a write, in the order of
// their ids.
func alertColumns(as []*storage.Alert) ([]any, error) {
	as = slices.SortedStableFunc(slices.Values(as), func(a, b *storage.Alert) int { return strings.Compare(a.ID, b.ID) })
	n := len(as)
	ids, states, items, stories := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created, docs := make([]int64, n), make([][]byte, n)
	for i, a := range as {
		raw, err := encodeJSON(a)
		if err != nil {
			return nil, fmt.Errorf("alert %s: %w", a.ID, err)
		}
		ids[i], states[i], items[i], stories[i] = a.ID, a.State, a.ItemID, a.Cluster
		created[i], docs[i] = orderNanos(a.Created), raw
	}
	return []any{ids, states, created, items, stories, docs}, nil
}

func scanAlerts(rows pgx.Rows, err error) ([]*storage.Alert, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*storage.Alert
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		a, err := decodeJSON[storage.Alert](raw)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Alerts lists the alerts in a state, the oldest first.
func (s *Store) Alerts(ctx context.Context, state string) ([]*storage.Alert, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if state == "" {
		rows, err = s.pool.Query(ctx, `SELECT doc FROM alerts ORDER BY created_ns, id`)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT doc FROM alerts WHERE state = $1 ORDER BY created_ns, id`, state)
	}
	out, err := scanAlerts(rows, err)
	if err != nil {
		return nil, fmt.Errorf("list alerts %s: %w", state, err)
	}
	return out, nil
}

// ListAlerts lists alerts newest first, from the index of their state
// and creation (or of their creation), reading no further than the page.
// next, when the page is full, is where the page after it starts.
func (s *Store) ListAlerts(ctx context.Context, opt storage.AlertListOptions) ([]*storage.Alert, string, error) {
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var where []string
	if opt.State != "" {
		where = append(where, "state = "+arg(opt.State))
	}
	if opt.Before != "" {
		created, id, err := parseAlertNext(opt.Before)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(created_ns, id) < (%s, %s)", arg(created), arg(id)))
	}
	sql := "SELECT created_ns, id, doc FROM alerts"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_ns DESC, id DESC"
	if opt.Limit > 0 {
		sql += " LIMIT " + arg(opt.Limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var (
		out     []*storage.Alert
		created int64
		id      string
	)
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&created, &id, &raw); err != nil {
			return nil, "", fmt.Errorf("list alerts: %w", err)
		}
		a, err := decodeJSON[storage.Alert](raw)
		if err != nil {
			return nil, "", fmt.Errorf("list alerts: alert %s: %w", id, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if opt.Limit > 0 && len(out) == opt.Limit {
		next = alertNext(created, id)
	}
	return out, next, nil
}

func (s *Store) Alert(ctx context.Context, id string) (*storage.Alert, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM alerts WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("alert %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load alert %s: %w", id, err)
	}
	a, err := decodeJSON[storage.Alert](raw)
	if err != nil {
		return nil, fmt.Errorf("load alert %s: %w", id, err)
	}
	return a, nil
}

// putAlertsSQL saves alerts as they are given, new or not.
const putAlertsSQL = `INSERT INTO alerts (id, state, created_ns, item, story, doc)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])
	ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, created_ns = EXCLUDED.created_ns,
		item = EXCLUDED.item, story = EXCLUDED.story, doc = EXCLUDED.doc`

func (s *Store) UpdateAlert(ctx context.Context, a *storage.Alert) error {
	if err := s.saveAlerts(ctx, []*storage.Alert{a}); err != nil {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return nil
}

// UpdateAlerts saves the alerts in one statement.
func (s *Store) UpdateAlerts(ctx context.Context, as []*storage.Alert) error {
	if len(as) == 0 {
		return nil
	}
	if err := s.saveAlerts(ctx, as); err != nil {
		return fmt.Errorf("save %d alerts: %w", len(as), err)
	}
	return nil
}

// saveAlerts saves alerts in one statement; an alert given twice is
// saved as it is the last time.
func (s *Store) saveAlerts(ctx context.Context, as []*storage.Alert) error {
	last := make(map[string]*storage.Alert, len(as))
	for _, a := range as {
		last[a.ID] = a
	}
	uniq := make([]*storage.Alert, 0, len(last))
	for _, a := range last {
		uniq = append(uniq, a)
	}
	cols, err := alertColumns(uniq)
	if err != nil {
		return err
	}
	return retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, putAlertsSQL, cols...)
		return err
	})
}

// An alert listing's next is "a1." and the place of the page's last
// alert, its creation (created_ns, big-endian) and its id, in unpadded
// base64url.
const alertCursor = "a1."

func alertNext(created int64, id string) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(created))
	return alertCursor + base64.RawURLEncoding.EncodeToString(append(b, id...))
}

func parseAlertNext(tok string) (created int64, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, alertCursor))
	if !strings.HasPrefix(tok, alertCursor) || err != nil || len(b) < 8 {
		return 0, "", fmt.Errorf("%w: %q is not an alert listing's (the \"next\" of a page)", storage.ErrBadCursor, tok)
	}
	return int64(binary.BigEndian.Uint64(b)), string(b[8:]), nil
}
