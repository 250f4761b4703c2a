package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCORSAndJSONErrors asks as a browser does: a preflight (OPTIONS with
// Origin and Access-Control-Request-Method) then the request. A page could
// not read the public feeds (no Access-Control-Allow-Origin; the preflight
// got 405), and the API's errors were plain text, a missing rule's listing
// 200 and empty.
func TestCORSAndJSONErrors(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "tok")
	s.Config.Server.CORSOrigins = []string{"https://desk.example.org"}
	do := func(method, path string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	preflight := func(path, origin string) *http.Response {
		return do("OPTIONS", path, map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
	}
	// The public feeds: any origin.
	r := preflight("/feeds/all.atom", "https://anyone.example")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("feed preflight: %d %v", r.StatusCode, r.Header)
	}
	r = do("GET", "/feeds/rules/libya.json", map[string]string{"Origin": "https://anyone.example"})
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("feed: %d %v", r.StatusCode, r.Header)
	}
	// The API: the configured origins only.
	r = preflight("/api/items", "https://desk.example.org")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://desk.example.org" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("API preflight from the desk: %d %v", r.StatusCode, r.Header)
	}
	r = preflight("/api/items", "https://elsewhere.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("API preflight from another origin granted: %v", r.Header)
	}
	r = do("GET", "/api/items", map[string]string{"Origin": "https://desk.example.org", "Authorization": "Bearer tok"})
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://desk.example.org" || !strings.Contains(r.Header.Get("Vary"), "Origin") {
		t.Errorf("API from the desk: %d %v", r.StatusCode, r.Header)
	}
	// Errors are JSON with their status.
	for _, c := range []struct {
		path, token string
		status      int
		want        string
	}{
		{"/api/items?rule=nope", "tok", 404, `no rule named "nope"`},
		{"/api/items?limit=many", "tok", 400, "limit"},
		{"/api/items?q=(ليبيا", "tok", 400, "parenthes"},
		{"/api/items", "", 401, "bearer token"},
		{"/api/nothing-here", "tok", 404, "not found"},
	} {
		hdr := map[string]string{}
		if c.token != "" {
			hdr["Authorization"] = "Bearer " + c.token
		}
		r := do("GET", c.path, hdr)
		var e struct {
			Error string `json:"error"`
		}
		err := json.NewDecoder(r.Body).Decode(&e)
		if r.StatusCode != c.status || err != nil || !strings.Contains(strings.ToLower(e.Error), c.want) || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %q (%v), want %d and an error saying %q", c.path, r.StatusCode, e.Error, err, c.status, c.want)
		}
	}
	if r := do("GET", "/feeds/rules/nope.atom", nil); r.StatusCode != 404 {
		t.Errorf("a missing rule's feed: %d", r.StatusCode)
	}
}
