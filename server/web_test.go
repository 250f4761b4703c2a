package server

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/config"
	"github.com/raqib/raqib/storage"
)

// browser is a client that keeps cookies, as a browser does, and does not
// follow redirects, so that a test sees them.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func open(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	r, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode, body(t, r), r.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func open2(t *testing.T, c *http.Client, u string) (int, string) {
	code, b, _ := open(t, c, u)
	return code, b
}

func submit(t *testing.T, c *http.Client, page, action string, form url.Values) *http.Response {
	t.Helper()
	_, b, _ := open(t, c, page)
	m := csrfField.FindStringSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no form token", page)
	}
	form.Set("csrf", m[1])
	r, err := c.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

func TestPages(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "")
	c := browser(t)
	code, b, h := open(t, c, srv.URL+"/")
	if code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(b, `lang="ar" dir="rtl"`) {
		t.Fatalf("stories page: %d %q\n%s", code, h.Get("Content-Security-Policy"), b)
	}
	if !strings.Contains(b, "مجلس الأمن يناقش ليبيا") || !strings.Contains(b, "Oil prices rise") || !strings.Contains(b, `href="/stories/1"`) {
		t.Errorf("the stories page lacks a story:\n%s", b)
	}
	if n := strings.Count(b, `<span class="rule" dir="auto">libya</span>`); n != 1 {
		t.Errorf("the libya story should show its rule once, on its row: %d times\n%s", n, b)
	}
	if _, b, _ := open(t, c, srv.URL+"/?rule=libya"); !strings.Contains(b, `href="/stories/1"`) || strings.Contains(b, "Oil prices rise") {
		t.Errorf("filtered by rule:\n%s", b)
	}
	s.Config.Feeds[1].Tags = []string{"gulf"}
	if _, b, _ := open(t, c, srv.URL+"/?tag=gulf"); !strings.Contains(b, `href="/stories/1"`) || strings.Contains(b, "Oil prices rise") || !strings.Contains(b, `<option selected>gulf</option>`) {
		t.Errorf("filtered by tag:\n%s", b)
	}
	code, b, _ = open(t, c, srv.URL+"/stories/1")
	if code != 200 || !strings.Contains(b, `<bdi class="outlet">a</bdi>`) || !strings.Contains(b, `<bdi class="outlet">b</bdi>`) || !strings.Contains(b, "/stories/1/not-duplicate") {
		t.Errorf("a story's page: %d\n%s", code, b)
	}
	if code, _, _ := open(t, c, srv.URL+"/stories/nope"); code != 404 {
		t.Errorf("an unknown story: %d", code)
	}
	_, b, _ = open(t, c, srv.URL+"/rules?q="+url.QueryEscape("طرابلس"))
	if !strings.Contains(b, "<mark>طرابلس</mark>") {
		t.Errorf("the try box marks no match:\n%s", b)
	}
	code, b, _ = open(t, c, srv.URL+"/rules?q="+url.QueryEscape("ليبيا AND ("))
	if code != 400 || !strings.Contains(b, "position") {
		t.Errorf("a bad query: %d\n%s", code, b)
	}
	// English, from the page's own button.
	if r := submit(t, c, srv.URL+"/feeds", srv.URL+"/settings/lang", url.Values{"lang": {"en"}, "back": {"/feeds"}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/feeds" {
		t.Errorf("switching language: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if _, b, _ := open(t, c, srv.URL+"/feeds"); !strings.Contains(b, `lang="en" dir="ltr"`) || !strings.Contains(b, "last success") {
		t.Errorf("the English interface:\n%s", b)
	}

	// A failing feed comes first.
	ctx := context.Background()
	if err := s.Store.PutFeed(ctx, &storage.FeedState{Name: "b", URL: "https://b.example/rss", LastError: "HTTP 500", LastErrorAt: time.Now(), Failures: 3, LastSuccess: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutFeed(ctx, &storage.FeedState{Name: "a", URL: "https://a.example/rss", LastSuccess: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, b, _ = open(t, c, srv.URL+"/feeds")
	// The sparkline ends today: a brought 2 items, b 1.
	if !strings.Contains(b, `aria-label="0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2"`) || !strings.Contains(b, `aria-label="0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1"`) {
		t.Errorf("the feeds' sparklines:\n%s", b)
	}
	if ia, ib := strings.Index(b, "<bdi>a</bdi>"), strings.Index(b, "<bdi>b</bdi>"); ib < 0 || ia < ib || !strings.Contains(b, "HTTP 500") {
		t.Errorf("the failing feed is not first (a at %d, b at %d):\n%s", ia, ib, b)
	}

	// A page at a time, and by health.
	func() {
		defer func(n int) { feedsShown = n }(feedsShown)
		feedsShown = 1
		_, b := open2(t, c, srv.URL+"/feeds")
		if !strings.Contains(b, "<bdi>b</bdi>") || strings.Contains(b, "<bdi>a</bdi>") || !strings.Contains(b, `href="/feeds?page=2" rel="next"`) || !strings.Contains(b, "failing (1)") || !strings.Contains(b, "healthy (1)") {
			t.Errorf("the first page of feeds, one a page:\n%s", b)
		}
		if _, b := open2(t, c, srv.URL+"/feeds?page=2"); !strings.Contains(b, "<bdi>a</bdi>") || strings.Contains(b, "<bdi>b</bdi>") || !strings.Contains(b, `href="/feeds" rel="prev"`) || strings.Contains(b, `rel="next"`) {
			t.Errorf("the second page of feeds:\n%s", b)
		}
		if _, b := open2(t, c, srv.URL+"/feeds?health=healthy"); !strings.Contains(b, "<bdi>a</bdi>") || strings.Contains(b, "<bdi>b</bdi>") || strings.Contains(b, `rel="next"`) {
			t.Errorf("the healthy feeds:\n%s", b)
		}
		if code, _ := open2(t, c, srv.URL+"/feeds?health=sick"); code != http.StatusBadRequest {
			t.Errorf("an unknown health: %d", code)
		}
	}()

	// A failed alert is retried from the page.
	as, err := s.Store.Alerts(ctx, storage.AlertPending)
	if err != nil || len(as) == 0 {
		t.Fatalf("alerts: %v %v", as, err)
	}
	a := as[0]
	// A pending alert is on its way: "retry" leaves it as it is.
	a.Attempts = 3
	if err := s.Store.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if r := submit(t, c, srv.URL+"/alerts", srv.URL+"/alerts/retry", url.Values{"id": {a.ID}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("retry of a pending alert: %d", r.StatusCode)
	}
	if got, _ := s.Store.Alert(ctx, a.ID); got.State != storage.AlertPending || got.Attempts != 3 {
		t.Errorf("a pending alert retried: %+v", got)
	}
	a.State, a.Attempts, a.LastError, a.Batch = storage.AlertFailed, 5, "HTTP 502 from the webhook", "dg_old"
	if err := s.Store.UpdateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, b, _ := open(t, c, srv.URL+"/alerts?state=failed"); !strings.Contains(b, "HTTP 502 from the webhook") || !strings.Contains(b, "Retry") {
		t.Errorf("the failed alert:\n%s", b)
	}
	r, err := c.PostForm(srv.URL+"/alerts/retry", url.Values{"id": {a.ID}, "csrf": {"0123456789abcdef0123456789abcdef"}})
	if err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("a retry with a wrong form token: %v %v", r.StatusCode, err)
	}
	if r := submit(t, c, srv.URL+"/alerts", srv.URL+"/alerts/retry", url.Values{"id": {a.ID}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("retry: %d", r.StatusCode)
	}
	if got, _ := s.Store.Alert(ctx, a.ID); got.State != storage.AlertPending || got.Attempts != 0 || got.Batch != "" {
		t.Errorf("after the retry (a new message, not the failed digest's): %+v", got)
	}

	// A digest waiting: its stories counted by rule, channel and due time.
	due := time.Now().Add(3 * time.Hour).Truncate(time.Minute)
	for i, story := range []string{"1", "2"} {
		d := &storage.Alert{ID: "digest-" + story, Rule: "libya", Channel: "morning", ItemID: story, Cluster: story, State: storage.AlertPending, Created: time.Now(), Digest: due}
		if i == 1 {
			d.Rule = "oil"
		}
		if err := s.Store.UpdateAlert(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	_, b, _ = open(t, c, srv.URL+"/alerts")
	if n := strings.Count(b, `<tr class="digest">`); n != 2 || !strings.Contains(b, `<td dir="auto">morning</td><td>1</td><td><time datetime="`+due.UTC().Format(time.RFC3339)) {
		t.Errorf("the digests waiting (%d rows):\n%s", n, b)
	}

	// Not a duplicate, from the story's page.
	if r := submit(t, c, srv.URL+"/stories/1", srv.URL+"/stories/1/not-duplicate", url.Values{"item": {"3"}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/stories/3?done=split" {
		t.Errorf("not a duplicate: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if c, _ := s.Store.Cluster(ctx, "3"); c == nil || c.Size != 1 {
		t.Errorf("the split story: %+v", c)
	}
}

// A search reads a bounded number of items a page and links to where it
// stopped, so that a query matching little does not read the history.
func TestPagesSearchFurtherBack(t *testing.T) {
	defer func(n int) { storiesSearched = n }(storiesSearched)
	storiesSearched = 1
	srv, _, _ := newServerAndHandler(t, "")
	c := browser(t)
	u := srv.URL + "/?q=" + url.QueryEscape("ليبيا")
	var pages []string
	for len(pages) < 5 && u != "" {
		code, b, _ := open(t, c, u)
		if code != 200 {
			t.Fatalf("%s: %d\n%s", u, code, b)
		}
		pages = append(pages, b)
		u = ""
		if i := strings.Index(b, `<a href="/?`); i >= 0 && strings.Contains(b, `rel="next"`) {
			href := b[i+len(`<a href="`):]
			u = srv.URL + html.UnescapeString(href[:strings.IndexByte(href, '"')])
		}
	}
	// Newest first, one item a page, copies left out: the oil story's
	// item (no match), item 1 (story 1's report), then the end.
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3", len(pages))
	}
	for i, want := range []bool{false, true, false} {
		if got := strings.Contains(pages[i], `href="/stories/1"`); got != want {
			t.Errorf("page %d shows story 1: %v, want %v\n%s", i+1, got, want, pages[i])
		}
		if strings.Contains(pages[i], "Oil prices rise") {
			t.Errorf("page %d shows the story that does not match:\n%s", i+1, pages[i])
		}
	}
	if code, _, _ := open(t, c, srv.URL+"/?q=x&before=nonsense"); code != http.StatusBadRequest {
		t.Errorf("a made-up place to go on from: %d", code)
	}
}

// A publisher's markup reaches the page as text: no element of it.
func TestPagesShowPublishersMarkupAsText(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "")
	it := &storage.Item{ID: "x1", Feed: "a", Title: `<img src=x onerror=alert(1)>عنوان`, Content: `<p>نص</p><script>alert("raqib")</script><a href="javascript:alert(2)">رابط</a>`,
		URL: "javascript:alert(3)", Fetched: time.Now(), Keys: []string{"url:x1"}, Cluster: "x1"}
	if _, err := s.Store.Commit(context.Background(), &storage.Batch{Feed: &storage.FeedState{Name: "a"}, Items: []*storage.Item{it}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/stories/x1"} {
		_, b, _ := open(t, browser(t), srv.URL+path)
		if !strings.Contains(b, "عنوان") || strings.Contains(b, "<script") || strings.Contains(b, "<img") || strings.Contains(b, "javascript:") {
			t.Errorf("%s lets the publisher's markup through:\n%s", path, b)
		}
	}
}

// With server.token the pages ask for it once and keep a session cookie.
func TestPagesSignIn(t *testing.T) {
	srv, _, _ := newServerAndHandler(t, "t0ken")
	c := browser(t)
	r, err := c.Get(srv.URL + "/alerts")
	if err != nil || r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("a page without a session: %v %v", r.StatusCode, err)
	}
	if r := submit(t, c, srv.URL+"/login?back=/alerts", srv.URL+"/login", url.Values{"token": {"wrong"}, "back": {"/alerts"}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d", r.StatusCode)
	}
	r = submit(t, c, srv.URL+"/login?back=/alerts", srv.URL+"/login", url.Values{"token": {"t0ken"}, "back": {"//evil.example/"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("sign in: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Value == "t0ken" {
		t.Errorf("the session cookie: %+v", session)
	}
	if code, b, _ := open(t, c, srv.URL+"/alerts"); code != 200 || !strings.Contains(b, "libya") {
		t.Errorf("a page with a session: %d\n%s", code, b)
	}
}

// Where a form may send the browser afterwards: this site's paths only,
// however a browser would read the others.
func TestBackStaysOnThisSite(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/alerts", "/alerts"},
		{"/?rule=libya&q=%D9%84", "/?rule=libya&q=%D9%84"},
		{"", "/"},
		{"alerts", "/"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"/./\\evil.example/", "/"},
		{"/../\\evil.example/", "/"},
		{"/\t/evil.example/", "/"},
		{"/\n/evil.example/", "/"},
		{"/\x00/evil.example/", "/"},
	} {
		if got := back(c.in); got != c.want {
			t.Errorf("back(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Without a token, the desk answers at an IP address or localhost only: a
// site that points its own name at this machine (DNS rebinding) reads
// nothing and takes no action, and another machine takes no action.
func TestPagesWithoutTokenRefuseOtherNames(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "")
	c := browser(t)
	u, _ := url.Parse(srv.URL)
	get := func(host, path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Host = host
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode, body(t, r)
	}
	for _, host := range []string{u.Host, "localhost:" + u.Port(), "[::1]:" + u.Port()} {
		if code, _ := get(host, "/"); code != http.StatusOK {
			t.Errorf("Host %s: %d, want 200", host, code)
		}
	}
	for _, path := range []string{"/", "/stories/1", "/alerts", "/login", "/api/items"} {
		code, b := get("rebind.attacker.example:"+u.Port(), path)
		if code != http.StatusForbidden || !strings.Contains(b, "server.token") || strings.Contains(b, "libya") {
			t.Errorf("%s at a rebound name: %d\n%s", path, code, b)
		}
	}
	// The feeds stay open to readers by any name.
	if code, _ := get("monitor.example:"+u.Port(), "/feeds/all.json"); code != http.StatusOK {
		t.Errorf("the feed at a name: %d", code)
	}

	// A form posted from another machine, with its token and all.
	_, page, _ := open(t, c, srv.URL+"/stories/1")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no form token")
	}
	req := httptest.NewRequest(http.MethodPost, srv.URL+"/stories/1/not-duplicate", strings.NewReader(url.Values{"item": {"3"}, "csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	req.RemoteAddr = "192.0.2.7:4000"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Errorf("an action from another machine without a token: %d %s", w.Code, w.Body.String())
	}
	if c, _ := s.Store.Cluster(context.Background(), "3"); c != nil {
		t.Errorf("the action from afar split the story: %+v", c)
	}
}

// The actions' forms: a post through another site's redirect (Origin
// null) is refused; pressing "not a duplicate" twice is not an error.
func TestPageActionsOriginAndRepeat(t *testing.T) {
	srv, _, _ := newServerAndHandler(t, "")
	c := browser(t)
	_, page, _ := open(t, c, srv.URL+"/stories/1")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no form token")
	}
	post := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/stories/1/not-duplicate", strings.NewReader(url.Values{"item": {"3"}, "csrf": {m[1]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := post("null"); r.StatusCode != http.StatusForbidden {
		t.Errorf("Origin null: %d", r.StatusCode)
	}
	for i := 1; i <= 2; i++ {
		if r := post(srv.URL); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/stories/3?done=split" {
			t.Errorf("press %d: %d %s", i, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

// A page that answers with an error status still carries the page's
// headers, as sent (a recorder's Result is the header at WriteHeader).
func TestPageHeadersOnErrorStatus(t *testing.T) {
	_, _, s := newServerAndHandler(t, "t0ken")
	h := s.Handler()
	do := func(req *http.Request) *http.Response {
		req.RemoteAddr = "127.0.0.1:4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}
	session := &http.Cookie{Name: sessionCookie, Value: s.session(time.Now())}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/rules?q=(", nil)
	req.AddCookie(session)
	rules := do(req)
	const nonce = "0123456789abcdef0123456789abcdef"
	req = httptest.NewRequest(http.MethodPost, "http://127.0.0.1/login", strings.NewReader("token=wrong&csrf="+s.formToken(nonce)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: nonce})
	login := do(req)
	for name, r := range map[string]*http.Response{"a rule that does not parse": rules, "a wrong token": login} {
		want := map[string]int{"a rule that does not parse": http.StatusBadRequest, "a wrong token": http.StatusUnauthorized}[name]
		if r.StatusCode != want || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
			r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "same-origin" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d, headers %v", name, r.StatusCode, r.Header)
		}
	}
}

// The sign-in form reads a bounded body, before anyone has signed in.
func TestLoginReadsABoundedBody(t *testing.T) {
	_, _, s := newServerAndHandler(t, "t0ken")
	read := &countingReader{r: strings.NewReader("token=" + strings.Repeat("x", 10<<20))}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/login", read)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || read.n > 1<<20 {
		t.Errorf("a 10 MB sign-in: %d, %d bytes read", w.Code, read.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A page number past the last shows the last page.
func TestFeedsPagePastTheLast(t *testing.T) {
	srv, _, _ := newServerAndHandler(t, "")
	c := browser(t)
	for _, p := range []string{"18446744073709553", "9223372036854775807", "-9223372036854775808", "3"} {
		if code, b := open2(t, c, srv.URL+"/feeds?page="+p); code != http.StatusOK || !strings.Contains(b, "<bdi>a</bdi>") {
			t.Errorf("page %s: %d\n%s", p, code, b)
		}
	}
}

// A page's reading ends with the query timeout, and says so.
func TestPageDeadline(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "")
	s.QueryTimeout = time.Nanosecond
	code, b := open2(t, browser(t), srv.URL+"/?q=libya")
	if code != http.StatusServiceUnavailable || !strings.Contains(b, "took too long") {
		t.Errorf("a search past its deadline: %d\n%s", code, b)
	}
}

// The form token is the cookie's nonce signed by the server: a cookie set
// by someone else (a sibling host can set this site's cookies) with a
// form that repeats it, as a plain double-submit would take, is refused.
func TestFormTokenIsSigned(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "")
	const nonce = "00112233445566778899aabbccddeeff"
	post := func(csrf string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/settings/lang", strings.NewReader(url.Values{"lang": {"en"}, "csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: nonce})
		r, err := browser(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := post(nonce); code != http.StatusForbidden {
		t.Errorf("the planted nonce as the form token: %d", code)
	}
	if code := post(s.formToken(nonce)); code != http.StatusSeeOther {
		t.Errorf("the signed nonce: %d", code)
	}
}

// A sign-in lasts sessionAge, ends with "sign out", and its cookies are
// Secure behind an https base_url.
func TestSessionAgeAndSignOut(t *testing.T) {
	srv, _, s := newServerAndHandler(t, "t0ken")
	page := func(session string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/alerts", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
		r, err := browser(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := page(s.session(time.Now().Add(-time.Hour))); code != http.StatusOK {
		t.Errorf("an hour-old session: %d", code)
	}
	for name, v := range map[string]string{
		"an expired session":           s.session(time.Now().Add(-sessionAge - time.Minute)),
		"a session from the future":    s.session(time.Now().Add(time.Hour)),
		"another token's session":      (&Server{Config: &config.Config{Server: config.Server{Token: "other"}}}).session(time.Now()),
		"a session with its time lied": strconv.FormatInt(time.Now().Unix(), 10) + "." + strings.SplitN(s.session(time.Now().Add(-time.Hour)), ".", 2)[1],
	} {
		if code := page(v); code != http.StatusSeeOther {
			t.Errorf("%s: %d, want a redirect to sign in", name, code)
		}
	}

	c := browser(t)
	if r := submit(t, c, srv.URL+"/login", srv.URL+"/login", url.Values{"token": {"t0ken"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.StatusCode)
	}
	_, b, _ := open(t, c, srv.URL+"/alerts")
	if !strings.Contains(b, `action="/logout"`) {
		t.Fatalf("no sign-out on a page:\n%s", b)
	}
	if r := submit(t, c, srv.URL+"/alerts", srv.URL+"/logout", url.Values{}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("sign out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r, err := c.Get(srv.URL + "/alerts"); err != nil || r.StatusCode != http.StatusSeeOther {
		t.Errorf("a page after signing out: %v %v", r.StatusCode, err)
	}

	s.Config.Server.BaseURL = "https://desk.example"
	r, err := browser(t).Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	for _, ck := range r.Cookies() {
		if ck.Name == csrfCookie && !ck.Secure {
			t.Errorf("the CSRF cookie behind an https base_url is not Secure: %+v", ck)
		}
	}
}

// Wrong tokens from one address: after maxWrongSignIns, that address waits,
// even with the right token; another address does not.
func TestSignInGuessesAreSlowed(t *testing.T) {
	_, _, s := newServerAndHandler(t, "t0ken")
	h := s.Handler()
	const nonce = "0123456789abcdef0123456789abcdef"
	try := func(addr, token string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/login", strings.NewReader(url.Values{"token": {token}, "csrf": {s.formToken(nonce)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: nonce})
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}
	for i := 0; i < maxWrongSignIns; i++ {
		if r := try("192.0.2.7:4000", "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, r.StatusCode)
		}
	}
	r := try("192.0.2.7:4001", "t0ken")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("the right token after %d guesses: %d, Retry-After %q", maxWrongSignIns, r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := try("192.0.2.8:4000", "t0ken"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another address: %d", r.StatusCode)
	}
	var l signInLimiter
	now := time.Now()
	for i := 0; i < maxWrongSignIns; i++ {
		l.failed("a", now)
	}
	if l.wait("a", now) <= 0 || l.wait("a", now.Add(wrongSignInWindow)) != 0 {
		t.Errorf("the window: waits %v now, %v after it", l.wait("a", now), l.wait("a", now.Add(wrongSignInWindow)))
	}
}
