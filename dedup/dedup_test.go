package dedup

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/textnorm"
)

// A wire dispatch written for these tests, in paragraphs.
var wire = []string{
	"أعلنت وزارة الصحة في طرابلس مساء الثلاثاء ارتفاع عدد ضحايا الفيضانات التي ضربت مدينة درنة شرقي ليبيا إلى 42 قتيلا وعشرات المفقودين، فيما تواصل فرق الإنقاذ البحث عن ناجين تحت الأنقاض.",
	"وقال المتحدث باسم الوزارة في مؤتمر صحفي إن الأمطار الغزيرة التي هطلت على المنطقة خلال يومين تسببت في انهيار سدين رئيسيين وجرفت عددا من المباني السكنية القريبة من مجرى الوادي.",
	"وأضاف أن المستشفيات الميدانية استقبلت أكثر من ثلاثمئة مصاب، أغلبهم من النساء والأطفال، وأن الوزارة أرسلت قوافل طبية وأدوية إلى المدن المتضررة في الجبل الأخضر.",
	"من جهتها، أعلنت الحكومة الحداد العام ثلاثة أيام، ودعت المنظمات الدولية إلى تقديم المساعدة العاجلة للسكان الذين فقدوا منازلهم.",
	"وأشار مركز الأرصاد الجوية إلى أن المنخفض الجوي سيتجه شرقا خلال الساعات المقبلة مع توقع تراجع حدة الأمطار تدريجيا بحلول نهاية الأسبوع.",
	"وتعد هذه الفيضانات الأسوأ التي تشهدها المنطقة منذ عقود، بحسب خبراء محليين طالبوا بمراجعة حالة السدود القديمة وصيانتها.",
}

func join(ps ...string) string { return strings.Join(ps, "\n") }

func verdict(title, body string, original *Doc) Verdict {
	return Judge(Prepare(title, body), &original.Print, nil, 0)
}

func TestJudgeHardCases(t *testing.T) {
	original := Prepare("ارتفاع ضحايا فيضانات درنة إلى 42 قتيلا", join(wire...))
	cases := []struct {
		name  string
		title string
		body  string
		dup   bool
	}{
		{"identical copy", "ارتفاع ضحايا فيضانات درنة إلى 42 قتيلا", join(wire...), true},
		{"new headline", "ليبيا: عشرات القتلى في فيضانات درنة", join(wire...), true},
		{"trimmed tail", "ضحايا فيضانات درنة", join(wire[:3]...), true},
		{"summary: the lead only", "42 قتيلا في درنة", wire[0], true},
		{"reordered paragraphs", "فيضانات درنة", join(wire[3], wire[0], wire[2], wire[1], wire[5], wire[4]), true},
		{"boilerplate around it", "فيضانات درنة", join("شارك عبر تويتر فيسبوك واتساب", wire[0], wire[1], wire[2], wire[3], "اقرأ أيضا: أسعار الذهب اليوم", "جميع الحقوق محفوظة"), true},
		{"orthographic variants", "ارتفاع ضحايا فيضانات درنه الى ٤٢ قتيلاً",
			strings.NewReplacer("أ", "ا", "إ", "ا", "ة", "ه", "ى", "ي", "42", "٤٢", "الأمطار", "الأمـــطار", "الغزيرة", "الغَزيرة").Replace(join(wire...)), true},
		{"light copy-editing", "فيضانات درنة",
			strings.NewReplacer("مساء الثلاثاء", "مساء أمس", "وقال المتحدث", "وأوضح المتحدث", "أكثر من", "ما يزيد على", "العاجلة", "الفورية").Replace(join(wire...)), true},
		{"update: a new toll under a new lead", "حصيلة فيضانات درنة تقفز إلى 2300 قتيل",
			join("قفزت حصيلة ضحايا الفيضانات في مدينة درنة إلى أكثر من 2300 قتيل وعشرة آلاف مفقود، بحسب ما أعلنه الهلال الأحمر الليبي صباح الخميس، بعد انتشال مئات الجثث من البحر ومن تحت ركام الأحياء التي جرفتها السيول.",
				"وقال مسؤول في الهلال الأحمر إن فرق الإغاثة لم تتمكن بعد من الوصول إلى عدد من الأحياء المعزولة، محذرا من أن الأرقام مرشحة للارتفاع مع استمرار عمليات البحث.",
				wire[1], wire[3]), false},
		{"reaction quoting one paragraph", "الأمم المتحدة ترسل فريقا لدعم ليبيا",
			join("أعلن الأمين العام للأمم المتحدة إرسال فريق من خبراء الطوارئ والتنسيق الإنساني إلى شرق ليبيا للمساعدة في عمليات الإغاثة بعد الكارثة، مؤكدا تضامن المنظمة الكامل مع الشعب الليبي في هذا المصاب.",
				"وأوضح في بيان أن الفريق سيعمل مع السلطات المحلية والهلال الأحمر على تقييم الاحتياجات العاجلة من مياه الشرب والمأوى والرعاية الصحية، وأن صندوق الطوارئ خصص مبلغا أوليا لتمويل الاستجابة.",
				wire[0]), false},
		{"independent report, same event and names", "درنة تحت الماء: شهادات الناجين",
			join("في شوارع درنة التي غمرتها المياه، يروي السكان كيف استيقظوا على هدير السيل بعد منتصف الليل، وكيف صعدوا إلى أسطح المنازل هربا من الموج الذي حمل السيارات والأشجار نحو البحر.",
				"يقول أحد الناجين إنه فقد ثلاثة من أقاربه حين انهار الجدار الخلفي لبيتهم، بينما تبحث امرأة عن ابنها المفقود منذ ليلة الفيضان بين المستشفيات الميدانية في الجبل الأخضر.",
				"ويتهم كثيرون السلطات بإهمال صيانة السدين منذ سنوات رغم التحذيرات المتكررة من خطر انهيارهما في حال هطول أمطار غزيرة على المنطقة."), false},
	}
	for _, c := range cases {
		v := verdict(c.title, c.body, original)
		if v.Duplicate != c.dup {
			f := Compare(Prepare(c.title, c.body), &original.Print, nil)
			t.Errorf("%s: duplicate=%v (%s), want %v\n  %s", c.name, v.Duplicate, v.Reason, c.dup, f)
		}
	}
}

func TestFingerprintRoundTrip(t *testing.T) {
	d := Prepare("عنوان", join(wire...))
	got, err := Decode(d.Print.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d.Print) {
		t.Error("decode(encode(f)) != f")
	}
	for _, bad := range [][]byte{nil, {2}, {1, 5, 200}} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%v) accepted garbage", bad)
		}
	}
}

// A lead-only summary must find its long original among many documents
// through the sampled index: containment survives sampling.
func TestIndexFindsContainedDocument(t *testing.T) {
	ix := NewIndex()
	now := time.Now()
	long := Prepare("", join(wire...)+"\n"+join(wire...)) // a long article
	ix.Add("original", now, long.Print.Samples())
	for i := 0; i < 200; i++ {
		other := Prepare("", strings.Repeat("خبر مختلف رقم ", 5)+strings.Repeat(string(rune('a'+i%26)), i%7+1)+" "+wire[5][:40])
		ix.Add("other"+string(rune('A'+i%26))+string(rune('0'+i/26)), now, other.Print.Samples())
	}
	summary := Prepare("", wire[0])
	cands := ix.Candidates(summary.Print.Samples(), now.Add(-time.Hour), 5)
	if len(cands) == 0 || cands[0].ID != "original" {
		t.Fatalf("candidates %+v", cands)
	}
	// Outside the window it is not a candidate; Expire drops it for good.
	if c := ix.Candidates(summary.Print.Samples(), now.Add(time.Hour), 5); len(c) != 0 {
		t.Errorf("old document still a candidate: %+v", c)
	}
	ix.Add("seed:x", time.Time{}, summary.Print.Samples())
	if n := ix.Expire(now.Add(time.Hour)); n == 0 {
		t.Error("nothing expired")
	}
	if c := ix.Candidates(summary.Print.Samples(), time.Time{}, 5); len(c) != 1 || c[0].ID != "seed:x" {
		t.Errorf("after expiry: %+v (seeds never expire)", c)
	}
}

// Merging the delta into the sorted base keeps every document findable.
func TestIndexMerge(t *testing.T) {
	ix := NewIndex()
	now := time.Now()
	gen := newSynthetic(3)
	docs := map[string]*Doc{}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprint(i)
		d := Prepare("", wire[i%len(wire)]+" "+gen.text(60))
		docs[id] = d
		ix.Add(id, now, d.Print.Samples())
	}
	ix.mu.Lock()
	ix.merge()
	ix.mu.Unlock()
	for id, d := range docs {
		found := false
		for _, c := range ix.Candidates(d.Print.Samples(), time.Time{}, 10) {
			found = found || c.ID == id
		}
		if !found {
			t.Fatalf("%s lost in merge", id)
		}
	}
	// The wire paragraph shared by 500 documents points to 64 at most.
	shared := Prepare("", wire[0]).Print.Samples()
	for _, h := range shared {
		if n := ix.baseCount(h); n > maxPosting {
			t.Errorf("posting list of %d entries", n)
		}
	}
}

// Loading at start (count, grow, load, seal) makes the same index as
// adding the documents one by one and merging; a document the counting
// pass missed still goes in.
func TestIndexLoadMatchesAdd(t *testing.T) {
	now := time.Now()
	gen := newSynthetic(5)
	var ids []string
	var samples [][]uint32
	for i := 0; i < 2000; i++ {
		ids = append(ids, fmt.Sprint("doc-", i))
		samples = append(samples, Prepare("", wire[i%len(wire)]+" "+gen.text(80)).Print.Samples())
	}
	added := NewIndex()
	for i, id := range ids {
		added.Add(id, now, samples[i])
	}
	added.mu.Lock()
	added.merge()
	added.mu.Unlock()

	loaded := NewIndex()
	last := len(ids) - 1 // not counted: loaded by way of the recent additions
	for i := range last {
		loaded.Count(len(ids[i]), samples[i])
	}
	loaded.Grow()
	for i, id := range ids {
		loaded.Load([]byte(id), now, samples[i])
	}
	loaded.Seal()

	if added.Len() != loaded.Len() || added.base.len() != loaded.base.len() {
		t.Fatalf("added: %d docs, %d entries; loaded: %d docs, %d entries", added.Len(), added.base.len(), loaded.Len(), loaded.base.len())
	}
	for i := range ids {
		a := added.Candidates(samples[i], time.Time{}, 10)
		l := loaded.Candidates(samples[i], time.Time{}, 10)
		if !reflect.DeepEqual(a, l) {
			t.Fatalf("candidates for %s: added %v, loaded %v", ids[i], a, l)
		}
		if len(l) == 0 || l[0].ID != ids[i] {
			t.Fatalf("%s does not find itself first: %v", ids[i], l)
		}
	}
	for _, h := range Prepare("", wire[0]).Print.Samples() {
		if n := loaded.baseCount(h); n > maxPosting {
			t.Errorf("loaded posting list of %d entries", n)
		}
	}
}

// Once most documents have left the window, merging rebuilds the document
// table without them; the rest stay findable under their ids.
func TestExpireCompactsDocuments(t *testing.T) {
	ix := NewIndex()
	gen := newSynthetic(9)
	old, recent := time.Unix(1_700_000_000, 0), time.Unix(1_760_000_000, 0)
	samples := map[string][]uint32{}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprint("doc-", i)
		samples[id] = Prepare("", gen.text(80)).Print.Samples()
		date := old
		if i%10 == 0 {
			date = recent
		}
		ix.Add(id, date, samples[id])
	}
	ix.Add("seed:x", time.Time{}, Prepare("", gen.text(80)).Print.Samples())
	if n := ix.Expire(recent.Add(-time.Hour)); n != 2700 {
		t.Fatalf("expired %d, want 2700", n)
	}
	if got := len(ix.docs.ends); got != 301 || ix.Len() != 301 {
		t.Fatalf("table holds %d documents (%d live), want 301 after compaction", got, ix.Len())
	}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprint("doc-", i)
		found := false
		for _, c := range ix.Candidates(samples[id], time.Time{}, 10) {
			found = found || c.ID == id
		}
		if found != (i%10 == 0) {
			t.Fatalf("%s found %v after expiry", id, found)
		}
	}
	ix.Add("new", recent, samples["doc-1"])
	ix.Remove("doc-10")
	if c := ix.Candidates(samples["doc-1"], time.Time{}, 10); len(c) != 1 || c[0].ID != "new" {
		t.Errorf("a document added after compaction: %v", c)
	}
	for _, c := range ix.Candidates(samples["doc-10"], time.Time{}, 10) {
		if c.ID == "doc-10" {
			t.Error("removed after compaction, still found")
		}
	}
}

// Candidates keeps the best few hits without sorting them all: what it
// returns must be the head of all hits in full order (score, then id).
func TestCandidatesAreTheBestHits(t *testing.T) {
	now := time.Now()
	gen := newSynthetic(11)
	wire := []string{gen.text(120), gen.text(120)}
	ix := NewIndex()
	var samples [][]uint32
	for i := 0; i < 400; i++ {
		s := Prepare("", wire[i%len(wire)]+" "+gen.text(40)).Print.Samples()
		samples = append(samples, s)
		ix.Add(fmt.Sprint("doc-", i), now, s)
	}
	for i := 0; i < len(samples); i += 37 {
		all := ix.Candidates(samples[i], time.Time{}, 1<<30)
		if len(all) < 50 {
			t.Fatalf("doc-%d hits only %d documents: the test needs many", i, len(all))
		}
		want := slices.Clone(all)
		sort.SliceStable(want, func(a, b int) bool {
			if want[a].Score != want[b].Score {
				return want[a].Score > want[b].Score
			}
			return order(want[a].ID) < order(want[b].ID) // ties: the first indexed
		})
		if !reflect.DeepEqual(all, want) {
			t.Fatalf("doc-%d: hits out of order", i)
		}
		for _, limit := range []int{1, 3, 8} {
			if got := ix.Candidates(samples[i], time.Time{}, limit); !reflect.DeepEqual(got, want[:limit]) {
				t.Errorf("doc-%d, limit %d: got %v, want %v", i, limit, got, want[:limit])
			}
		}
	}
	if got := ix.Candidates(samples[0], time.Time{}, 0); len(got) != 0 {
		t.Errorf("limit 0: got %v", got)
	}
}

// order is the place "doc-N" was indexed in.
func order(id string) int {
	var n int
	fmt.Sscanf(id, "doc-%d", &n)
	return n
}

// AppendText is the body's folded words, a space after each, whatever
// the vocabulary's order: the text an exact copy is told by.
func TestAppendText(t *testing.T) {
	body := "سئل المسؤول عن الأمر، فقال: الأمر يعود إلى الوزارة. والوزارة لم تجب"
	d := Prepare("عنوان", body)
	var want strings.Builder
	for _, w := range textnorm.Words(textnorm.Normalize(body)) {
		want.WriteString(foldDedup(w) + " ")
	}
	if got := string(d.AppendText(nil)); got != want.String() {
		t.Errorf("AppendText = %q, want %q", got, want.String())
	}
	if d.TextLen() != want.Len() || d.Print.Length != len(textnorm.Words(body)) {
		t.Errorf("TextLen %d, Length %d; want %d, %d", d.TextLen(), d.Print.Length, want.Len(), len(textnorm.Words(body)))
	}
}
