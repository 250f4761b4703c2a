package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/raqib/raqib/feeds"
	"github.com/raqib/raqib/server"
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

	var l net.Listener
	if addr := a.cfg.Server.Listen; addr != "" {
		if l, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("server.listen %s: %w", addr, err)
		}
		forget, err := noteAddr(a.cfg, l)
		if err != nil {
			return err
		}
		defer forget()
	}
	metrics := server.NewMetrics(a.store)
	poller := a.poller()
	poller.OnResult = metrics.ObservePoll
	a.dispatcher.OnDelivery = metrics.ObserveDelivery
	sched := &feeds.Scheduler{
		Poller:  poller,
		Feeds:   a.cfg.Feeds,
		Default: a.cfg.Poll.Schedule,
		Workers: a.cfg.Poll.Workers,
		Jitter:  a.cfg.Poll.Jitter.D(),
		PollNow: true,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	dispatched := make(chan struct{})
	go func() { a.dispatcher.Run(ctx); close(dispatched) }()
	go func() {
		// Hourly: forget index entries past the dedup window, prune items
		// past storage.retention.
		for {
			if _, err := a.pipe.Maintain(ctx, a.cfg.Storage.Retention.D()); err != nil && ctx.Err() == nil {
				log.Error("maintenance", "error", err)
			}
			tuneGC(log)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Hour):
			}
		}
	}()
	served := make(chan error, 1)
	if l != nil {
		srv := &server.Server{Config: a.cfg, Store: a.store, Metrics: metrics, Log: log, Ready: sched.Running, NotDuplicate: a.pipe.NotDuplicate}
		go func() { served <- srv.ListenAndServe(ctx, l) }()
		log.Info("raqib started", "version", feeds.Version, "config", a.cfg.Path, "store", a.cfg.Storage.Path, "feeds", len(a.cfg.Feeds),
			"http", "http://"+l.Addr().String()+"/", "subscribe", "http://"+l.Addr().String()+"/feeds/all.atom")
	} else {
		log.Info("raqib started", "version", feeds.Version, "config", a.cfg.Path, "store", a.cfg.Storage.Path, "feeds", len(a.cfg.Feeds))
	}
	select {
	case <-ctx.Done():
	case err = <-served:
		log.Error("http server stopped", "error", err)
		cancel()
	}
	log.Info("stopping: cancelling in-flight polls")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		log.Warn("polls did not stop within 10s; closing anyway")
	}
	<-dispatched
	if l != nil && err == nil {
		err = <-served
	}
	log.Info("raqib stopped")
	return err
}
