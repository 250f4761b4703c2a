package corpus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{" date 2025-05-11 موسكو: نص", "date 2025-13-01 x", "نص بلا تاريخ", "date ", "\ufeffdate 2024-02-29 a\r\nb", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseFile("f.txt", data)
		if err != nil {
			if !strings.Contains(err.Error(), "f.txt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if d.Text == "" || !utf8.ValidString(d.Text) || d.Hash == "" {
			t.Fatalf("bad doc %+v", d)
		}
	})
}
