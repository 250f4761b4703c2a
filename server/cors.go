package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// The public feeds are for any page to read (a desk's dashboard, a
// reader in the browser): every origin may. The API serves the origins
// the configuration names (server.cors_origins), as it may carry what a
// desk does not publish.

func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		api := strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics"
		feeds := strings.HasPrefix(r.URL.Path, "/feeds/")
		origin := r.Header.Get("Origin")
		switch {
		case feeds:
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", "ETag, Last-Modified")
		case api:
			h.Add("Vary", "Origin")
			if origin != "" && s.allowedOrigin(origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", "ETag, Last-Modified")
			}
		}
		if r.Method == http.MethodOptions && (feeds || api) {
			// A preflight: what may be asked, and for how long the answer
			// holds. Without an allowed origin there are no grants, and
			// the browser keeps the page out.
			if h.Get("Access-Control-Allow-Origin") != "" {
				methods := "GET, HEAD, OPTIONS"
				if api {
					methods = "GET, HEAD, POST, OPTIONS"
				}
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", "Authorization, If-None-Match, If-Modified-Since")
				h.Set("Access-Control-Max-Age", "86400")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if api {
			jw := &jsonErrors{ResponseWriter: w}
			next.ServeHTTP(jw, r)
			jw.finish()
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) allowedOrigin(origin string) bool {
	if s.Config == nil {
		return false
	}
	return slices.Contains(s.Config.Server.CORSOrigins, "*") || slices.Contains(s.Config.Server.CORSOrigins, origin)
}

// jsonErrors turns the plain-text errors of the API's handlers (and the
// router's 404 and 405) into {"error": "..."} with the same status, so
// that an API client reads every answer as JSON.
type jsonErrors struct {
	http.ResponseWriter
	intercept bool
	msg       bytes.Buffer
}

func (j *jsonErrors) WriteHeader(code int) {
	h := j.Header()
	if code >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		j.intercept = true
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Del("Content-Length")
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonErrors) Write(p []byte) (int, error) {
	if j.intercept {
		return j.msg.Write(p)
	}
	return j.ResponseWriter.Write(p)
}

func (j *jsonErrors) finish() {
	if j.intercept {
		b, _ := json.Marshal(map[string]string{"error": strings.TrimSpace(j.msg.String())})
		j.ResponseWriter.Write(append(b, '\n'))
	}
}

// Unwrap lets http.ResponseController reach the connection (write
// deadlines, flushes).
func (j *jsonErrors) Unwrap() http.ResponseWriter { return j.ResponseWriter }
