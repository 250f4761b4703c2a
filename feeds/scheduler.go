package feeds

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/raqib/raqib/config"
)

// Scheduler polls each feed on its cron schedule. A feed's poll never
// overlaps itself; InFlight bounds concurrent polls (the Poller's Workers,
// those of them parsing and ingesting); each feed
// waits a stable offset within the jitter window before fetching.
type Scheduler struct {
	Poller   *Poller
	Feeds    []config.Feed
	Default  string // poll.schedule
	InFlight int
	Jitter   time.Duration
	PollNow  bool // poll every feed once at start
	running  atomic.Bool
	inFlight sync.WaitGroup
}

// Running reports whether the scheduler is up (for readiness checks).
func (s *Scheduler) Running() bool { return s.running.Load() }

// Run schedules the feeds and blocks until ctx is done, then waits for
// in-flight polls, which see ctx cancelled, to return.
func (s *Scheduler) Run(ctx context.Context) error {
	c := cron.New(cron.WithParser(cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)))
	sem := make(chan struct{}, max(1, s.InFlight))
	var startup []func()
	for _, f := range s.Feeds {
		if !f.IsEnabled() {
			continue
		}
		spec := f.Schedule
		if spec == "" {
			spec = s.Default
		}
		var busy atomic.Bool
		offset := Offset(f.Name, jitterFor(spec, s.Jitter, time.Now()))
		job := func() {
			// A poll by another daemon of the fleet within half the
			// feed's interval (the one that starts now) stands for this
			// tick's.
			tick := time.Now().Add(-halfInterval(spec))
			if !busy.CompareAndSwap(false, true) {
				return // the previous poll of this feed is still running
			}
			defer busy.Store(false)
			select {
			case <-time.After(offset):
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			s.Poller.PollScheduled(ctx, f, tick)
		}
		if _, err := c.AddFunc(spec, job); err != nil {
			return fmt.Errorf("schedule feed %s (%q): %w", f.Name, spec, err)
		}
		startup = append(startup, job)
	}
	c.Start()
	s.running.Store(true)
	if s.PollNow {
		// Counted before they start, so that Wait below sees them all;
		// cron's own runs are waited for by Stop.
		s.inFlight.Add(len(startup))
		for _, job := range startup {
			go func() {
				defer s.inFlight.Done()
				job()
			}()
		}
	}
	<-ctx.Done()
	s.running.Store(false)
	<-c.Stop().Done()
	s.inFlight.Wait()
	s.Poller.FlushStates(context.Background())
	return nil
}

// halfInterval is half the interval of schedule spec.
func halfInterval(spec string) time.Duration {
	if sched, err := config.ParseSchedule(spec); err == nil {
		return config.Interval(sched, time.Now()) / 2
	}
	return 0
}

// jitterFor is the jitter window of a feed on schedule spec: at most half
// its own interval, or a window meant for a 15-minute schedule would hold
// a feed polled every second back by up to the whole window.
func jitterFor(spec string, jitter time.Duration, now time.Time) time.Duration {
	if sched, err := config.ParseSchedule(spec); err == nil {
		jitter = min(jitter, config.Interval(sched, now)/2)
	}
	return jitter
}
