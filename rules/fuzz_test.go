package rules

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, q := range []string{"ليبيا OR Libya", "(الكرملين OR Kremlin) حفتر", `"مجلس الأمن" -غزة`, "ترك* NEAR/3 أردوغان", "((", `"`, "a NEAR/0 b", "NOT", "-", "OR OR", "«مجلس", "a AND (b OR -c)"} {
		f.Add(q, "قال الكرملين إن حفتر التقى بوتين في ليبيا")
	}
	f.Fuzz(func(t *testing.T, q, text string) {
		n, err := Parse(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error is not a SyntaxError: %v", q, err)
			}
			if se.Pos < 1 || se.Pos > utf8.RuneCountInString(q)+1 {
				t.Fatalf("Parse(%q): position %d out of range", q, se.Pos)
			}
			return
		}
		tx := NewText("", text)
		ok, hits := tx.Match(n)
		if ok != tx.Matches(n) {
			t.Fatal("Match and Matches disagree")
		}
		Context(tx, hits, 3)
		m, err := Compile([]string{"r"}, []string{q})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(m.Match(tx)) == 1; got != ok {
			t.Fatalf("indexed matcher says %v, evaluation %v, for %q on %q", got, ok, q, text)
		}
	})
}
