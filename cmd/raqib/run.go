package main

import (
	"context"
	"io"
	"time"

	"github.com/raqib/raqib/feeds"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("run", "run [--config PATH] [--log-level info]", stderr)
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr, *level)
	a, err := openApp(ctx, *cfgPath, log, true)
	if err != nil {
		return err
	}
	defer a.close()
	log.Info("raqib started", "version", feeds.Version, "config", a.cfg.Path, "store", a.cfg.Storage.Path, "feeds", len(a.cfg.Feeds))
	sched := &feeds.Scheduler{
		Poller:  a.poller(),
		Feeds:   a.cfg.Feeds,
		Default: a.cfg.Poll.Schedule,
		Workers: a.cfg.Poll.Workers,
		Jitter:  a.cfg.Poll.Jitter.D(),
		PollNow: true,
	}
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	dispatched := make(chan struct{})
	go func() { a.dispatcher.Run(ctx); close(dispatched) }()
	<-ctx.Done()
	log.Info("stopping: cancelling in-flight polls")
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		log.Warn("polls did not stop within 10s; closing anyway")
	}
	<-dispatched
	log.Info("raqib stopped")
	return err
}
