package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The desk's pages in a real browser, against a daemon on loopback fed by
// loopback feeds: the stories, a story's outlets, the rule box's marks and
// errors, a failed alert retried from the page, the failing feed first,
// and a publisher's script that does not run.
func TestPagesInChromium(t *testing.T) {
	browserPath := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browserPath = p
			break
		}
	}
	if browserPath == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing: .ci/run must install it")
		}
		t.Skip("chromium not installed (apt-get install chromium) — CI runs this test")
	}
	report := "عقد مجلس الأمن الدولي جلسة طارئة لمناقشة تطورات الوضع الأمني في ليبيا بعد اشتباكات عنيفة في العاصمة طرابلس أسفرت عن سقوط قتلى وجرحى بين المدنيين، وفق ما أعلنت البعثة الأممية."
	rss := func(items string) string {
		return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description>` + items + `</channel></rss>`
	}
	item := func(id, title, body string) string {
		return fmt.Sprintf(`<item><title>%s</title><link>http://outlet.example/%s</link><guid>%s</guid><pubDate>%s</pubDate><description><![CDATA[%s]]></description></item>`,
			title, id, id, time.Now().Add(-time.Hour).Format(time.RFC1123Z), body)
	}
	feedsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		switch r.URL.Path {
		case "/wire.xml":
			w.Write([]byte(rss(item("w1", "مجلس الأمن يناقش الوضع في ليبيا", "<p>"+report+"</p>"))))
		case "/copy.xml":
			w.Write([]byte(rss(item("c1", "جلسة طارئة لمجلس الأمن حول ليبيا", "<p>"+report+"</p>"))))
		case "/evil.xml":
			w.Write([]byte(rss(item("e1", "خبر عن الطقس", `<p>أمطار غزيرة</p><script>document.title="pwned"</script><img src="x" onerror="document.title='pwned'">`))))
		default:
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	defer feedsSrv.Close()
	var up atomic.Bool
	var delivered atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "receiver down", http.StatusBadGateway)
			return
		}
		delivered.Add(1)
	}))
	defer hook.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`storage: {path: raqib.db}
poll: {schedule: "@every 1h", timeout: 5s, jitter: 0s}
server: {listen: "%[3]s"}
feeds:
  - {name: wire, url: "%[1]s/wire.xml"}
  - {name: copy, url: "%[1]s/copy.xml"}
  - {name: evil, url: "%[1]s/evil.xml"}
  - {name: down, url: "%[1]s/down.xml"}
alerts:
  max_attempts: 1
  channels:
    - {name: hook, type: webhook, url: "%[2]s", secret: "s3cret"}
  rules:
    - {name: libya, query: "ليبيا", channels: [hook]}
`, feedsSrv.URL, hook.URL, addr))
	daemon, logs := startDaemon(t, cfg)
	defer func() { daemon.Process.Kill(); daemon.Wait() }()
	base := "http://" + addr
	page := func(path string) string {
		r, err := http.Get(base + path)
		if err != nil {
			return ""
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	// Every feed polled, the copy in its story, the alert failed.
	waitFor(t, 20*time.Second, func() bool {
		home := page("/")
		return strings.Contains(home, "خبر عن الطقس") && strings.Contains(home, "2 نسخ") &&
			strings.Contains(page("/alerts?state=failed"), "/alerts/retry") && strings.Contains(page("/feeds"), "500")
	}, logs)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browserPath), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v\ndaemon's log:\n%s", what, err, logs.String())
		}
	}
	get := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// The stories page lists the stories, right to left.
	do("the stories page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("ol.stories")))
	stories := get("the stories", chromedp.Text(css("ol.stories")))
	// The wire story's headline is the first copy's polled: either outlet's.
	if !strings.Contains(stories, "لمجلس الأمن حول ليبيا") && !strings.Contains(stories, "مجلس الأمن يناقش الوضع في ليبيا") || !strings.Contains(stories, "خبر عن الطقس") {
		t.Errorf("the stories page:\n%s\n%s", stories, get("html", chromedp.Evaluate[string](`document.documentElement.outerHTML`)))
	}
	if d := get("dir", chromedp.Evaluate[string](`document.documentElement.dir`)); d != "rtl" {
		t.Errorf("the page's direction: %q", d)
	}
	// Opening the wire story shows both its outlets.
	do("a story", chromedp.Click(css(`li.story:has(.rule) a.headline`)), chromedp.WaitVisible(css(".items")))
	storyURL := get("location", chromedp.Location())
	outlets := get("outlets", chromedp.Evaluate[string](`[...document.querySelectorAll("article.item .outlet")].map(e => e.textContent).sort().join(",")`))
	if outlets != "copy,wire" {
		t.Errorf("the story's outlets: %q", outlets)
	}
	// The rule box marks a match, and says where a bad query goes wrong.
	do("try a rule", chromedp.Navigate(base+"/rules"), chromedp.WaitVisible(css("#q")), chromedp.SendKeys(css("#q"), "طرابلس"), chromedp.Submit(css("#q")), chromedp.WaitVisible(css("mark")))
	if m := get("the marked word", chromedp.Text(css("mark"))); m != "طرابلس" {
		t.Errorf("the marked word: %q", m)
	}
	do("a bad rule", chromedp.SetValue(css("#q"), `ليبيا AND (`), chromedp.Submit(css("#q")), chromedp.WaitVisible(css("p.error")))
	if bad, loc := get("the error", chromedp.Text(css("p.error"))), get("location", chromedp.Location()); !strings.Contains(bad, "position") || !strings.Contains(loc, "q=") {
		t.Errorf("a bad query: %q at %s", bad, loc)
	}
	// A failed alert is retried from the page.
	up.Store(true)
	do("retry", chromedp.Navigate(base+"/alerts?state=failed"), chromedp.WaitVisible(css("tr.failed")), chromedp.Click(css("tr.failed button")), chromedp.WaitVisible(css("p.flash")))
	waitFor(t, 10*time.Second, func() bool { return delivered.Load() == 1 }, logs)
	// The failing feed is shown first.
	do("feeds", chromedp.Navigate(base+"/feeds"), chromedp.WaitVisible(css("table.feeds")))
	if first := get("the first feed", chromedp.Text(css("table.feeds tbody tr:first-child td:first-child"))); first != "down" {
		t.Errorf("the first feed: %q", first)
	}
	// The publisher's script did not run, on the list or on its story.
	do("the publisher's item", chromedp.Navigate(base+"/"), chromedp.Click(chromedp.Search(`//a[contains(., "خبر عن الطقس")]`)), chromedp.WaitVisible(css(".items")))
	if title := get("title", chromedp.Title()); strings.Contains(title, "pwned") || !strings.Contains(title, "خبر عن الطقس") {
		t.Errorf("the page's title: %q", title)
	}
	// The English interface, from the page's button.
	do("english", chromedp.Click(css("form.lang button")), chromedp.WaitVisible(css(`html[lang="en"] main`)))
	if lang := get("lang", chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "en" {
		t.Errorf("after the language button: lang %q", lang)
	}

	// RAQIB_SCREENSHOTS=DIR saves every page in English and in Arabic,
	// at a desktop's width and a phone's (docs/screenshots).
	if dir := os.Getenv("RAQIB_SCREENSHOTS"); dir != "" {
		pages := []struct{ name, url string }{{"stories", base + "/"}, {"story", storyURL}, {"alerts", base + "/alerts"}, {"rules", base + "/rules?q=" + url.QueryEscape("طرابلس OR ليبيا")}, {"feeds", base + "/feeds"}}
		for _, lang := range []string{"en", "ar"} {
			if lang == "ar" {
				do("arabic", chromedp.Navigate(base+"/feeds"), chromedp.Click(css("form.lang button")), chromedp.WaitVisible(css(`html[lang="ar"] main`)))
			}
			for _, size := range []struct {
				name string
				w, h int64
			}{{"", 1280, 800}, {"-phone", 390, 844}} {
				for _, pg := range pages {
					do(pg.name, chromedp.EmulateViewport(size.w, size.h), chromedp.Navigate(pg.url), chromedp.WaitVisible(css("main")))
					// The viewport made as tall as the page: a full-page
					// capture of a right-to-left page is shifted.
					h, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
					if err != nil {
						t.Fatal(err)
					}
					do(pg.name, chromedp.EmulateViewport(size.w, max(size.h, h)))
					img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
					if err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(dir, pg.name+"-"+lang+size.name+".png"), string(img))
				}
			}
		}
	}
}
