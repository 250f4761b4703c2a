package server

import (
	"fmt"
	"net/http"
	"time"
)

// lang is the interface's language: Arabic unless the desk chose English
// (a cookie set from the page's button).
type lang struct{ Lang, Dir string }

func pickLang(r *http.Request) lang {
	if c, err := r.Cookie(langCookie); err == nil && c.Value == "en" {
		return lang{"en", "ltr"}
	}
	return lang{"ar", "rtl"}
}

// Other is the language the page's button switches to.
func (l lang) Other() string {
	if l.Lang == "en" {
		return "ar"
	}
	return "en"
}

// arabic holds the interface's words in Arabic; English is the key.
var arabic = map[string]string{
	"raqib": "رقيب", "Stories": "القصص", "Alerts": "التنبيهات", "Rules": "القواعد", "Feeds": "المصادر",
	"other-language": "English", "search (the rule language)": "بحث (بلغة القواعد)",
	"any rule": "كل القواعد", "any feed": "كل المصادر", "any tag": "كل الوسوم", "newest first": "الأحدث أولاً", "largest first": "الأكبر أولاً",
	"Show": "عرض", "No stories yet.": "لا قصص بعد.", "copy": "نسخة", "copies": "نسخ",
	"develops": "تطوّر لـ", "an earlier story": "قصة سابقة", "later development": "تطوّر لاحق", "later developments": "تطوّرات لاحقة",
	"first seen": "أول ظهور", "similarity": "التشابه", "the report": "الخبر الأصلي", "Not a duplicate": "ليست نسخة",
	"Later developments": "التطوّرات اللاحقة", "pending": "قيد الانتظار", "failed": "فشل", "delivered": "أُرسل",
	"No alerts.": "لا تنبيهات.", "rule": "القاعدة", "channel": "القناة", "story": "القصة", "state": "الحالة",
	"all": "الكل", "previous": "السابق", "next": "التالي",
	"Searched back to": "بُحث حتى", "Search further back": "ابحث أبعد",
	"Digests waiting": "الملخّصات المنتظرة", "stories": "القصص", "leaves": "موعد الإرسال",
	"attempts": "المحاولات", "next try": "المحاولة التالية", "last error": "آخر خطأ", "Retry": "أعد المحاولة",
	"Try a rule": "جرّب قاعدة", "Try": "جرّب", "try": "جرّب", "match": "تطابق", "matches": "تطابقات", "among the latest items of the last 7 days:": "بين أحدث مواد آخر 7 أيام:",
	"query": "الاستعلام", "channels": "القنوات",
	"24 h": "24 ساعة", "7 days": "7 أيام", "feed": "المصدر", "health": "الحالة", "last success": "آخر نجاح",
	"next poll": "الجلب التالي", "items a day": "مواد في اليوم", "last 14 days": "آخر 14 يوماً",
	"failing": "متعطّل", "disabled": "موقوف", "late": "متأخر", "healthy": "سليم", "new": "جديد",
	"The server's token (server.token)": "رمز الخادم (server.token)", "Sign in": "دخول", "Sign out": "خروج",
	"That is not the server's token.": "هذا ليس رمز الخادم.", "last 24 hours": "آخر 24 ساعة",
	"last 7 days": "آخر 7 أيام", "last 30 days": "آخر 30 يوماً", "all time": "كل الوقت",
	"Story": "قصة", ", ": "، ", "The alert is queued to be sent again.": "أعيد التنبيه إلى قائمة الإرسال.",
	"The item is a story of its own now.": "صارت المادة قصة مستقلة.",
}

// T is a word of the interface in the page's language.
func (l lang) T(s string) string {
	if l.Lang == "ar" {
		if t, ok := arabic[s]; ok {
			return t
		}
	} else if s == "other-language" {
		return "العربية"
	}
	return s
}

// N is a count with its noun.
func (l lang) N(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, l.T(one))
	}
	return fmt.Sprintf("%d %s", n, l.T(many))
}

// When is a time as the page shows it: how long ago (or until) for the
// last day, the date and time otherwise; the exact time is in the
// element's datetime.
func (l lang) When(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	ar := l.Lang == "ar"
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d > 24*time.Hour:
		return t.Local().Format("2006-01-02 15:04")
	case d < time.Minute:
		s = map[bool]string{true: "لحظات", false: "moments"}[ar]
	case d < time.Hour:
		s = fmt.Sprintf("%d %s", int(d.Minutes()), map[bool]string{true: "دقيقة", false: "min"}[ar])
	default:
		s = fmt.Sprintf("%d %s", int(d.Hours()), map[bool]string{true: "ساعة", false: "h"}[ar])
	}
	switch {
	case ar && future:
		return "بعد " + s
	case ar:
		return "قبل " + s
	case future:
		return "in " + s
	}
	return s + " ago"
}
