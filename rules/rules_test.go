package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestLanguage(t *testing.T) {
	cases := []struct {
		query, text string
		want        bool
	}{
		// Clitics on text words; the query's own article optional.
		{"ليبيا", "وصل الوفد إلى ليبيا", true},
		{"ليبيا", "العلاقات بين مصر وليبيا", true},
		{"ليبيا", "دعم لليبيا في المحافل", true},
		{"ليبيا", "الاستثمار بليبيا وفليبيا", true},
		{"ليبيا", "قال المسؤول الليبي", false},
		{"ليبيا", "زار ليبيريا أمس", false},
		{"ليبي*", "قال المسؤول الليبي", true},
		{"ليبي*", "زار ليبيريا أمس", true},
		{"الكرملين", "قال الكرملين في بيان", true},
		{"الكرملين", "أعلن متحدث باسم الكرملين", true},
		{"الكرملين", "في مقر كرملين موسكو", true},
		{"الكرملين", "وبالكرملين عقد اللقاء", true},
		{"الكرملين", "رسالة لالكرملين", true}, // ل + ال written out, not لل
		{"كرملين", "رسالة لالكرملين", true},
		{"الكرملين", "الالكرملين", true}, // a doubled article
		{"كرملين", "قال الكرملين", true},
		{"المدينة", "وصل إلى المدينه المنورة", true},
		{"المدينة", "وصل للمدينة المنورة", true},
		{"المدينة", "فبالمدينة كان اللقاء", true},
		{"مدينة", "في المدينة", true},
		{"الأمم", "قرار من الامم المتحدة", true},
		{"الأمم", "قرار للأمم المتحدة", true},
		// Orthography, diacritics, tatweel, digits.
		{"أردوغان", "صرح إردوغـــان للصحفيين", true},
		{"مستشفى", "نقل إلى مُسْتَشْفَى المدينة", true},
		{"2025", "في عام ٢٠٢٥", true},
		{"٢٠٢٥", "في عام 2025", true},
		// Latin: whole word, case-insensitive.
		{"Kremlin", "the KREMLIN said", true},
		{"Kremlin", "Kremlinology is a field", false},
		{"Kreml*", "Kremlinology is a field", true},
		// Boolean structure.
		{"(الكرملين OR Kremlin) حفتر", "استقبل الكرملين حفتر", true},
		{"(الكرملين OR Kremlin) حفتر", "Kremlin hosts حفتر", true},
		{"(الكرملين OR Kremlin) حفتر", "استقبل الكرملين السراج", false},
		{"حفتر AND بوتين", "التقى حفتر بوتين", true},
		{"حفتر NOT بوتين", "التقى حفتر بوتين", false},
		{"حفتر -بوتين", "التقى حفتر الرئيس", true},
		{"حفتر -(بوتين OR لافروف)", "التقى حفتر لافروف", false},
		{"غزة OR الضفة OR القدس", "اقتحامات في القدس", true},
		// Phrases.
		{`"مجلس الأمن"`, "دعا مجلس الأمن الدولي", true},
		{`"مجلس الأمن"`, "دعا مجلس الوزراء إلى الأمن", false},
		{`"مجلس الأمن"`, "وقال لمجلس الأمن", true},
		{`«مجلس الأمن»`, "أمام مجلس الأمن", true},
		{`"Security Council"`, "the UN security council met", true},
		// NEAR.
		{"حفتر NEAR/3 بوتين", "التقى حفتر الرئيس الروسي بوتين", true},
		{"حفتر NEAR/2 بوتين", "التقى حفتر الرئيس الروسي بوتين", false},
		{"بوتين NEAR/3 حفتر", "التقى حفتر الرئيس الروسي بوتين", true},
		{`"الرئيس الروسي" NEAR/2 حفتر`, "التقى حفتر الرئيس الروسي", true},
		{"(بوتين OR لافروف) NEAR/1 حفتر", "لافروف وحفتر", true},
	}
	for _, c := range cases {
		q, err := Parse(c.query)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.query, err)
			continue
		}
		if got := NewText("", c.text).Matches(q); got != c.want {
			t.Errorf("%q on %q = %v, want %v", c.query, c.text, got, c.want)
		}
	}
}

func TestTitleAndBodyDoNotFormAPhrase(t *testing.T) {
	q, _ := Parse(`"موسكو حفتر"`)
	if NewText("زيارة إلى موسكو", "حفتر يصل").Matches(q) {
		t.Error("phrase matched across title and body")
	}
	if !NewText("زيارة إلى موسكو", "حفتر يصل").Matches(&And{[]Node{&Term{Word: "موسكو"}, &Term{Word: "حفتر"}}}) {
		t.Error("title and body words should both count")
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		query string
		pos   int
		msg   string
	}{
		{"", 1, "empty query"},
		{"   ", 1, "empty query"},
		{`"مجلس الأمن`, 1, "unbalanced quote"},
		{`ليبيا "مجلس`, 7, "unbalanced quote"},
		{"(غزة", 1, "never closed"},
		{"غزة)", 4, "closes nothing"},
		{"OR غزة", 1, "OR needs something before"},
		{"غزة OR", 5, "OR needs something after"},
		{"غزة AND", 5, "AND needs something after"},
		{"غزة NOT", 5, "NOT needs a word"},
		{"غزة NEAR/0 رفح", 5, "distance of 1 or more"},
		{"غزة NEAR/x رفح", 5, "distance of 1 or more"},
		{"غزة NEAR رفح", 5, "NEAR needs a distance"},
		{"غزة NEAR/3", 5, "NEAR needs a word after"},
		{"-غزة", 1, "only excludes"},
		{"()", 2, "empty parentheses"},
		{"غ*زة", 1, "only at the end"},
		{"*", 1, "needs letters"},
		{"(غزة AND رفح) NEAR/3 خان", 15, "NEAR joins words"},
	}
	for _, c := range cases {
		_, err := Parse(c.query)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", c.query, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Parse(%q): position %d %q, want %d %q", c.query, se.Pos, se.Msg, c.pos, c.msg)
		}
	}
}

// The indexed matcher must give the same answers as evaluating every rule.
func TestMatcherAgreesWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := strings.Fields("ليبيا الكرملين حفتر بوتين موسكو طرابلس النفط أوبك غزة القاهرة Kremlin Libya oil OPEC مجلس الأمن الرئيس وزير 2025 السودان")
	var names, queries []string
	for i := 0; i < 2000; i++ {
		names = append(names, fmt.Sprint("r", i))
		queries = append(queries, randomQuery(rng, vocab, 3))
	}
	m, err := Compile(names, queries)
	if err != nil {
		t.Fatal(err)
	}
	clitics := []string{"", "و", "ب", "لل", "لال", "الال", "وال", "ف"}
	total := 0
	for i := 0; i < 300; i++ {
		var words []string
		for j := 0; j < 5+rng.IntN(20); j++ {
			w := vocab[rng.IntN(len(vocab))]
			if rng.IntN(3) == 0 && !strings.HasPrefix(w, "ال") && w[0] >= 0x80 {
				w = clitics[rng.IntN(len(clitics))] + w
			}
			words = append(words, w, []string{"في", "قال", "عن", "the"}[rng.IntN(4)])
		}
		text := NewText("", strings.Join(words, " "))
		got, want := m.Match(text), m.MatchEach(text)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("text %q: indexed %v, every rule %v", text.Norm, got, want)
		}
		total += len(got)
	}
	if total == 0 {
		t.Fatal("no rule matched any text: the test proves nothing")
	}
}

func randomQuery(rng *rand.Rand, vocab []string, depth int) string {
	word := func() string {
		w := vocab[rng.IntN(len(vocab))]
		if rng.IntN(8) == 0 {
			r := []rune(w)
			return string(r[:max(2, len(r)-2)]) + "*"
		}
		return w
	}
	if depth == 0 {
		return word()
	}
	switch rng.IntN(7) {
	case 0:
		return randomQuery(rng, vocab, depth-1) + " " + randomQuery(rng, vocab, depth-1)
	case 1:
		return "(" + randomQuery(rng, vocab, depth-1) + " OR " + randomQuery(rng, vocab, depth-1) + ")"
	case 2:
		return word() + " -" + word()
	case 3:
		return `"` + word() + " " + word() + `"`
	case 4:
		return fmt.Sprintf("%s NEAR/%d %s", word(), 1+rng.IntN(4), word())
	case 5:
		return word() + " AND NOT " + word()
	}
	return word()
}

func TestContext(t *testing.T) {
	q, _ := Parse("حفتر")
	text := NewText("", "في موسكو التقى قائد قوات الشرق خليفة حفتر الرئيس الروسي فلاديمير بوتين في العاصمة التي وصلها مساء الخميس")
	_, hits := text.Match(q)
	got := Context(text, hits, 2)
	if got != "… الشرق خليفه [حفتر] الرئيس الروسي …" {
		t.Errorf("context %q", got)
	}
	// A title and a body: hits in both, each shown with its own words.
	text = NewText("حفتر في موسكو", "وصل خليفة حفتر إلى العاصمة الروسية مساء الخميس والتقى بوتين")
	_, hits = text.Match(q)
	if got := Context(text, hits, 1); got != "[حفتر] في … خليفه [حفتر] الي …" {
		t.Errorf("title and body context %q", got)
	}
}
