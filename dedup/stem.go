package dedup

import "strings"

// proclitics, longest first: the conjunctions, prepositions and article
// that Arabic writes joined to the next word.
var proclitics = []string{"وبال", "وكال", "فبال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال", "و", "ف", "ب", "ل", "ك"}

// stem strips proclitics and a few suffixes from an Arabic word so that
// "وأعرب" and "أعرب", "للمنتخب" and "المنتخب" compare equal. It is a light
// comparison key, not a linguistic stem; words of three letters or fewer
// after stripping keep their prefix.
func stem(w string) string {
	if w == "" || !isArabicByte(w[0]) {
		return w
	}
	// Arabic letters take two bytes each: a rest of 6 bytes is 3 letters.
	if len(w) >= 8 {
		for _, p := range proclitics {
			if len(w)-len(p) >= 6 && strings.HasPrefix(w, p) {
				w = w[len(p):]
				break
			}
		}
	}
	if len(w) >= 8 {
		for _, s := range suffixes {
			if len(w)-len(s) >= 6 && strings.HasSuffix(w, s) {
				return w[:len(w)-len(s)]
			}
		}
	}
	return w
}

var suffixes = []string{"ها", "هم", "ات", "ين", "ون", "ان", "يه", "ه"}

func isArabicByte(b byte) bool { return b == 0xD8 || b == 0xD9 || b == 0xDA || b == 0xDB }

// stopwords are function words and reporting verbs (normalised): they
// carry no news peg, so a rewrite may add or drop them freely. Built in
// the variable's initialiser, not an init function: other files' init
// functions (stopKeys) read it, and those run in file-name order.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`في من الي علي عن مع ان او ثم حتي اذا لقد قد لم لن لا ما ماذا هل كل بعض غير بين عند منذ خلال بعد قبل حول ضد دون عبر لدي لدى
	هذا هذه ذلك تلك هو هي هم هن انه انها الذي التي الذين اللذين اللتين اللواتي وهو وهي كما ايضا اي كان كانت يكون تكون وكان وكانت
	قال قالت يقول تقول اكد اكدت يؤكد اضاف اضافت يضيف اشار اشارت يشير اوضح اوضحت يوضح ذكر ذكرت افاد افادت اعلن اعلنت اليوم امس غدا
	حيث وقد وفي ومن والي وعلي وعن ومع وان فيما بينما لكن ولكن بل عندما كذلك جدا تم يتم وتم سيتم مساء صباح الاثنين الثلاثاء الاربعاء الخميس الجمعه السبت الاحد
	the a an of to in on for and or is are was were be by with from at as that this it its has have had will said says`) {
		m[w] = true
	}
	return m
}()
