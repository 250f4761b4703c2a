package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/raqib/raqib/storage"
)

var _ storage.Store = (*Store)(nil)

// encodeJSON is a record as the embedded engine writes it: encoding/json,
// without HTML escaping (items hold HTML: escaping it costs time and
// space), without the encoder's newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeJSON reads a record. It decodes with goccy/go-json, as the
// embedded engine does: it reads what encoding/json reads, several times
// as fast on an Arabic article's strings.
func decodeJSON[T any](raw []byte) (*T, error) {
	var v T
	if err := fastjson.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &v, nil
}

// An item's date_ns and fetched_ns are its times' UnixNano, whatever they
// are, as the embedded engine's time keys hold them (a zero time, or one
// past 2262, wraps there too): both engines list the same order.

// zeroNanos is what UnixNano gives for a zero time.
var zeroNanos = time.Time{}.UnixNano()

// orderNanos is a story's update or an alert's creation as their columns
// order them: Unix nanoseconds, a zero time before every other (the
// embedded engine's timeIDKey).
func orderNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// seenAt is an item's fetched_ns as a time: zero for a zero time, as the
// embedded engine gives it back.
func seenAt(ns int64) time.Time {
	if ns == zeroNanos || ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// errRace is a commit that met another daemon's commit of the same item,
// key or story between its reads and its writes: it is rolled back and
// tried again, when the other's writes are there to read.
var errRace = errors.New("a concurrent commit stored the same item first")

// retryable reports whether a transaction that failed with err may
// simply be tried again: a race lost, a deadlock broken, a serialization
// failure.
func retryable(err error) bool {
	if errors.Is(err, errRace) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// maxTries is how many times a transaction is tried before its error is
// given: races are resolved by the first retry, whose reads see the
// other's writes; a deadlock may take one more.
const maxTries = 8

// retries counts the tries retry made again, for the tests.
var retries atomic.Int64

// retry runs fn until it succeeds, fails for good or has been tried
// maxTries times.
func retry(ctx context.Context, fn func() error) error {
	for try := 1; ; try++ {
		err := fn()
		if err == nil || !retryable(err) || try == maxTries || ctx.Err() != nil {
			return err
		}
		retries.Add(1)
		// A short, growing pause lets the other transaction finish.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try*try) * time.Millisecond):
		}
	}
}

// dedupe returns ss without repeats, in their first order.
func dedupe(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
