package boltstore

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// stdItemJSON is what encoding/json writes for it, the format appendItemJSON
// must keep.
func stdItemJSON(it *storage.Item) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(it); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func checkItemJSON(t *testing.T, it *storage.Item) {
	t.Helper()
	want, wantErr := stdItemJSON(it)
	got, err := appendItemJSON(nil, it)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, encoding/json's %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if err == nil {
		checkDecode(t, got)
	}
}

// checkDecode holds decodeJSON to encoding/json: what the one reads, the
// other reads the same.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var want storage.Item
	if err := json.Unmarshal(data, &want); err != nil {
		return // not JSON encoding/json reads: nothing stored is
	}
	got, err := decodeJSON[storage.Item](data)
	if err != nil {
		t.Fatalf("decodeJSON(%q): %v; encoding/json reads it", data, err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("decodeJSON(%q)\n = %#v\nencoding/json: %#v", data, *got, want)
	}
}

// Any bytes that encoding/json reads as an item, decodeJSON reads the same.
func FuzzDecodeJSON(f *testing.F) {
	for _, it := range []*storage.Item{{}, {ID: "a", Title: "حفتر\u2028", Similarity: 0.5, Keys: []string{"k"}, Published: time.Unix(1, 2).UTC()}} {
		raw, _ := appendItemJSON(nil, it)
		f.Add(raw)
	}
	f.Add([]byte(`{"id":"x\ud83d\ude42\u003c","seq":18446744073709551615,"similarity":1e-3,"rules":null,"extra":[1,{"a":2}],"title":"\ud800"}`))
	f.Add([]byte(`{"published":"2025-05-11T09:30:00+03:00","authors":["a",""],"keys":[]}`))
	f.Add([]byte("{\"TITLE\":\"\xff\xfe\",\"Id\":\"a\",\"id\":\"b\",\"similarity\":-0,\"seq\":0}"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func TestItemJSONIsEncodingJSONs(t *testing.T) {
	when := time.Date(2025, 5, 11, 9, 30, 0, 123456789, time.FixedZone("AST", 3*3600))
	for _, it := range []*storage.Item{
		{},
		{ID: "a", Seq: 7, Feed: "f", Title: "t", Fetched: when, Keys: []string{}},
		{
			ID: "id-1", Seq: 1 << 40, Feed: "okaz", GUID: "g\"1\\", URL: "https://x/?a=1&b=<2>",
			Title: "حفتر يلتقي بوتين في الكرملين", Content: "<p>نص\u00a0عربي\tمع\nأسطر\r\u2028\u2029 \x01\x1f\x7f</p>",
			Summary: "bad \xff\xfe bytes \xd8 and \xe2\x80 cut, émoji 🙂, ﻻ", Authors: []string{"أ", ""},
			Language: "ar", Published: when, Updated: when.Add(time.Hour).UTC(), Fetched: when.Add(2 * time.Hour),
			Keys: []string{"guid:x", "url:y"}, Cluster: "c", DuplicateOf: "d", Similarity: 0.934,
			Rules: []string{"libya", "كرملين"}, TextHash: "abc",
			Media: []storage.Media{{URL: "https://x/a.jpg?w=<1>&h=2", Type: "image/jpeg", Length: 12345, Image: true}, {URL: "https://x/b.mp3"}, {URL: "u\u2028", Length: -1}},
		},
		{Media: []storage.Media{}},
		{Similarity: 1e-7}, {Similarity: 1e22}, {Similarity: -0.5}, {Similarity: 1},
		{Similarity: math.NaN()}, {Similarity: math.Inf(1)},
		{Published: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Fetched: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		checkItemJSON(t, it)
	}
}

func FuzzItemJSON(f *testing.F) {
	f.Add("حفتر", "<p>\"x\"\\</p>\n", "\xff\u2028", 0.5, int64(0))
	f.Add("", "", "", 1e-9, int64(1<<62))
	f.Fuzz(func(t *testing.T, title, content, summary string, sim float64, nanos int64) {
		it := &storage.Item{
			ID: title, Title: title, Content: content, Summary: summary, Feed: summary,
			Authors: []string{content}, Keys: []string{title, summary}, Rules: []string{summary},
			Media:      []storage.Media{{URL: content, Type: title, Length: nanos, Image: nanos%2 == 0}},
			Similarity: sim, Published: time.Unix(0, nanos).UTC(), Fetched: time.Unix(0, nanos).In(time.FixedZone("x", 5400)),
		}
		checkItemJSON(t, it)
	})
}
