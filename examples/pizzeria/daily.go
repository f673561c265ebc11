package main

// Closing the day's stats: a schedule (queue.Scheduler) that every
// instance runs, and each tick fires in exactly one of them. The tick
// writes a snapshot of the shop's numbers and counts, per instance, the
// ticks it fired: on the page their sum goes up by one per tick however
// many instances run.

import (
	"context"
	"time"

	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/queue"
)

// dailyEvery is the demo's "day": a tick every so often, to watch it.
var dailyEvery = 30 * time.Second

// closedDay is the snapshot a tick writes.
type closedDay struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"` // the instance that fired the tick
	Orders  int64     `json:"orders"`
	Ready   int       `json:"ready"`
	Dead    int64     `json:"dead"`
	TopSold string    `json:"top_sold,omitempty"`
}

type daily struct {
	s     *shop
	sched *queue.Scheduler
	last  *collection.Hash[closedDay]
	ticks *collection.Hash[int64] // instance → ticks fired
}

func (s *shop) setupDaily(_, bctx context.Context) error {
	d := &daily{
		s:     s,
		sched: queue.NewScheduler(s.kit, "pizzeria", nil),
		last:  collection.NewHash[closedDay](s.kit, "daily:last"),
		ticks: collection.NewHash[int64](s.kit, "daily:ticks"),
	}
	s.daily = d
	if err := d.sched.Every("close-day", dailyEvery, d.close); err != nil {
		return err
	}
	s.background(bctx, "scheduler", d.sched.Run)
	return nil
}

// close is the tick: one instance of the fleet runs it.
func (d *daily) close(ctx context.Context) error {
	recent, err := d.s.orders.recentOrders(ctx)
	if err != nil {
		return err
	}
	snap := closedDay{At: time.Now().UTC(), By: d.s.name, Orders: d.s.orders.placedTotal(ctx)}
	for _, o := range recent {
		if o.Status == statusReady {
			snap.Ready++
		}
	}
	if st, err := d.s.kitchen.q.Stats(ctx); err == nil {
		snap.Dead = st.Dead
	}
	if top, err := d.s.orders.popular.Range(ctx, 0, 0, true); err == nil && len(top) > 0 {
		snap.TopSold = top[0].Value
	}
	if err := d.last.Set(ctx, "day", snap); err != nil {
		return err
	}
	_, err = d.ticks.Incr(ctx, d.s.name, 1)
	return err
}

// status is the panel's view: the last snapshot and ticks per instance.
func (d *daily) status(ctx context.Context) (map[string]any, error) {
	last, _, err := d.last.Get(ctx, "day")
	if err != nil {
		return nil, err
	}
	ticks, err := d.ticks.GetAll(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"last": last, "ticks": ticks, "every": dailyEvery.String()}, nil
}
