package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"time"
)

// events are the sentinel channels that announce a configuration for a
// master set. The failover leader publishes +failover-state-wait-promotion
// when it tells the replica it chose to become master (see promote.go),
// and +promoted-slave and +failover-state-reconf-slaves when it sees that
// replica report itself master and starts naming it; the other sentinels
// publish +config-update-from and +switch-master when they adopt the
// leader's configuration from its hello messages; the leader publishes its
// own +switch-master only at the end of the failover. +reset-master
// follows SENTINEL RESET.
var events = []string{
	"+failover-state-wait-promotion",
	"+promoted-slave",
	"+failover-state-reconf-slaves",
	"+config-update-from",
	"+switch-master",
	"+reset-master",
}

// Subscription timing.
const (
	// pingIdle is how long a subscription may stay silent before a PING
	// checks that the sentinel is still there; a PING unanswered within
	// Options.Timeout drops the connection.
	pingIdle = 3 * time.Second
	// backoffMin and backoffMax bound the wait before redialling a
	// sentinel whose subscription failed.
	backoffMin = 50 * time.Millisecond
	backoffMax = time.Second
)

// backoff returns the wait before the attempt-th redial (0-based): doubling
// from backoffMin up to backoffMax, with jitter over its upper half.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 10 {
		d = min(backoffMin<<attempt, backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// watch keeps a subscription to l's sentinel until ctx ends, redialling
// with backoff when it fails. It logs when a subscription is lost and when
// it is back, not every failed attempt.
func (w *Watcher) watch(ctx context.Context, l *link) {
	defer w.wg.Done()
	log := w.log.With(slog.String("sentinel.addr", l.addr))
	lost := false // an attempt failed, was logged, and none succeeded since
	for attempt := 0; ; attempt++ {
		subscribed, err := w.subscribe(ctx, l, lost)
		if ctx.Err() != nil {
			return
		}
		switch {
		case subscribed:
			attempt = 0
			log.Warn("sentinel: subscription lost", slog.Any("error", err))
		case !lost:
			log.Warn("sentinel: cannot subscribe", slog.Any("error", err))
		}
		lost = true
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// subscribe dials l's sentinel, subscribes to events, asks the sentinel for
// the master (events may have been missed while not subscribed) and then
// handles messages until the connection fails or ctx ends. It reports
// whether the subscription was established; recovered says to log it.
func (w *Watcher) subscribe(ctx context.Context, l *link, recovered bool) (subscribed bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	c, err := w.sentinels.dial(dctx, l.addr)
	cancel()
	if err != nil {
		return false, err
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()

	sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	replies, err := c.exchange(sctx, len(events), append([]string{"SUBSCRIBE"}, events...))
	cancel()
	if err != nil {
		return false, err
	}
	for _, r := range replies {
		if e, ok := r.(replyError); ok {
			return false, fmt.Errorf("SUBSCRIBE: %w", e)
		}
		if m, _ := r.([]any); len(m) != 3 || asString(m[0]) != "subscribe" {
			return false, fmt.Errorf("SUBSCRIBE: unexpected reply %v", r)
		}
	}
	if recovered {
		w.log.Info("sentinel: subscribed again", slog.String("sentinel.addr", l.addr))
	}
	w.check(ctx, l)

	pinged := false
	for {
		idle := pingIdle
		if pinged {
			idle = w.opts.Timeout
		}
		c.nc.SetReadDeadline(time.Now().Add(idle))
		// Wait for a message to start; a timeout here consumed nothing, so
		// the connection is still in step.
		if _, err := c.r.Peek(1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				c.nc.SetWriteDeadline(time.Now().Add(w.opts.Timeout))
				c.write([]string{"PING"})
				if err := c.w.Flush(); err != nil {
					return true, err
				}
				pinged = true
				continue
			}
			if pinged {
				return true, errors.New("no reply to PING")
			}
			return true, err
		}
		c.nc.SetReadDeadline(time.Now().Add(w.opts.Timeout))
		v, err := c.read()
		if err != nil {
			return true, err
		}
		pinged = false
		msg, _ := v.([]any)
		if len(msg) != 3 || asString(msg[0]) != "message" {
			continue // a PING's pong, or a confirmation
		}
		channel, payload := asString(msg[1]), asString(msg[2])
		if eventMaster(channel, payload) != w.opts.MasterName {
			continue
		}
		w.log.Debug("sentinel: event", slog.String("sentinel.addr", l.addr),
			slog.String("sentinel.event", channel), slog.String("sentinel.message", payload))
		if channel == "+failover-state-wait-promotion" {
			w.promoting(ctx, payload)
			continue // the sentinel does not name the replica yet
		}
		w.check(ctx, l)
	}
}

// eventMaster returns the master set a sentinel event is about, "" when
// the message does not say. Messages are "<master> <old-ip> <old-port>
// <new-ip> <new-port>" for +switch-master, "master <name> <ip> <port>" for
// events about a master, and "<type> <name> <ip> <port> @ <master> <ip>
// <port>" for events about a replica or another sentinel.
func eventMaster(channel, msg string) string {
	f := strings.Fields(msg)
	switch {
	case len(f) == 0:
		return ""
	case channel == "+switch-master":
		return f[0]
	case f[0] == "master" && len(f) > 1:
		return f[1]
	}
	for i, s := range f {
		if s == "@" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// refreshLoop asks every sentinel each Options.RefreshInterval until ctx
// ends.
func (w *Watcher) refreshLoop(ctx context.Context) {
	defer w.wg.Done()
	t := time.NewTicker(w.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		answers, errs := w.askAll(ctx)
		for _, err := range errs {
			w.log.Debug("sentinel: ask", slog.Any("error", err))
		}
		if len(answers) > 0 {
			w.offer(ctx, answers)
		}
	}
}
