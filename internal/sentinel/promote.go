package sentinel

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"
)

// The early switch (see the package documentation): the failover leader
// publishes +failover-state-wait-promotion right after it sends SLAVEOF NO
// ONE to the replica it chose, but names that replica only once its next
// INFO shows the promotion, up to a second later, while the old master,
// which nothing replicates any more, keeps acknowledging writes that will
// be lost. The Watcher polls ROLE on the replica instead and switches as
// soon as it answers master. It keeps the epoch it holds, so the old
// master, named under that epoch by sentinels that lag, is ignored, and
// the leader's answer under the new epoch raises it. If the failover
// aborts after the promotion, the sentinels make the replica a replica
// again and offer's demotion rule follows them back.

// Promotion polling.
const (
	// promotionWait bounds how long a replica the leader told to become
	// master is polled; SLAVEOF NO ONE takes effect at once, so a replica
	// still not a master after this is left to the sentinels' answers.
	promotionWait = 5 * time.Second
	// promotionPollMax caps the doubling pause between two ROLE polls,
	// which starts at a millisecond.
	promotionPollMax = 50 * time.Millisecond
)

// parsePromotion reads a +failover-state-wait-promotion message, "slave
// <ip:port> <ip> <port> @ <master> <old-ip> <old-port>", and returns the
// promoted replica's address, the master set and the old master's
// address.
func parsePromotion(msg string) (promoted, master, old string, ok bool) {
	f := strings.Fields(msg)
	if len(f) != 8 || f[0] != "slave" || f[4] != "@" {
		return "", "", "", false
	}
	return net.JoinHostPort(f[2], f[3]), f[5], net.JoinHostPort(f[6], f[7]), true
}

// promoting starts awaitPromotion for a +failover-state-wait-promotion
// message about our master set, when it demotes the master the Watcher
// follows.
func (w *Watcher) promoting(ctx context.Context, msg string) {
	promoted, master, old, ok := parsePromotion(msg)
	from := w.cur.Load()
	if !ok || master != w.opts.MasterName || old != from.addr || promoted == from.addr {
		return
	}
	w.wg.Add(1)
	go w.awaitPromotion(ctx, promoted, from)
}

// awaitPromotion polls ROLE on promoted until it answers master, then
// switches to it unless the Watcher moved on from from in the meantime.
// It gives up after promotionWait, when the Watcher moves on, or when ctx
// ends.
func (w *Watcher) awaitPromotion(ctx context.Context, promoted string, from *view) {
	defer w.wg.Done()
	deadline := time.Now().Add(promotionWait)
	for pause := time.Millisecond; ; pause = min(2*pause, promotionPollMax) {
		if w.cur.Load() != from {
			return
		}
		if w.isMaster(ctx, promoted) == nil {
			w.decide.Lock()
			if w.cur.Load() == from {
				w.log.Info("sentinel: the failover leader's replica is a master; switching before the sentinels name it",
					slog.String("redis.addr", promoted))
				w.set(*from, view{addr: promoted, epoch: from.epoch})
			}
			w.decide.Unlock()
			return
		}
		if time.Now().After(deadline) {
			w.log.Debug("sentinel: the failover leader's replica did not become a master", slog.String("redis.addr", promoted))
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
