package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/textnorm"
)

//go:embed web
var webFiles embed.FS

// The pages run no script and load nothing from elsewhere: a publisher's
// markup that slipped through could not run, and a desk offline loses
// nothing.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const (
	csrfCookie    = "raqib_csrf"
	sessionCookie = "raqib_session"
	langCookie    = "raqib_lang"
)

// webState is what the pages parse once.
type webState struct {
	once  sync.Once
	pages map[string]*template.Template
	err   error
}

func (s *Server) webRoutes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFiles, "web")
	mux.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.page(s.storiesPage))
	mux.HandleFunc("GET /stories/{id}", s.page(s.storyPage))
	mux.HandleFunc("GET /alerts", s.page(s.alertsPage))
	mux.HandleFunc("GET /rules", s.page(s.rulesPage))
	mux.HandleFunc("GET /feeds", s.page(s.feedsPage))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.action(s.logout))
	mux.HandleFunc("POST /settings/lang", s.action(s.setLang))
	mux.HandleFunc("POST /alerts/retry", s.action(s.retryAlert))
	mux.HandleFunc("POST /stories/{id}/not-duplicate", s.action(s.notDuplicateAction))
}

func (s *Server) templates() (map[string]*template.Template, error) {
	s.web.once.Do(func() {
		funcs := template.FuncMap{
			"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
			"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
			"text": itemText,
		}
		s.web.pages = map[string]*template.Template{}
		for _, name := range []string{"stories", "story", "alerts", "rules", "feeds", "login"} {
			t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFiles, "web/layout.html", "web/"+name+".html")
			if err != nil {
				s.web.err = fmt.Errorf("page %s: %w", name, err)
				return
			}
			s.web.pages[name] = t
		}
	})
	return s.web.pages, s.web.err
}

// itemText is an item's text for the page: its publisher's HTML reduced
// to text, which the template then escapes, and shortened.
func itemText(it *storage.Item) string {
	t := cmp.Or(it.Content, it.Summary)
	if textnorm.LooksLikeHTML(t) {
		t = textnorm.HTMLToText(t)
	}
	if r := []rune(t); len(r) > 1200 {
		t = string(r[:1200]) + " …"
	}
	return t
}

// view is what every page's layout reads.
type view struct {
	Page, Title, Path, CSRF string
	L                       lang
	// Code is the page's HTTP status, when not 200 (a query the page
	// could not read).
	Code int
	// SignOut: the pages are behind a sign-in, so they offer to end it.
	SignOut bool
}

func (v view) status() int { return cmp.Or(v.Code, http.StatusOK) }

type pageFunc func(w http.ResponseWriter, r *http.Request, v view) (name string, data any, err error)

// page serves a page: the session when the server has a token, the
// page's headers, its language, and its template.
func (s *Server) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(w, r) {
			return
		}
		if !s.signedIn(r) {
			http.Redirect(w, r, "/login?back="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		// A page reads a bounded part of the store, but a filter that
		// matches little can still read far: it ends with the query
		// timeout, as the API's text queries do.
		ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout())
		defer cancel()
		r = r.WithContext(ctx)
		v := view{Path: r.URL.RequestURI(), CSRF: s.csrfToken(w, r), L: pickLang(r), SignOut: s.Config.Server.Token != ""}
		name, data, err := fn(w, r, v)
		if err != nil {
			var he httpError
			switch {
			case errors.As(err, &he):
			case errors.Is(err, context.DeadlineExceeded):
				he = httpError{http.StatusServiceUnavailable, "the page took too long to read: narrow it (a rule, a feed, a shorter time)"}
			default:
				s.fail(w, err)
				return
			}
			s.pageHeaders(w)
			http.Error(w, he.msg, he.code)
			return
		}
		code := http.StatusOK
		if st, ok := data.(interface{ status() int }); ok {
			code = st.status()
		}
		s.render(w, code, name, data)
	}
}

type httpError struct {
	code int
	msg  string
}

func (e httpError) Error() string { return e.msg }

func (s *Server) pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with the page's own forms, which action refuses;
	// another site still learns nothing of the desk's addresses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// render writes a page with its status: the page's headers go before the
// status line, or they would not be sent at all.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	pages, err := s.templates()
	if err != nil {
		s.fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := pages[name].Execute(&b, data); err != nil {
		s.fail(w, fmt.Errorf("render %s: %w", name, err))
		return
	}
	s.pageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// csrfToken is the form token of the browser's CSRF cookie, a random
// nonce: every form carries back the nonce signed with the server's key
// (formToken). Another site's page can make the browser post, but cannot
// read the cookie; and one that can set cookies for this site (a sibling
// host) cannot sign a nonce it chose.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return s.formToken(c.Value)
	}
	b := make([]byte, 16)
	rand.Read(b)
	nonce := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: nonce, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r)})
	return s.formToken(nonce)
}

// formToken signs a CSRF nonce: with a key made from server.token when one
// is set, so that every daemon of a fleet signs alike, else with this
// process's own.
func (s *Server) formToken(nonce string) string {
	key := processKey[:]
	if tok := s.Config.Server.Token; tok != "" {
		k := sha256.Sum256([]byte("raqib form key " + tok))
		key = k[:]
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}

var processKey = func() (k [32]byte) {
	rand.Read(k[:])
	return k
}()

// csrfOK reports whether a form carries back the signed nonce of the
// browser's cookie.
func (s *Server) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	form := r.PostFormValue("csrf")
	return err == nil && len(c.Value) == 32 && form != "" && sameSecret(s.formToken(c.Value), form)
}

// secureCookies: over TLS, or behind a proxy that serves the site over
// https (server.base_url says so), the cookies are not sent in the clear.
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(s.Config.Server.BaseURL), "https://")
}

// sameSecret compares two secrets in a time that tells nothing of either,
// their lengths included.
func sameSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// action guards a page's POST: the session, the CSRF token, and a
// request from the page's own site.
func (s *Server) action(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(w, r) || !s.localWithoutToken(w, r) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !s.csrfOK(r) {
			http.Error(w, "the form is out of date or from another site: reload the page and try again", http.StatusForbidden)
			return
		}
		if !fromThisSite(w, r) {
			return
		}
		if !s.signedIn(r) {
			http.Error(w, "sign in first (/login)", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// sessionAge is how long a sign-in lasts.
const sessionAge = 30 * 24 * time.Hour

// session is the cookie value of a sign-in at a time: the time, signed
// with the token, so that a changed token ends every session, a session
// ends after sessionAge whatever the browser keeps, every daemon of a
// fleet reads it alike, and the cookie is not the token itself.
func (s *Server) session(at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(s.Config.Server.Token))
	m.Write([]byte("raqib web session " + ts))
	return ts + "." + hex.EncodeToString(m.Sum(nil))
}

func (s *Server) signedIn(r *http.Request) bool {
	if s.Config.Server.Token == "" {
		return true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	ts, _, _ := strings.Cut(c.Value, ".")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	at := time.Unix(sec, 0)
	if age := time.Since(at); age > sessionAge || age < -time.Minute {
		return false
	}
	return sameSecret(c.Value, s.session(at))
}

// back is where to go after a form: a path on this site only. Browsers
// read a backslash as a slash and drop tabs and line breaks, and the
// redirect cleans "/./" away: any of them could turn a path into another
// site's address ("/\evil.example", "/\t/evil.example").
func back(v string) string {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.ContainsAny(v, "\\\x00\t\n\r") {
		return "/"
	}
	return v
}

type loginView struct {
	view
	Back, Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if !s.hostAllowed(w, r) {
		return
	}
	v := view{Page: "login", Path: r.URL.RequestURI(), CSRF: s.csrfToken(w, r), L: pickLang(r)}
	v.Title = v.L.T("Sign in")
	s.render(w, http.StatusOK, "login", loginView{view: v, Back: back(r.URL.Query().Get("back"))})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.hostAllowed(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10) // read before anyone signed in
	if !s.csrfOK(r) {
		http.Error(w, "the form is out of date: reload the page and try again", http.StatusForbidden)
		return
	}
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	if wait := s.signIns.wait(client, time.Now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		http.Error(w, "too many wrong tokens from this address: try again later", http.StatusTooManyRequests)
		return
	}
	tok := s.Config.Server.Token
	if tok == "" || !sameSecret(strings.TrimSpace(r.PostFormValue("token")), tok) {
		s.signIns.failed(client, time.Now())
		v := view{Page: "login", Path: "/login", CSRF: r.PostFormValue("csrf"), L: pickLang(r)}
		v.Title = v.L.T("Sign in")
		s.render(w, http.StatusUnauthorized, "login", loginView{view: v, Back: back(r.PostFormValue("back")), Error: v.L.T("That is not the server's token.")})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.session(time.Now()), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r), MaxAge: int(sessionAge.Seconds())})
	http.Redirect(w, r, back(r.PostFormValue("back")), http.StatusSeeOther)
}

// logout ends this browser's session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r), MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	l := "ar"
	if r.PostFormValue("lang") == "en" {
		l = "en"
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(w, r, back(r.PostFormValue("back")), http.StatusSeeOther)
}

// retryAlert sends a failed alert again: pending, its attempts anew, due
// now; the dispatcher's next round (WakeAlerts, when set, starts one)
// takes it under its own id.
func (s *Server) retryAlert(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	a, err := s.Store.Alert(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		http.Error(w, "no alert "+id, http.StatusNotFound)
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	// Only a failed alert: a pending one is on its way (a round may be
	// sending it now), and a delivered one went. A retried digest alert
	// leaves its old message: one is made anew of it.
	if a.State == storage.AlertFailed {
		a.State, a.Attempts, a.NextTry, a.Batch = storage.AlertPending, 0, time.Now(), ""
		if err := s.Store.UpdateAlert(r.Context(), a); err != nil {
			s.fail(w, err)
			return
		}
		if s.WakeAlerts != nil {
			s.WakeAlerts()
		}
	}
	http.Redirect(w, r, "/alerts?done=retry", http.StatusSeeOther)
}

func (s *Server) notDuplicateAction(w http.ResponseWriter, r *http.Request) {
	if s.NotDuplicate == nil {
		http.Error(w, "this server cannot split stories (it does not run the pipeline)", http.StatusServiceUnavailable)
		return
	}
	it, err := s.NotDuplicate(r.Context(), r.PostFormValue("item"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		http.Error(w, "no item "+r.PostFormValue("item"), http.StatusNotFound)
		return
	case errors.Is(err, pipeline.ErrNotDuplicate):
		// A second press (or another desk's) found it split already.
	case err != nil:
		s.fail(w, err)
		return
	}
	http.Redirect(w, r, "/stories/"+url.PathEscape(cmp.Or(it.Cluster, r.PathValue("id")))+"?done=split", http.StatusSeeOther)
}

// signInLimiter slows a guess at the token: after maxWrongSignIns wrong
// tokens from one address within wrongSignInWindow, that address waits out
// the rest of the window. It forgets everything when it holds
// signInAddresses addresses, so that a flood of them costs bounded memory.
type signInLimiter struct {
	mu    sync.Mutex
	wrong map[string][]time.Time
}

const (
	maxWrongSignIns   = 10
	wrongSignInWindow = 10 * time.Minute
	signInAddresses   = 10000
)

// wait is how long addr must wait before it may try again (0: now).
func (l *signInLimiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(addr, now)
	if len(ts) < maxWrongSignIns {
		return 0
	}
	return ts[0].Add(wrongSignInWindow).Sub(now)
}

// failed counts a wrong token from addr.
func (l *signInLimiter) failed(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrong == nil || len(l.wrong) >= signInAddresses {
		l.wrong = map[string][]time.Time{}
	}
	l.wrong[addr] = append(l.recent(addr, now), now)
}

// recent is addr's wrong tokens within the window. Called with l.mu held.
func (l *signInLimiter) recent(addr string, now time.Time) []time.Time {
	ts := l.wrong[addr]
	for len(ts) > 0 && now.Sub(ts[0]) >= wrongSignInWindow {
		ts = ts[1:]
	}
	if len(ts) == 0 {
		delete(l.wrong, addr)
	} else {
		l.wrong[addr] = ts
	}
	return ts
}
