package boltstore

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/raqib/raqib/storage"
)

// A listing's cursor is the place of the page's last item in the listings'
// newest-first order, its date and sequence number: the order of the time,
// rule and feed indexes. Items stored since do not shift it, as they
// would an offset. Its token is its time index key, in hex.
type cursor struct {
	date time.Time
	seq  uint64
}

// Cursor is where a listing ending with it goes on.
func (s *Bolt) Cursor(it *storage.Item) string {
	return hex.EncodeToString(timeKey(it.Date(), it.Seq))
}

// parseCursor reads what Cursor wrote; "" is the listing's start (seq 0).
func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != 16 || binary.BigEndian.Uint64(k[8:]) == 0 {
		return cursor{}, fmt.Errorf("%w: %q is not an item listing's (the \"next\" of a page)", storage.ErrBadCursor, s)
	}
	return cursor{date: time.Unix(0, int64(binary.BigEndian.Uint64(k)-(1<<63))).UTC(), seq: binary.BigEndian.Uint64(k[8:])}, nil
}
