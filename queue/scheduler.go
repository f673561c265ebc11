package queue

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/optcheck"
)

var (
	//go:embed claim.lua
	claimSrc    string
	claimScript = rueidis.NewLuaScript(claimSrc)
)

// DefaultMaxSkew is SchedulerOptions.MaxSkew's default.
const DefaultMaxSkew = time.Second

// SchedulerOptions configure a Scheduler. The zero value (or nil) means
// the defaults.
type SchedulerOptions struct {
	// MaxSkew is how far the clocks of the processes running the schedule
	// may be from Redis's: a process whose clock runs ahead by more waits,
	// so no tick fires more than MaxSkew before it is due on Redis's
	// clock. Ticks fire at most once whatever the skew. Default
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// Location is the time zone of Cron specs (a spec may set its own
	// with a "CRON_TZ=Europe/Rome " prefix); nil means UTC, so that every
	// process computes the same ticks whatever its local zone.
	Location *time.Location
}

// Validate reports every invalid field of o; nil when o is nil or valid.
// NewScheduler panics with this error.
func (o *SchedulerOptions) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("queue: SchedulerOptions")
	optcheck.NonNegative(c, "MaxSkew", o.MaxSkew)
	return c.Err()
}

// Scheduler runs functions periodically, each tick in exactly one of the
// processes running the same schedule (same Kit prefix and name). Add
// entries with Every and Cron, then call Run in every process.
//
// Each entry keeps one Redis key holding the latest tick it fired; a
// process claims a tick with a script that sets it only if it is later,
// so a tick fires at most once across the fleet, restarts and clock skew
// included, and never out of order. A process that wakes late (paused,
// overloaded) finds the tick taken and goes on to the next. Ticks that
// pass while no process runs the schedule are not fired late in a burst:
// the next tick fires on time and Stats counts the ones skipped.
//
// Firing is at most once per tick: if the process dies while fn runs, the
// tick is not fired again. For at-least-once work, let fn push a job
// (PushUnique with the tick as the unique key, see Tick) and a Work
// handler do it, with retries.
type Scheduler struct {
	k       *redkit.Kit
	name    string
	skew    time.Duration
	loc     *time.Location
	err     error
	logger  *slog.Logger
	mu      sync.Mutex
	entries []*entry
	running bool

	fired, lost, skipped, errs atomic.Int64
	m                          schedMetrics
}

type schedMetrics struct {
	fired, skipped, failed metric.Int64Counter
	attrs                  metric.MeasurementOption
}

// SchedulerStats counts a Scheduler's ticks in this process since
// NewScheduler.
type SchedulerStats struct {
	Fired int64 // ticks this process fired
	Lost  int64 // ticks another process fired first
	// Skipped counts ticks nobody fired (every process was down, or late
	// past the next tick), as seen by this process.
	Skipped int64
	Errors  int64 // fn returned an error or panicked
}

type schedule interface {
	Next(time.Time) time.Time
}

// every is a fixed interval aligned to the Unix epoch, so that every
// process computes the same ticks.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := int64(e)
	n := t.UnixNano()
	return time.Unix(0, (n/d+1)*d)
}

type entry struct {
	id    string
	key   string
	sched schedule
	fn    func(ctx context.Context) error
}

// NewScheduler returns the schedule called name (its keys are
// k.Key("sched", "{name}", id)). It does no I/O and starts nothing. It
// panics if k is nil or opts.Validate reports an error; an empty name is
// reported by Every, Cron and Run (redkit.ErrEmptyKey).
func NewScheduler(k *redkit.Kit, name string, opts *SchedulerOptions) *Scheduler {
	if k == nil {
		panic("queue: NewScheduler with a nil *redkit.Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o SchedulerOptions
	if opts != nil {
		o = *opts
	}
	s := &Scheduler{k: k, name: name, skew: cmpOr(o.MaxSkew, DefaultMaxSkew), loc: o.Location}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if name == "" {
		s.err = redkit.ErrEmptyKey
	}
	tel := engine.HooksOf(k.Client()).Tel
	s.logger = tel.Logger
	counter := func(n, desc string) metric.Int64Counter {
		c, _ := tel.Meter.Int64Counter(tel.Name("queue.schedule."+n), metric.WithDescription(desc))
		return c
	}
	s.m = schedMetrics{
		fired:   counter("fired", "Schedule ticks fired by this process"),
		skipped: counter("skipped", "Schedule ticks nobody fired"),
		failed:  counter("failed", "Schedule functions that failed or panicked"),
		attrs:   metric.WithAttributeSet(attribute.NewSet(attribute.String("queue.schedule", name))),
	}
	return s
}

// Every adds the entry id, firing fn every interval, at the multiples of
// interval since the Unix epoch (so every process agrees on the ticks;
// Every(id, time.Hour, fn) fires on the hour, UTC). It returns an error
// for an empty or duplicate id, an interval under a millisecond, or when
// Run has started.
func (s *Scheduler) Every(id string, interval time.Duration, fn func(ctx context.Context) error) error {
	if interval < time.Millisecond {
		return redkit.Wrap("queue: schedule every", s.name, fmt.Errorf("entry %q: interval %s is under 1ms", id, interval))
	}
	return s.add("queue: schedule every", id, every(interval), fn)
}

// Cron adds the entry id, firing fn on the standard 5-field cron spec
// ("minute hour day-of-month month day-of-week", "*/5 * * * *") or a
// descriptor (@yearly, @monthly, @weekly, @daily, @hourly, or @every
// <duration>, which is Every), parsed by github.com/robfig/cron/v3, in
// SchedulerOptions.Location. It returns an error for a bad spec, an empty
// or duplicate id, or when Run has started.
func (s *Scheduler) Cron(id string, spec string, fn func(ctx context.Context) error) error {
	const op = "queue: schedule cron"
	if d, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		interval, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return redkit.Wrap(op, s.name, fmt.Errorf("entry %q: spec %q: %w", id, spec, err))
		}
		return s.Every(id, interval, fn)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return redkit.Wrap(op, s.name, fmt.Errorf("entry %q: spec %q: %w", id, spec, err))
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok && !strings.HasPrefix(strings.TrimSpace(spec), "CRON_TZ=") && !strings.HasPrefix(strings.TrimSpace(spec), "TZ=") {
		ss.Location = s.loc
	}
	return s.add(op, id, sched, fn)
}

func (s *Scheduler) add(op, id string, sched schedule, fn func(ctx context.Context) error) error {
	if s.err != nil {
		return redkit.Wrap(op, s.name, s.err)
	}
	if id == "" || fn == nil {
		return redkit.Wrap(op, s.name, errors.New("queue: schedule entry needs an id and a function"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return redkit.Wrap(op, s.name, fmt.Errorf("entry %q: the scheduler is already running", id))
	}
	for _, e := range s.entries {
		if e.id == id {
			return redkit.Wrap(op, s.name, fmt.Errorf("entry %q: already scheduled", id))
		}
	}
	s.entries = append(s.entries, &entry{id: id, key: s.k.Key("sched", redkit.HashTag(s.name), id), sched: sched, fn: fn})
	return nil
}

// Stats returns this process's tick counts.
func (s *Scheduler) Stats() SchedulerStats {
	return SchedulerStats{Fired: s.fired.Load(), Lost: s.lost.Load(), Skipped: s.skipped.Load(), Errors: s.errs.Load()}
}

type tickKey struct{}

// Tick returns the tick a Scheduler function was called for (its
// scheduled time, the same in every process), from the function's ctx.
func Tick(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(tickKey{}).(time.Time)
	return t, ok
}

// Run fires the entries' ticks until ctx is done, then waits for running
// functions (their ctx is ctx) and returns nil. Each function runs in
// turn with itself: a tick due while it still runs is skipped. Errors and
// panics of functions are logged and counted; Redis errors are logged and
// retried until the next tick. It can be called once per Scheduler.
func (s *Scheduler) Run(ctx context.Context) error {
	const op = "queue: schedule run"
	if s.err != nil {
		return redkit.Wrap(op, s.name, s.err)
	}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return redkit.Wrap(op, s.name, errors.New("queue: Scheduler.Run called twice"))
	}
	s.running = true
	entries := s.entries
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() { s.runEntry(ctx, e) })
	}
	wg.Wait()
	return nil
}

func (s *Scheduler) runEntry(ctx context.Context, e *entry) {
	next := e.sched.Next(time.Now())
	for {
		if !sleepUntil(ctx, next) {
			return
		}
		// The latest tick not after now: a process that woke late (or
		// whose fn ran long) goes to it rather than firing a backlog.
		tick := next
		now := time.Now()
		for n := e.sched.Next(tick); !n.After(now) && !n.IsZero(); n = e.sched.Next(tick) {
			tick = n
		}
		s.claim(ctx, e, tick)
		next = e.sched.Next(tick)
		if next.IsZero() {
			return // a spec that never fires again
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// claim tries to fire tick, retrying Redis errors (and waiting for a
// clock running ahead) until the next tick is due.
func (s *Scheduler) claim(ctx context.Context, e *entry, tick time.Time) {
	next := e.sched.Next(tick)
	period := next.Sub(tick)
	ttl := 2*period + s.skew + time.Minute
	args := []string{strconv.FormatInt(tick.UnixMilli(), 10), strconv.FormatInt(ttl.Milliseconds(), 10),
		strconv.FormatInt(max(s.skew.Milliseconds(), 0), 10)}
	delay := 20 * time.Millisecond
	for {
		msg, err := s.k.Exec(ctx, claimScript, []string{e.key}, args)
		if err == nil {
			arr, _ := msg.ToArray()
			if len(arr) == 2 {
				res, _ := arr[0].AsInt64()
				v, _ := arr[1].AsInt64()
				switch res {
				case 1:
					if v >= 0 {
						s.countSkipped(ctx, e, time.UnixMilli(v), tick)
					}
					s.fire(ctx, e, tick)
					return
				case 0:
					s.lost.Add(1)
					return
				default: // our clock is ahead of Redis's by more than MaxSkew
					wait := time.Duration(tick.UnixMilli()-v)*time.Millisecond - s.skew
					if !sleepUntil(ctx, time.Now().Add(max(wait, time.Millisecond))) {
						return
					}
					continue
				}
			}
			err = fmt.Errorf("unexpected script reply %v", msg)
		}
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("queue: schedule: claiming a tick failed", "schedule", s.name, "entry", e.id, "tick", tick, "error", err)
		if time.Now().Add(delay).After(next) {
			s.skipped.Add(1)
			s.m.skipped.Add(context.Background(), 1, s.m.attrs)
			return
		}
		if !sleepUntil(ctx, time.Now().Add(delay)) {
			return
		}
		delay = min(delay*2, time.Second)
	}
}

// countSkipped counts the ticks strictly between last (the previous tick
// fired) and tick.
func (s *Scheduler) countSkipped(_ context.Context, e *entry, last, tick time.Time) {
	var n int64
	for t := e.sched.Next(last); t.Before(tick) && !t.IsZero() && n < 1_000_000; t = e.sched.Next(t) {
		n++
	}
	if n > 0 {
		s.skipped.Add(n)
		s.m.skipped.Add(context.Background(), n, s.m.attrs)
	}
}

func (s *Scheduler) fire(ctx context.Context, e *entry, tick time.Time) {
	s.fired.Add(1)
	s.m.fired.Add(context.Background(), 1, s.m.attrs)
	defer func() {
		if p := recover(); p != nil {
			s.errs.Add(1)
			s.m.failed.Add(context.Background(), 1, s.m.attrs)
			s.logger.Error("queue: schedule: function panicked", "schedule", s.name, "entry", e.id,
				"tick", tick, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	if err := e.fn(context.WithValue(ctx, tickKey{}, tick)); err != nil {
		s.errs.Add(1)
		s.m.failed.Add(context.Background(), 1, s.m.attrs)
		s.logger.Warn("queue: schedule: function failed", "schedule", s.name, "entry", e.id, "tick", tick, "error", err)
	}
}
