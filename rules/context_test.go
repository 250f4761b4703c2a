package rules

import "testing"

// The words shown are the text's own, with its hamza, taa marbuta and
// diacritics (match printed "الي" and "عاصمه", the normalised forms).
func TestContextInTheOriginalWords(t *testing.T) {
	for _, c := range []struct{ text, query, want string }{
		{"وصل الوفد إلى العاصمة الليبية صباح اليوم", "العاصمة", "وصل الوفد إلى [العاصمة] الليبية صباح اليوم"},
		{"قال إنَّ المحادثاتِ مستمرةٌ في ليبيا.", "محادثات", "قال إنَّ [المحادثاتِ] مستمرةٌ في ليبيا."},
		{"one two three four five six seven eight nine ten eleven Kremlin talks", "kremlin", "… six seven eight nine ten eleven [Kremlin] talks"},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		tx := NewText("", c.text)
		ok, hits := tx.Match(q)
		if !ok {
			t.Fatalf("%q does not match %q", c.query, c.text)
		}
		if got := ContextIn(c.text, tx, hits, 6); got != c.want {
			t.Errorf("%q in %q:\n got %s\nwant %s", c.query, c.text, got, c.want)
		}
	}
}
