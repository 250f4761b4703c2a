package feeds

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const opml = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>desk</title></head><body>
<outline text="ليبيا" title="ليبيا">
  <outline type="rss" text="Libya Observer" xmlUrl="https://libyaobserver.example/rss" htmlUrl="https://libyaobserver.example/"/>
  <outline type="rss" text="بوابة الوسط" title="بوابة الوسط" xmlUrl="https://alwasat.example/feed" language="ar"/>
</outline>
<outline type="rss" text="Libya Observer" xmlUrl="https://libyaobserver.example/other"/>
<outline text="no feed here"/>
</body></opml>`

func TestOPMLRoundTrip(t *testing.T) {
	fs, err := ReadOPML(strings.NewReader(opml))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 || fs[0].Name != "Libya-Observer" || fs[1].Name != "بوابة-الوسط" || fs[1].Language != "ar" || fs[2].Name != "Libya-Observer-2" {
		t.Fatalf("%+v", fs)
	}
	var b bytes.Buffer
	if err := WriteOPML(&b, fs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<opml version="2.0">`) {
		t.Errorf("not OPML 2.0:\n%s", b.String())
	}
	back, err := ReadOPML(&b)
	if err != nil || len(back) != 3 || back[1].URL != "https://alwasat.example/feed" || back[1].Name != fs[1].Name {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if _, err := ReadOPML(strings.NewReader("<html/>")); err == nil {
		t.Error("HTML accepted as OPML")
	}
}
