package rules

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/raqib/raqib/textnorm"
)

// benchRules makes n rules like a desk's: names of places, people and
// organisations, alone, ORed with their English names, ANDed with a second
// term, as phrases and prefixes. Their words come from a vocabulary of
// Arabic-looking words, with one word in 200 from the text, so that an item is a candidate for
// a few dozen rules and matches some of them, as a news item would.
func benchRules(n int, textWords []string) (names, queries []string) {
	rng := rand.New(rand.NewPCG(5, 9))
	letters := []rune("ابتثجحخدذرزسشصضطظعغفقكلمنهوي")
	word := func() string {
		if rng.IntN(200) == 0 || len(queries) < 3 {
			return textWords[rng.IntN(len(textWords))]
		}
		w := make([]rune, 4+rng.IntN(4))
		for i := range w {
			w[i] = letters[rng.IntN(len(letters))]
		}
		return string(w)
	}
	for i := 0; i < n; i++ {
		var q string
		switch rng.IntN(6) {
		case 0:
			q = word()
		case 1:
			q = fmt.Sprintf("%s OR Name%d", word(), i)
		case 2:
			q = fmt.Sprintf("(%s OR %s) %s", word(), word(), word())
		case 3:
			q = fmt.Sprintf(`"%s %s"`, word(), word())
		case 4:
			q = word() + "* -" + word()
		default:
			q = fmt.Sprintf("%s NEAR/5 %s", word(), word())
		}
		names = append(names, fmt.Sprint("r", i))
		queries = append(queries, q)
	}
	return names, queries
}

// benchText is 2 KB of Arabic news text (from the shipped seed article).
func benchText(b testing.TB) string {
	data, err := os.ReadFile("../seeds/000_a42b1f5e1f85cc83.txt")
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	for len(s) > 2048 {
		s = s[:strings.LastIndex(s[:len(s)-1], " ")]
	}
	return s
}

func BenchmarkMatch(b *testing.B) {
	text := benchText(b)
	words := textnorm.Words(textnorm.Normalize(text))
	for _, n := range []int{10, 1000, 10000} {
		names, queries := benchRules(n, words)
		m, err := Compile(names, queries)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("indexed/rules=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			matched := 0
			for i := 0; i < b.N; i++ {
				matched += len(m.Match(NewText("", text)))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
			if matched == 0 {
				b.Fatal("no rule matched: the benchmark measures nothing")
			}
		})
		b.Run(fmt.Sprintf("every-rule/rules=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				m.MatchEach(NewText("", text))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
