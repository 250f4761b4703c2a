package boltstore

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/raqib/raqib/storage"
	bolt "go.etcd.io/bbolt"
)

// A desk with a thousand rules raises thousands of alerts a day, and
// retention keeps months of them. Listing them read and sorted the whole
// alert history (200,000 alerts: 6 s and 300 MiB; through the daemon's
// API an 80 MB answer held in its memory). The time index lists them
// newest first, a page at a time, and tells their state without decoding
// them.
var bAlertTime = []byte("alerttime") // created nanos (8) | alert id -> state

// alertKey is an alert's entry in the time index.
func alertKey(a *storage.Alert) []byte { return timeIDKey(a.Created, a.ID) }

// ListAlerts lists alerts newest first, from the time index, decoding
// only those it lists. next, when the page is full, is where the page
// after it starts (AlertListOptions.Before).
func (s *Bolt) ListAlerts(ctx context.Context, opt storage.AlertListOptions) (out []*storage.Alert, next string, err error) {
	var end []byte
	if opt.Before != "" {
		if end, err = hex.DecodeString(opt.Before); err != nil || len(end) < 8 {
			return nil, "", fmt.Errorf("%w: %q is not an alert listing's (the \"next\" of a page)", storage.ErrBadCursor, opt.Before)
		}
	}
	err = s.view(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bAlerts)
		c := tx.Bucket(bAlertTime).Cursor()
		k, v := c.Last()
		if end != nil {
			k, v = lastBefore(c, end)
		}
		for n := 0; k != nil; k, v = c.Prev() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if opt.State != "" && string(v) != opt.State {
				continue
			}
			a, err := getJSON[storage.Alert](ab, k[8:])
			if err != nil {
				return fmt.Errorf("alert %s: %w", k[8:], err)
			}
			out = append(out, a)
			if opt.Limit > 0 && len(out) == opt.Limit {
				next = hex.EncodeToString(k)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}
