package server

import (
	"net/http"
	"strings"
	"testing"
)

// The gzip answer and the plain one are different bytes, so they carry
// different strong ETags (the same one for both was a validator lying
// about the bytes); a reader holding either gets its 304. Atom sources
// carry the id and updated the W3C validator asks for.
func TestETagPerEncodingAndAtomSource(t *testing.T) {
	srv, _ := newServer(t, "")
	ask := func(hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/feeds/all.atom", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// A transport of its own, so that Go does not add gzip itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	plain := ask(nil)
	zipped := ask(map[string]string{"Accept-Encoding": "gzip"})
	pe, ze := plain.Header.Get("ETag"), zipped.Header.Get("ETag")
	if zipped.Header.Get("Content-Encoding") != "gzip" || pe == "" || ze == "" || pe == ze || strings.HasPrefix(pe, "W/") {
		t.Fatalf("plain ETag %q, gzip ETag %q (%s)", pe, ze, zipped.Header.Get("Content-Encoding"))
	}
	for _, c := range []map[string]string{
		{"If-None-Match": pe},
		{"If-None-Match": ze, "Accept-Encoding": "gzip"},
		{"If-None-Match": ze},
		{"If-None-Match": pe, "Accept-Encoding": "gzip"},
	} {
		if r := ask(c); r.StatusCode != http.StatusNotModified {
			t.Errorf("%v: %d, want 304", c, r.StatusCode)
		}
	}
	b := body(t, plain)
	i := strings.Index(b, "<source>")
	if i < 0 {
		t.Fatalf("no source in\n%s", b)
	}
	src := b[i : i+strings.Index(b[i:], "</source>")]
	if !strings.Contains(src, "<id>tag:raqib,2025:source/") || !strings.Contains(src, "<updated>") {
		t.Errorf("Atom source without id or updated: %s", src)
	}
}
