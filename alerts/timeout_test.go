package alerts

import (
	"testing"
	"time"
)

// A channel's own send timeout stands, longer than the default or not.
func TestSendTimeout(t *testing.T) {
	for _, c := range []struct {
		d    *Dispatcher
		want time.Duration
	}{
		{&Dispatcher{}, 30 * time.Second},
		{&Dispatcher{Timeout: 10 * time.Second}, 10 * time.Second},
		{&Dispatcher{Timeouts: map[string]time.Duration{"mail": 85 * time.Second}}, 85 * time.Second},
		{&Dispatcher{Timeout: 10 * time.Second, Timeouts: map[string]time.Duration{"mail": 5 * time.Second}}, 5 * time.Second},
	} {
		if got := c.d.sendTimeout("mail"); got != c.want {
			t.Errorf("Timeout %v, Timeouts %v: %v, want %v", c.d.Timeout, c.d.Timeouts, got, c.want)
		}
	}
}
