package feeds

import (
	"testing"
	"time"
)

func TestJitterIsAtMostHalfTheInterval(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for spec, want := range map[string]time.Duration{
		"@every 1s":   500 * time.Millisecond,
		"@every 10s":  5 * time.Second,
		"@every 15m":  30 * time.Second,
		"*/1 * * * *": 30 * time.Second,
		"0 * * * *":   30 * time.Second,
	} {
		if got := jitterFor(spec, 30*time.Second, now); got != want {
			t.Errorf("%s: jitter %v, want %v", spec, got, want)
		}
		for _, name := range []string{"a", "b", "c", "feed-42"} {
			if off := Offset(name, jitterFor(spec, 30*time.Second, now)); off > want {
				t.Errorf("%s: feed %s waits %v", spec, name, off)
			}
		}
	}
}
