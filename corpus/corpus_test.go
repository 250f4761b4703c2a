package corpus

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	cases := []struct {
		name, in string
		date     string
		start    string
		err      string
	}{
		{"header with leading spaces", " date 2025-05-11 موسكو: التقى حفتر\n\nفقرة ثانية", "2025-05-11", "موسكو: التقى حفتر", ""},
		{"no header", "الرياض: افتتح المعرض\nسطر", "", "الرياض: افتتح المعرض", ""},
		{"crlf and bom", "\ufeffdate 2024-01-02 نص\r\nسطر", "2024-01-02", "نص\nسطر", ""},
		{"bad date", "date 2025-13-40 نص", "", "", "bad date"},
		{"short date", "date 2025", "", "", "needs YYYY-MM-DD"},
		{"empty", "date 2025-01-01   ", "", "", "no text"},
		{"not utf-8", "\xc7\xe1\xd1\xed\xc7\xd6", "", "", "not UTF-8"},
	}
	for _, c := range cases {
		d, err := ParseFile("x.txt", []byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "x.txt") {
				t.Errorf("%s: err = %v, want %q naming the file", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := d.Date.Format("2006-01-02"); c.date != "" && got != c.date || c.date == "" && !d.Date.IsZero() {
			t.Errorf("%s: date %v", c.name, d.Date)
		}
		if !strings.HasPrefix(d.Text, c.start) {
			t.Errorf("%s: text %q", c.name, d.Text)
		}
	}
}

func TestLoadShippedSeed(t *testing.T) {
	docs, err := Load(context.Background(), "../seeds")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 || docs[0].Date != time.Date(2025, 5, 11, 0, 0, 0, 0, time.UTC) || !strings.HasPrefix(docs[0].Text, "موسكو:") {
		t.Fatalf("%+v", docs)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a seed"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.txt"), []byte("not a seed"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("نص"), 0o644)
	docs, err = Load(context.Background(), dir)
	if err != nil || len(docs) != 1 || docs[0].Name != "a.txt" {
		t.Errorf("%v %+v", err, docs)
	}
}
