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
		// Read commands find a BoltDB daemon's API here; a PostgreSQL
		// store they read directly.
		if a.bolt != nil {
			forget, err := noteAddr(a.cfg, l)
			if err != nil {
				return err
			}
			defer forget()
		}
	}
	if err := a.joinFleet(ctx, "run"); err != nil {
		return err
	}
	metrics := server.NewMetrics(a.store, a.cfg.Server.MetricsPerFeed)
	poller := a.poller()
	poller.OnResult = metrics.ObservePoll
	a.dispatcher.OnDelivery = metrics.ObserveDelivery
	sched := &feeds.Scheduler{
		Poller:   poller,
		Feeds:    a.cfg.Feeds,
		Default:  a.cfg.Poll.Schedule,
		InFlight: a.cfg.Poll.Connections,
		Jitter:   a.cfg.Poll.Jitter.D(),
		PollNow:  true,
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
		srv := &server.Server{Config: a.cfg, Store: a.store, Metrics: metrics, Log: log, Ready: sched.Running, NotDuplicate: a.pipe.NotDuplicate, WakeAlerts: a.dispatcher.Wake}
		if a.bolt != nil {
			srv.Backup = a.bolt.Backup
		}
		go func() { served <- srv.ListenAndServe(ctx, l) }()
		log.Info("raqib started", "version", feeds.Version, "config", a.cfg.Path, "store", a.storeName(), "feeds", len(a.cfg.Feeds),
			"http", "http://"+l.Addr().String()+"/", "subscribe", "http://"+l.Addr().String()+"/feeds/all.atom")
	} else {
		log.Info("raqib started", "version", feeds.Version, "config", a.cfg.Path, "store", a.storeName(), "feeds", len(a.cfg.Feeds))
	}
	serverDone := l == nil
	select {
	case <-ctx.Done():
	case err = <-served:
		log.Error("http server stopped", "error", err)
		serverDone = true
		cancel()
	}
	log.Info("stopping: cancelling in-flight polls and deliveries")
	// Everything in flight was given ctx and stops at once; whatever
	// still holds on is waited for up to stopWithin in all, then left:
	// every write is a transaction, so what did not commit is not there,
	// and alerts not delivered stay pending.
	deadline := time.After(stopWithin)
	for name, ch := range map[string]<-chan struct{}{"polls": chanOf(done), "deliveries": dispatched, "http server": chanOf(served)} {
		if name == "http server" && serverDone {
			continue
		}
		select {
		case <-ch:
		case <-deadline:
			log.Warn("did not stop in time; exiting anyway (nothing is half-written)", "waiting_for", name, "within", stopWithin.String())
			a.closeWithin(2 * time.Second)
			return err
		}
	}
	log.Info("raqib stopped")
	return err
}

// stopWithin bounds a shutdown, so that a supervisor's stop (systemd waits
// 90 s by default, Kubernetes 30 s) never has to kill raqib.
const stopWithin = 10 * time.Second

// chanOf turns a one-value error channel into one that closes when the
// value comes, so that a shutdown can wait for several in turn.
func chanOf(c <-chan error) <-chan struct{} {
	out := make(chan struct{})
	go func() { <-c; close(out) }()
	return out
}
