package dedup

import (
	"math"
	"strconv"
	"strings"
)

// Facts are the words that carry a report's particulars and that a
// rewrite keeps however it is worded: its figures (digits, and the number
// words and ordinals that spell them: "أربعة وزراء" is "4 وزراء", "ثاني
// طائرة" is "الطائرة الثانية") and its weekdays. A figure or a day in one
// report's title or lead that the other does not have is a new fact: the
// same template telling another market session, another relief flight,
// another day's forecast.

// numberWords maps normalised number words and ordinals to their digits.
var numberWords = map[string]string{}

// weekdays are the normalised day names (الثلاثاء is normalised as written,
// the hamza on its line dropped by foldDedup).
var weekdays = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`واحد:1 واحده:1 اثنان:2 اثنين:2 اثنتين:2 اثنتان:2
	ثلاث:3 ثلاثه:3 اربع:4 اربعه:4 خمس:5 خمسه:5 ست:6 سته:6 سبع:7 سبعه:7 ثماني:8 ثمانيه:8 ثمان:8
	تسع:9 تسعه:9 عشر:10 عشره:10 عشرون:20 عشرين:20 ثلاثون:30 ثلاثين:30 اربعون:40 اربعين:40
	خمسون:50 خمسين:50 ستون:60 ستين:60 سبعون:70 سبعين:70 ثمانون:80 ثمانين:80 تسعون:90 تسعين:90
	مئه:100 مائه:100 مئتين:200 مئتان:200 مائتين:200 مائتان:200
	اول:1 الاول:1 الاولي:1 اولي:1 ثاني:2 الثاني:2 الثانيه:2 ثانيه:2 ثالث:3 الثالث:3 الثالثه:3
	رابع:4 الرابع:4 الرابعه:4 خامس:5 الخامس:5 الخامسه:5 سادس:6 السادس:6 السادسه:6
	سابع:7 السابع:7 السابعه:7 ثامن:8 الثامن:8 الثامنه:8 تاسع:9 التاسع:9 التاسعه:9 عاشر:10 العاشر:10 العاشره:10
	one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10
	first:1 second:2 third:3 fourth:4 fifth:5`) {
		k, v, _ := strings.Cut(e, ":")
		numberWords[k] = v
	}
	for _, d := range strings.Fields(`الاثنين الثلاثا الاربعا الخميس الجمعه السبت الاحد
	monday tuesday wednesday thursday friday saturday sunday`) {
		weekdays[d] = true
	}
}

// factWords maps each number word and day, also behind the
// conjunctions and prepositions that join them (وأربعة, بالخميس), to the
// fact it states: one lookup a word.
var factWords = map[string]string{}

func init() {
	for _, p := range [...]string{"", "و", "ب", "ل", "ف", "وب", "ول"} {
		for w, v := range numberWords {
			factWords[p+w] = "#" + v
		}
		for w := range weekdays {
			factWords[p+w] = "@" + w
		}
	}
}

// factOf returns the fact a dedup-folded word states, as the text its key
// is made from ("#4", "@الخميس"), or "" for a word that states none.
// "الف", "مليون" and the like scale a figure and are left to the figure
// they follow.
func factOf(w string) string {
	if isNumber(w) {
		return "#" + strings.ReplaceAll(w, ",", "")
	}
	// A figure behind a conjunction or preposition: و16, ب25.
	for _, p := range [...]string{"و", "ب", "ل", "ف"} {
		if rest, ok := strings.CutPrefix(w, p); ok && isNumber(rest) {
			return "#" + strings.ReplaceAll(rest, ",", "")
		}
	}
	return factWords[w]
}

// isFigure reports whether a fact is a figure given in digits.
func isFigure(fact string) bool {
	return len(fact) > 1 && fact[0] == '#' && fact[1] >= '0' && fact[1] <= '9'
}

// isDay reports whether a fact is a weekday.
func isDay(fact string) bool { return strings.HasPrefix(fact, "@") }

// scales are the words that scale a figure before them, as the suffix
// of its rounded form.
var scales = map[string]string{
	"الف": "k", "الفا": "k", "الاف": "k", "thousand": "k",
	"مليون": "m", "مليونا": "m", "ملايين": "m", "million": "m",
	"مليار": "b", "مليارا": "b", "مليارات": "b", "billion": "b",
}

// roundings are the rounded forms a headline may give a large figure:
// thousands, millions and billions, down and to the nearest.
func roundings(digits string) []string {
	x, err := strconv.ParseFloat(digits, 64)
	if err != nil || x < 1000 {
		return nil
	}
	var out []string
	for _, u := range []struct {
		n    float64
		unit string
	}{{1e3, "k"}, {1e6, "m"}, {1e9, "b"}} {
		if x < u.n {
			break
		}
		v := x / u.n
		out = append(out, strconv.FormatFloat(math.Floor(v), 'f', -1, 64)+u.unit, strconv.FormatFloat(math.Round(v), 'f', -1, 64)+u.unit,
			strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)+u.unit)
	}
	return out
}
