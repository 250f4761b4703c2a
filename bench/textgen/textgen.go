// Package textgen makes Arabic news-like text for load tests and
// benchmarks: sentences from templates over a vocabulary, with lengths like
// real news (100 to 3,000 words), deterministic for a seed.
package textgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

var (
	subjects = strings.Fields("الرئيس الوزير الحكومة البرلمان المتحدث الجيش الشرطة الوفد المجلس اللجنة الوكالة الشركة البنك المنظمة السفير المبعوث الأمين القائد المسؤول الخبراء")
	verbs    = strings.Fields("أعلن أكد قال أوضح بحث ناقش استقبل التقى وقع افتتح زار دعا طالب حذر كشف نفى رفض أشاد أدان قرر أصدر")
	objects  = strings.Fields("الاتفاق المشروع القرار الخطة المبادرة الأزمة المفاوضات الانتخابات الميزانية الاستثمارات المساعدات العقوبات الهدنة الإصلاحات الصادرات الأسعار التعاون العلاقات الاجتماع القمة")
	places   = strings.Fields("ليبيا طرابلس بنغازي مصر القاهرة السودان الخرطوم تونس الجزائر المغرب الرياض جدة دبي الدوحة بغداد دمشق بيروت عمان الكويت موسكو واشنطن باريس لندن أنقرة طهران غزة القدس صنعاء عدن")
	fillers  = strings.Fields("في على من إلى عن مع بعد قبل خلال حول أمس اليوم الأسبوع المقبل الماضي وفق بحسب مصادر مطلعة رسمية الجانبين البلدين المنطقة الدولية العربية الإقليمية الاقتصادية الأمنية السياسية الإنسانية الجديدة الكبيرة المشتركة")
	numbers  = []string{"٣", "١٢", "٤٥", "٢٠٢٥", "100", "1500", "٧٫٥", "30"}
)

// Gen makes text from a seeded source.
type Gen struct{ r *rand.Rand }

// New returns a generator; the same seed gives the same text.
func New(seed uint64) *Gen { return &Gen{rand.New(rand.NewPCG(seed, 0x5eed))} }

func (g *Gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// Tags are rare words (a name in the news, say): one sentence in 500
// carries one, and alert rules built by Rules need one.
const Tags = 97

// Sentence is one news sentence of 8 to 25 words.
func (g *Gen) Sentence() string {
	parts := []string{g.pick(verbs), g.pick(subjects), g.pick(objects), g.pick(fillers), g.pick(places)}
	if g.r.IntN(500) == 0 {
		parts = append(parts, fmt.Sprintf("وسم%d", g.r.IntN(Tags)))
	}
	for n := 3 + g.r.IntN(18); n > 0; n-- {
		switch g.r.IntN(6) {
		case 0:
			parts = append(parts, g.pick(places))
		case 1:
			parts = append(parts, g.pick(objects))
		case 2:
			parts = append(parts, g.pick(numbers))
		default:
			parts = append(parts, g.pick(fillers))
		}
	}
	return strings.Join(parts, " ") + "."
}

// Words returns a length for an article: log-uniform from 100 to 3,000
// words, so most are short and a few are long.
func (g *Gen) Words() int {
	return int(math.Exp(math.Log(100) + g.r.Float64()*(math.Log(3000)-math.Log(100))))
}

// Article is about n words in paragraphs of three to six sentences.
func (g *Gen) Article(n int) string {
	var b strings.Builder
	words, inPara := 0, 0
	for words < n {
		s := g.Sentence()
		words += strings.Count(s, " ") + 1
		if inPara > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		inPara++
		if inPara >= 3+g.r.IntN(4) && words < n {
			b.WriteString("\n\n")
			inPara = 0
		}
	}
	return b.String()
}

// Title is a headline.
func (g *Gen) Title() string {
	return fmt.Sprintf("%s %s %s %s", g.pick(subjects), g.pick(verbs), g.pick(objects), g.pick(places))
}

// Rules makes n alert rules of the shapes a desk writes, over places and
// topics, with English alternatives.
func Rules(n int, seed uint64) []string {
	g := New(seed)
	english := strings.Fields("Libya Tripoli Egypt Cairo Sudan Khartoum Tunisia Algeria Morocco Riyadh Dubai Doha Baghdad Damascus Beirut Moscow Washington Paris London Ankara Tehran Gaza Yemen")
	out := make([]string, n)
	for i := range out {
		p := g.pick(places)
		switch i % 5 {
		case 0:
			out[i] = p + " OR " + g.pick(english)
		case 1:
			out[i] = fmt.Sprintf("%s %s", p, g.pick(objects))
		case 2:
			out[i] = fmt.Sprintf(`"%s %s" -%s`, g.pick(subjects), g.pick(verbs), g.pick(places))
		case 3:
			out[i] = fmt.Sprintf("%s NEAR/5 %s", g.pick(verbs), p)
		default:
			out[i] = fmt.Sprintf("(%s OR %s) %s*", p, g.pick(places), g.pick(objects)[:6])
		}
		// Desk rules name something rare: each needs a tag that few
		// articles carry, so that an item matches a handful of rules.
		out[i] = fmt.Sprintf("(%s) وسم%d", out[i], i%Tags)
	}
	return out
}
