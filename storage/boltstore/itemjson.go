package boltstore

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/raqib/raqib/storage"
)

// appendItemJSON appends the JSON of it, byte for byte what encoding/json
// writes with HTML escaping off (a test holds the two to it), at several
// times its speed: an item is mostly long Arabic strings, which
// encoding/json checks a character at a time through its general escaper.
// Values encoding/json refuses (a date past year 9999, a similarity that
// is not a number) are left to it, for its error.
func appendItemJSON(b []byte, it *storage.Item) ([]byte, error) {
	if !plainTime(it.Published) || !plainTime(it.Updated) || !plainTime(it.Fetched) ||
		math.IsNaN(it.Similarity) || math.IsInf(it.Similarity, 0) {
		raw, err := json.Marshal(it)
		return append(b, raw...), err
	}
	b = appendString(append(b, `{"id":`...), it.ID)
	b = strconv.AppendUint(append(b, `,"seq":`...), it.Seq, 10)
	b = appendString(append(b, `,"feed":`...), it.Feed)
	if it.GUID != "" {
		b = appendString(append(b, `,"guid":`...), it.GUID)
	}
	if it.URL != "" {
		b = appendString(append(b, `,"url":`...), it.URL)
	}
	b = appendString(append(b, `,"title":`...), it.Title)
	if it.Content != "" {
		b = appendString(append(b, `,"content":`...), it.Content)
	}
	if it.Summary != "" {
		b = appendString(append(b, `,"summary":`...), it.Summary)
	}
	if len(it.Authors) > 0 {
		b = appendStrings(append(b, `,"authors":`...), it.Authors)
	}
	if len(it.Media) > 0 {
		b = append(b, `,"media":[`...)
		for i, m := range it.Media {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(b, `{"url":`...), m.URL)
			if m.Type != "" {
				b = appendString(append(b, `,"type":`...), m.Type)
			}
			if m.Length != 0 {
				b = strconv.AppendInt(append(b, `,"length":`...), m.Length, 10)
			}
			if m.Image {
				b = append(b, `,"image":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if it.Language != "" {
		b = appendString(append(b, `,"language":`...), it.Language)
	}
	if !it.Published.IsZero() {
		b = appendTime(append(b, `,"published":`...), it.Published)
	}
	if !it.Updated.IsZero() {
		b = appendTime(append(b, `,"updated":`...), it.Updated)
	}
	b = appendTime(append(b, `,"fetched":`...), it.Fetched)
	b = appendStrings(append(b, `,"keys":`...), it.Keys)
	b = appendString(append(b, `,"cluster":`...), it.Cluster)
	if it.DuplicateOf != "" {
		b = appendString(append(b, `,"duplicate_of":`...), it.DuplicateOf)
	}
	if it.Similarity != 0 {
		b = appendFloat(append(b, `,"similarity":`...), it.Similarity)
	}
	if len(it.Rules) > 0 {
		b = appendStrings(append(b, `,"rules":`...), it.Rules)
	}
	if it.Reason != "" {
		b = appendString(append(b, `,"reason":`...), it.Reason)
	}
	if it.Follows != "" {
		b = appendString(append(b, `,"follows":`...), it.Follows)
	}
	if it.TextHash != "" {
		b = appendString(append(b, `,"text_hash":`...), it.TextHash)
	}
	return append(b, '}'), nil
}

// plainTime is a time encoding/json writes without error.
func plainTime(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat is encoding/json's float64 format.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString quotes s as encoding/json does without HTML escaping:
// control characters, quote and backslash escaped; U+2028 and U+2029
// escaped; bytes that are not UTF-8 written as U+FFFD. Everything else is
// copied in runs; two-byte characters (Arabic, most of an item) are
// checked without decoding.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	run := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[run:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			run = i
			continue
		}
		if c >= 0xC2 && c <= 0xDF && i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			i += 2 // a whole two-byte character
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[run:i]...)
			b = append(b, `\ufffd`...)
			i++
			run = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[run:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += n
			run = i
			continue
		}
		i += n
	}
	b = append(b, s[run:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
