package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/klauspost/compress/flate"

	"github.com/raqib/raqib/storage"

	bolt "go.etcd.io/bbolt"
)

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func timeKey(t time.Time, seq uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano())+(1<<63)) // order negative times too
	binary.BigEndian.PutUint64(b[8:], seq)
	return b
}

// compressed marks a value stored deflated: items hold whole articles, and
// Arabic text deflates to about a third. The deflate is klauspost/compress's
// (the same format as compress/flate, which wrote older files): at its
// fastest level it compresses Arabic text 2.6 times as fast as the standard
// library, a little smaller, and its writers and readers are pooled because
// a new deflate writer allocates and clears about a megabyte.
const compressed = 0x01

// inflate returns the decompressed form of a stored value.
func inflate(v []byte) ([]byte, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(v), nil); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, 4*len(v)))
	if _, err := out.ReadFrom(r); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func getJSON[T any](b *bolt.Bucket, key []byte) (*T, error) {
	v := b.Get(key)
	if v == nil {
		return nil, storage.ErrNotFound
	}
	t, err := decodeJSON[T](v)
	if err != nil {
		return nil, fmt.Errorf("%w (key %q)", err, key)
	}
	return t, nil
}

// decodeJSON reads a stored value, deflated or not. It decodes with
// goccy/go-json, which reads what encoding/json reads (FuzzDecodeJSON holds
// the two to the same result): encoding/json checks an Arabic article's
// strings a character at a time, about 100 µs for a 9 KB item against 21,
// most of an export's or a text query's time.
func decodeJSON[T any](v []byte) (*T, error) {
	if len(v) > 0 && v[0] == compressed {
		raw, err := inflate(v[1:])
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		v = raw
	}
	var t T
	if err := fastjson.Unmarshal(v, &t); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &t, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // items hold HTML: escaping it costs time and space
	if err := enc.Encode(v); err != nil {
		return err
	}
	return b.Put(key, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// putItem stores an item's JSON, deflated when large (JSON never starts
// with 0x01). bbolt keeps the value slice until the transaction commits,
// so the stored bytes are a fresh copy; only the JSON buffer and the
// writer are reused.
func putItem(b *bolt.Bucket, key []byte, it *storage.Item) error {
	js := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(js)
	raw, err := appendItemJSON((*js)[:0], it)
	if err != nil {
		return err
	}
	*js = raw // keeps the grown buffer for the next item
	if len(raw) < 512 {
		return b.Put(key, bytes.Clone(raw))
	}
	out := bytes.NewBuffer(make([]byte, 0, 1+len(raw)/2))
	out.WriteByte(compressed)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(out)
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return b.Put(key, out.Bytes())
}

func printValue(date time.Time, data []byte) []byte {
	v := make([]byte, 8+len(data))
	if !date.IsZero() {
		binary.BigEndian.PutUint64(v, uint64(date.UnixNano()))
	}
	copy(v[8:], data)
	return v
}

// sampleValue is an item's entry in the samples bucket: the id rides
// along because the key is the sequence number.
func sampleValue(date time.Time, id string, samples []byte) []byte {
	v := make([]byte, 8, 8+binary.MaxVarintLen64+len(id)+len(samples))
	if !date.IsZero() {
		binary.BigEndian.PutUint64(v, uint64(date.UnixNano()))
	}
	v = binary.AppendUvarint(v, uint64(len(id)))
	v = append(v, id...)
	return append(v, samples...)
}

// isSeqKey tells an item's sequence-number key (8 bytes, the first 0
// below 2^56) from a seed's "seed:" id.
func isSeqKey(k []byte) bool { return len(k) == 8 && k[0] == 0 }

// seqOf is the items-bucket key in an ids value.
func seqOf(v []byte) []byte {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}
